// Kernel micro-benchmarks: GPU time per dispatch (timestamps) of the streaming
// kernels at the op-test sizes, and of the decode matvec per weight type, as bytes/s;
// of the prefill matmul against matvecs of 8 columns, as FLOP/s. VKINFER_DEVICE picks the device.
//   vkinfer_bench_kernels [--benchmark_filter=copy] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "common/error.hpp"
#include "gpu/op_cases.hpp"
#include "quant/quant.hpp"
#include "runtime/kv/kv_cache.hpp"
#include "runtime/ops/attention.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/matmul.hpp"
#include "runtime/ops/matmul_int8.hpp"
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
    vk::DescriptorArena arena{device, 64, 320};  // matvec8: 64 dispatches of 5 buffers
    ops::OpContext ctx{device, kernels, arena};
    vk::CommandBuffer cmd{device, vk::QueueKind::kCompute};
    vk::TimestampPool timestamps{device, 2};
};

Context& context() {
    static Context c;
    return c;
}

// Times `record` on the GPU per iteration; `bytes` moved per dispatch (0: not reported).
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
    if (bytes != 0) state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
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

// A prompt chunk of n columns through a dim x dim weight matrix (args: dim, n), as
// FLOP/s (2 dim^2 n per pass). Weights and x as in matvec above. `record` is handed
// the arguments for all n columns.
template <typename Record>
void prefill(benchmark::State& state, quant::DType dtype, const Record& record) {
    const auto dim = uint32_t(state.range(0));
    const auto n = uint32_t(state.range(1));
    Context& c = context();
    try {
        ops::checkMatMulSupport(c.device.caps(), dtype);
        ops::checkMatVecSupport(c.device.caps(), dtype);
    } catch (const Error& e) {
        state.SkipWithError(e.what());
        return;
    }
    vk::Buffer w = c.memory.createBuffer(quant::byteSize(dtype, uint64_t{dim} * dim), vk::MemoryKind::kDevice, "w");
    vk::Buffer x = c.memory.createBuffer(uint64_t{dim} * n * 4, vk::MemoryKind::kDevice, "x");
    vk::Buffer y = c.memory.createBuffer(uint64_t{dim} * n * 4, vk::MemoryKind::kDevice, "y");
    c.cmd.begin();
    c.cmd.fill(vk::wholeRange(w), 0x3C003C00u);
    c.cmd.fill(vk::wholeRange(x), 0x3F800000u);
    c.cmd.barrier();
    c.cmd.end();
    c.cmd.submitAndWait();
    ops::MatVecArgs args;
    args.dtype = dtype;
    args.k = dim;
    args.rows = dim;
    args.n = n;
    args.w = vk::wholeRange(w);
    args.x = vk::wholeRange(x);
    args.x_stride = dim;
    args.y = vk::wholeRange(y);
    args.y_stride = dim;
    runTimed(state, 0, [&](Context& ctx) { record(ctx, args); });
    state.counters["FLOP/s"] =
        benchmark::Counter(2.0 * dim * dim * n * double(state.iterations()), benchmark::Counter::kIsRate);
}

// The prefill kernel: one dispatch for all n columns.
void matmul(benchmark::State& state, quant::DType dtype) {
    prefill(state, dtype, [](Context& ctx, const ops::MatVecArgs& a) { ops::recordMatMul(ctx.ctx, ctx.cmd, a); });
}

// The decode kernel at its widest: n / 8 dispatches of 8 columns each (n a multiple of 8).
void matvec8(benchmark::State& state, quant::DType dtype) {
    prefill(state, dtype, [](Context& ctx, const ops::MatVecArgs& a) {
        for (uint32_t c0 = 0; c0 < a.n; c0 += ops::kMaxMatVecColumns) {
            ops::MatVecArgs part = a;
            part.n = ops::kMaxMatVecColumns;
            const uint64_t bytes = uint64_t{part.n} * a.k * 4;
            part.x = {a.x.buffer, uint64_t{c0} * a.k * 4, bytes};
            part.y = {a.y.buffer, uint64_t{c0} * a.rows * 4, bytes};
            ops::recordMatVec(ctx.ctx, ctx.cmd, part);
        }
    });
}

// The integer dot-product path: quantize the chunk to q8_1, then one int8 matmul.
void matmulQ8_1(benchmark::State& state, quant::DType dtype) {
    Context& c = context();
    try {
        ops::checkIntDotSupport(c.device.caps(), dtype);
    } catch (const Error& e) {
        state.SkipWithError(e.what());
        return;
    }
    vk::Buffer q = c.memory.createBuffer(ops::q8_1Bytes(uint32_t(state.range(0)), uint32_t(state.range(1))),
                                         vk::MemoryKind::kDevice, "q8_1 x");
    prefill(state, dtype, [&](Context& ctx, const ops::MatVecArgs& a) {
        ops::recordQuantizeQ8_1(ctx.ctx, ctx.cmd, a.x, a.x_stride, a.k, a.n, vk::wholeRange(q));
        ctx.cmd.barrier();
        ops::recordMatMulQ8_1(ctx.ctx, ctx.cmd, a, vk::wholeRange(q));
    });
}

