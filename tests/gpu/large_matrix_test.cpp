// The case maxStorageBufferRange exists for: a 32000 x 4096 F16 output matrix
// (262 MB) is twice lavapipe's 128 MiB binding range, so it runs as row slabs, each its
// own buffer and dispatch, that together fill the logits.
#include <algorithm>
#include <cstring>

#include "graph/reference_ops.hpp"
#include "runtime/ops/matvec.hpp"
#include "support/gpu.hpp"

namespace vki::test {
namespace {

class LargeMatrix : public GpuTest {};

TEST_F(LargeMatrix, OutputMatrixBeyondTheBindingRangeRunsInSlabs) {
    const uint32_t rows = 32000, k = 4096;
    const uint64_t row_bytes = uint64_t{k} * 2;
    const uint64_t range = device().caps().max_storage_buffer_range;
    const uint32_t rows_per_slab = static_cast<uint32_t>(std::min<uint64_t>(rows, range / row_bytes));
    // Random f16 weights, generated a slab at a time (the whole matrix is never on the host twice).
    std::vector<uint16_t> w(size_t{rows} * k);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto& h : w) h = quant::fp32ToFp16(dist(rng_));
    const std::vector<float> x = randomFloats(k);
    vk::Buffer xb = upload(x, "x");
    vk::Buffer y = poisoned(rows, "logits");
    std::vector<vk::Buffer> slabs;
    vk::CommandBuffer cmd(device(), vk::QueueKind::kCompute);
    cmd.begin();
    for (uint32_t row0 = 0; row0 < rows; row0 += rows_per_slab) {
        const uint32_t n_rows = std::min(rows_per_slab, rows - row0);
        slabs.push_back(memory().createBuffer(n_rows * row_bytes, vk::MemoryKind::kDevice, "slab"));
        transfer().upload(slabs.back(), 0, std::as_bytes(std::span(w).subspan(size_t{row0} * k, size_t{n_rows} * k)));
        ops::recordMatVec(ctx(), cmd,
                          {.dtype = quant::DType::kF16,
                           .k = k,
                           .rows = n_rows,
                           .row0 = row0,
                           .n = 1,
                           .w = vk::wholeRange(slabs.back()),
                           .x = vk::wholeRange(xb),
                           .x_stride = k,
                           .y = vk::wholeRange(y),
                           .y_stride = rows});
    }
    cmd.barrierToHost();
    cmd.end();
    cmd.submitAndWait();
    if (range < rows * row_bytes) {
        EXPECT_GE(slabs.size(), 2u) << "the matrix should not fit one binding";
    }
    const auto got = download(y, rows);
    std::vector<float> expect(rows);
    graph::ref::matMul({.dtype = quant::DType::kF16, .k = k, .rows = rows, .w = std::as_bytes(std::span(w))}, x, 1,
                       expect);
    for (uint32_t r = 0; r < rows; ++r) {
        uint32_t bits;
        std::memcpy(&bits, &got[r], 4);
        ASSERT_NE(bits, kPoison) << "row " << r << " not written";
        // fp32 sums of 4096 products of magnitude <= 1: 1e-5 of sum |w x| (~1000) covers
        // any summation order.
        ASSERT_NEAR(got[r], expect[r], 2e-3f) << "row " << r;
    }
}

}  // namespace
}  // namespace vki::test
