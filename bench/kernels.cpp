// Kernel micro-benchmarks: GPU time per dispatch (timestamps) of the streaming
// kernels at the op-test sizes, and of the decode matvec per weight type, as bytes/s. VKINFER_DEVICE picks the device.
//   vkinfer_bench_kernels [--benchmark_filter=copy] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "common/error.hpp"
#include "gpu/op_cases.hpp"
#include "quant/quant.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/matvec.hpp"
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

// One decode matvec (n = 1) over a 4096 x 4096 weight matrix; bytes/s counts weight
// bytes, the traffic that bounds decoding. Weights are every 16-bit word 0x3C00
// (f16 1.0: finite values and scales in every format), x is all 1.0.
void matvec(benchmark::State& state, quant::DType dtype) {
    constexpr uint32_t kDim = 4096;
    Context& c = context();
    try {
        ops::checkMatVecSupport(c.device.caps(), dtype);
    } catch (const Error& e) {
        state.SkipWithError(e.what());
        return;
    }
    const uint64_t w_bytes = quant::byteSize(dtype, uint64_t{kDim} * kDim);
    vk::Buffer w = c.memory.createBuffer(w_bytes, vk::MemoryKind::kDevice, "w");
    vk::Buffer x = c.memory.createBuffer(kDim * 4, vk::MemoryKind::kDevice, "x");
    vk::Buffer y = c.memory.createBuffer(kDim * 4, vk::MemoryKind::kDevice, "y");
    c.cmd.begin();
    c.cmd.fill(vk::wholeRange(w), 0x3C003C00u);
    c.cmd.fill(vk::wholeRange(x), 0x3F800000u);
    c.cmd.barrier();
    c.cmd.end();
    c.cmd.submitAndWait();
    ops::MatVecArgs args;
    args.dtype = dtype;
    args.k = kDim;
    args.rows = kDim;
    args.w = vk::wholeRange(w);
    args.x = vk::wholeRange(x);
    args.y = vk::wholeRange(y);
    runTimed(state, w_bytes, [&](Context& ctx) { ops::recordMatVec(ctx.ctx, ctx.cmd, args); });
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
BENCHMARK_CAPTURE(matvec, q4_0_4096x4096, quant::DType::kQ4_0)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(matvec, q8_0_4096x4096, quant::DType::kQ8_0)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(matvec, q4_K_4096x4096, quant::DType::kQ4_K)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(matvec, q6_K_4096x4096, quant::DType::kQ6_K)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(matvec, f16_4096x4096, quant::DType::kF16)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