// Attention of a 512-token prompt chunk at positions 0..511 of one sequence (32 q
// heads, 8 kv heads, head_dim 128, pages of 16 tokens): the prefill kernel, or the
// decode kernel (split + reduce) on the same inputs. Bytes/s counts q, the output
// and the chunk's K/V once; flop/s the causal scores and value sums (2 x 2 x head_dim
// per score).
void attentionPrefill(benchmark::State& state, bool flash) {
    constexpr uint32_t kN = 512, kPageTokens = 16;
    const ops::HeadShape heads{32, 8, 128};
    const uint32_t q_dim = heads.q_heads * heads.head_dim;
    Context& c = context();
    kv::KvCache cache(c.memory, {1, heads.kv_heads, heads.head_dim, kPageTokens}, kN / kPageTokens, 1, kN);
    cache.reserve(0, kN);
    vk::Buffer positions = c.memory.createBuffer(kN * 4, vk::MemoryKind::kUpload, "positions");
    vk::Buffer slots = c.memory.createBuffer(kN * 4, vk::MemoryKind::kUpload, "slots");
    vk::Buffer table = c.memory.createBuffer(cache.pageTables().size_bytes(), vk::MemoryKind::kUpload, "page table");
    std::vector<uint32_t> at(kN);
    std::iota(at.begin(), at.end(), 0u);
    std::memcpy(positions.mapped(), at.data(), kN * 4);
    std::memset(slots.mapped(), 0, kN * 4);
    std::memcpy(table.mapped(), cache.pageTables().data(), cache.pageTables().size_bytes());
    vk::Buffer q = c.memory.createBuffer(uint64_t{kN} * q_dim * 4, vk::MemoryKind::kDevice, "q");
    vk::Buffer out = c.memory.createBuffer(uint64_t{kN} * q_dim * 4, vk::MemoryKind::kDevice, "out");
    const ops::AttentionSplit split = ops::attentionSplit(c.device.caps(), kN);
    vk::Buffer partials =
        c.memory.createBuffer(ops::attentionPartialFloats(heads, split, kN) * 4, vk::MemoryKind::kDevice, "partials");
    c.cmd.begin();
    c.cmd.fill(vk::wholeRange(q), 0x3DCCCCCDu);               // 0.1f
    c.cmd.fill(vk::wholeRange(cache.layer(0)), 0x3C003C00u);  // f16 1.0
    c.cmd.barrier();
    c.cmd.end();
    c.cmd.submitAndWait();
    const ops::TokenPlacement placement{vk::wholeRange(positions), vk::wholeRange(slots), vk::wholeRange(table),
                                        cache.maxPages(), kPageTokens};
    const float scale = 1.0f / std::sqrt(float(heads.head_dim));
    const uint64_t bytes = 2ull * kN * q_dim * 4 + uint64_t{kN} * heads.kv_heads * heads.head_dim * 2 * 2;
    runTimed(state, bytes, [&](Context& ctx) {
        if (flash) {
            ops::recordFlashAttention(ctx.ctx, ctx.cmd,
                                      {.n = kN,
                                       .heads = heads,
                                       .scale = scale,
                                       .q = {vk::wholeRange(q), q_dim, 0},
                                       .out = {vk::wholeRange(out), q_dim, 0},
                                       .tokens = placement,
                                       .cache = vk::wholeRange(cache.layer(0))});
        } else {
            ops::recordAttention(ctx.ctx, ctx.cmd,
                                 {.n = kN,
                                  .heads = heads,
                                  .scale = scale,
                                  .split = split,
                                  .q = {vk::wholeRange(q), q_dim, 0},
                                  .out = {vk::wholeRange(out), q_dim, 0},
                                  .tokens = placement,
                                  .cache = vk::wholeRange(cache.layer(0)),
                                  .partials = vk::wholeRange(partials)});
        }
    });
    const double scores = double(heads.q_heads) * kN * (kN + 1) / 2;
    state.counters["flop"] =
        benchmark::Counter(double(state.iterations()) * scores * 4 * heads.head_dim, benchmark::Counter::kIsRate);
}

// 4096^2 is a 7B model's attention projection; 1024^2 keeps CPU implementations quick.
void prefillShapes(benchmark::internal::Benchmark* b) {
    for (int64_t dim : {4096, 1024})
        for (int64_t n : {512, 128}) b->Args({dim, n});
    b->ArgNames({"dim", "n"})->UseManualTime()->Unit(benchmark::kMillisecond);
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
BENCHMARK_CAPTURE(matmul, q4_0, quant::DType::kQ4_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmul, q8_0, quant::DType::kQ8_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmul, q4_K, quant::DType::kQ4_K)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmul, q6_K, quant::DType::kQ6_K)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmul, f16, quant::DType::kF16)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmulQ8_1, q4_0, quant::DType::kQ4_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matmulQ8_1, q8_0, quant::DType::kQ8_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matvec8, q4_0, quant::DType::kQ4_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matvec8, q8_0, quant::DType::kQ8_0)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matvec8, q4_K, quant::DType::kQ4_K)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matvec8, q6_K, quant::DType::kQ6_K)->Apply(prefillShapes);
BENCHMARK_CAPTURE(matvec8, f16, quant::DType::kF16)->Apply(prefillShapes);
BENCHMARK_CAPTURE(attentionPrefill, flash_n512_32q8kv128, true)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(attentionPrefill, decode_n512_32q8kv128, false)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
