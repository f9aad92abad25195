// Kernel micro-benchmarks: GPU time per dispatch (timestamps) of the streaming
// kernels at the op-test sizes, as bytes/s. VKINFER_DEVICE picks the device.
//   vkinfer_bench_kernels [--benchmark_filter=copy] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "gpu/op_cases.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/reduce.hpp"
#include "runtime/vk/command.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/memory.hpp"

namespace {

using namespace vki;

struct Context {
    vk::Instance instance;
    vk::Device device{instance, std::getenv("VKINFER_DEVICE") ? std::getenv("VKINFER_DEVICE") : "auto"};
    vk::MemoryAllocator memory{device};
    vk::PipelineCache pipelines{device};
    ops::KernelCache kernels{device, pipelines.handle()};
    vk::DescriptorArena arena{device, 8, 16};
    ops::OpContext ctx{device, kernels, arena};
    vk::CommandBuffer cmd{device, vk::QueueKind::kCompute};
    vk::TimestampPool timestamps{device, 2};
};

Context& context() {
    static Context c;
    return c;
}

// Times `record` on the GPU per iteration; `bytes` moved per dispatch.
template <typename Record>
void runTimed(benchmark::State& state, uint64_t bytes, const Record& record) {
    Context& c = context();
    for (auto _ : state) {
        c.arena.reset();
        c.cmd.begin();
        c.cmd.resetTimestamps(c.timestamps);
        c.cmd.timestamp(c.timestamps, 0);
        record(c);
        c.cmd.timestamp(c.timestamps, 1);
        c.cmd.end();
        c.cmd.submitAndWait();
        state.SetIterationTime(c.timestamps.elapsedNs(0, 1) / 1e9);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

void copy(benchmark::State& state) {
    const uint64_t n = uint64_t(state.range(0));
    Context& c = context();
    vk::Buffer src = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "src");
    vk::Buffer dst = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "dst");
    runTimed(state, 2 * n * 4,
             [&](Context& ctx) { ops::recordCopy(ctx.ctx, ctx.cmd, vk::wholeRange(src), vk::wholeRange(dst), n); });
}

void add(benchmark::State& state) {
    const uint64_t n = uint64_t(state.range(0));
    Context& c = context();
    vk::Buffer a = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "a");
    vk::Buffer b = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "b");
    vk::Buffer dst = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "dst");
    runTimed(state, 3 * n * 4, [&](Context& ctx) {
        ops::recordBinary(ctx.ctx, ctx.cmd, ops::BinaryOp::kAdd, vk::wholeRange(a), vk::wholeRange(b),
                          vk::wholeRange(dst), n, n);
    });
}

void sum(benchmark::State& state) {
    const uint64_t n = uint64_t(state.range(0));
    Context& c = context();
    vk::Buffer src = c.memory.createBuffer(n * 4, vk::MemoryKind::kDevice, "src");
    vk::Buffer scratch =
        c.memory.createBuffer(ops::reduceScratchCount(c.device.caps(), n) * 4ull, vk::MemoryKind::kDevice, "scratch");
    vk::Buffer dst = c.memory.createBuffer(4, vk::MemoryKind::kDevice, "dst");
    runTimed(state, n * 4, [&](Context& ctx) {
        ops::recordReduce(ctx.ctx, ctx.cmd, ops::ReduceOp::kSum, vk::wholeRange(src), vk::wholeRange(scratch),
                          vk::wholeRange(dst), n);
    });
}

void sizes(benchmark::internal::Benchmark* b) {
    for (size_t n : vki::test::kStreamingSizes)
        if (n >= 4096) b->Arg(int64_t(n));
    b->Arg(int64_t(vki::test::kGridStrideSize));
    b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(copy)->Apply(sizes);
BENCHMARK(add)->Apply(sizes);
BENCHMARK(sum)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
