// Fused-dequant matvec and embedding kernels against the CPU reference
// (graph/reference_ops.hpp) on fresh random data, for every weight type: outputs
// poisoned first, padding between columns and a guard tail that must stay poisoned,
// x padded with NaN that must never be read (support/weight_ops.hpp runs the matvecs).
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>

#include "graph/reference_ops.hpp"
#include "runtime/ops/matvec.hpp"
#include "support/weight_ops.hpp"

namespace vki::test {
namespace {

using quant::DType;

// Tolerance of a matvec output, relative to the magnitude of its row's terms. The
// raw codes the kernel decodes are bit-exact (the embed tests check them exactly), so
// the only difference from the fp64 reference is fp32 arithmetic: per 4 weights one
// dot of raw codes, one multiply by the block scale and, for the formats with an
// offset (q4_1, q5_1, q4_K, q5_K), one fma of offset * sum(x); then each invocation
// sums its share of the row serially (at most k / 32 / workgroup * 8 groups), and a
// subgroup and a shared-memory tree add the partial sums. At the k <= 1024 used here
// that is under ~50 roundings of terms no larger than the magnitude, 50 * 2^-24 = 3e-6
// in the worst case, plus ~1e-6 for the RMSNorm prologue (x * g rounded, the scale
// computed in fp32 and applied to the finished sum). The magnitude is sum_i |w_i x'_i|,
// and for the offset formats, whose scale * raw and offset parts can each exceed |w|,
// 3 max_i |w_i| sum_i |x'_i| (|offset| <= max |w| and |scale * raw| <= 2 max |w| for
// the codes our quantizers and random q5 blocks produce, up to f16 rounding). One wrong
// weight of a row would be off by about 1 / k of sum |w x'| (>= 1e-3 relative) and fail.
constexpr double kRelTol = 1e-5;

class MatVec : public WeightOpTest {
protected:
    void runMatVec(const MatMulCase& c) { runProduct(c, ops::recordMatVec, {kRelTol, true}); }

    template <typename Record>
    std::vector<float> run(const vk::Buffer& dst, size_t n, const Record& record) {
        runRecorded(record);
        return download(dst, n);
    }

    void runEmbed(DType dtype, uint32_t k, const std::vector<uint32_t>& slabs, const std::vector<uint32_t>& ids);
};

// Each test below compiles few pipelines (every (type, n, options) is one, and
// lavapipe spends ~0.2 s of LLVM on each): coverage comes from a rotation, not a
// cross product. The kernel's column and row loops do not depend on the weight type.

// Every type with odd row counts and every row length; n = 1, 2, 3, 8 each on a
// float, a 32-element and a K-quant type.
TEST_F(MatVec, EveryTypeMatchesReference) {
    const std::pair<DType, uint32_t> kTypeColumns[] = {
        {DType::kF32, 1},  {DType::kF16, 8},  {DType::kBF16, 3}, {DType::kQ4_0, 1},
        {DType::kQ4_1, 8}, {DType::kQ5_0, 3}, {DType::kQ5_1, 2}, {DType::kQ8_0, 2},
        {DType::kQ4_K, 3}, {DType::kQ5_K, 8}, {DType::kQ6_K, 1},
    };
    static_assert(std::size(kTypeColumns) == quant::kAllDTypes.size());
    const uint32_t kRows[] = {1, 7, 33, 129};
    for (auto [dtype, n] : kTypeColumns) {
        const std::vector<uint32_t> ks = rowLengths(dtype);
        for (size_t i = 0; i < std::size(kRows); ++i) {
            runMatVec({.dtype = dtype, .k = ks[i % ks.size()], .rows = kRows[i], .n = n});
            if (HasFatalFailure()) return;
        }
    }
}

// Each option alone and all combined, on a float type with a tail and on a K-quant.
TEST_F(MatVec, OptionsMatchReference) {
    const std::tuple<DType, uint32_t, uint32_t> kTypes[] = {{DType::kF32, 67, 3}, {DType::kQ4_K, 512, 2}};
    for (auto [dtype, k, n] : kTypes) {
        const uint32_t rows = 33;
        runMatVec({.dtype = dtype, .k = k, .rows = rows, .n = n, .norm = true});
        runMatVec({.dtype = dtype, .k = k, .rows = rows, .n = n, .bias = true});
        runMatVec({.dtype = dtype, .k = k, .rows = rows, .n = n, .glu = true});
        runMatVec({.dtype = dtype, .k = k, .rows = rows, .n = n, .accumulate = true});
        runMatVec({.dtype = dtype,
                   .k = k,
                   .rows = rows,
                   .n = n,
                   .norm = true,
                   .bias = true,
                   .glu = true,
                   .accumulate = true});
        if (HasFatalFailure()) return;
    }
}

// A matrix in 2 or 3 row slabs (separate buffers, row0 > 0) whose dispatches fill y together.
TEST_F(MatVec, SlabsFillTheOutput) {
    runMatVec({.dtype = DType::kQ4_0, .k = 64, .rows = 40, .n = 1, .slabs = {17, 23}});
    runMatVec({.dtype = DType::kQ6_K, .k = 256, .rows = 41, .n = 3, .bias = true, .glu = true, .slabs = {1, 33, 7}});
    runMatVec({.dtype = DType::kF16,
               .k = 45,
               .rows = 30,
               .n = 8,
               .norm = true,
               .bias = true,
               .glu = true,
               .accumulate = true,
               .slabs = {9, 10, 11}});
}

// More workgroups than fit in one grid dimension (maxComputeWorkGroupCount[0] >=
// 65535; the kernel caps x at 65535) where a workgroup takes 2 rows, as on lavapipe
// and the 16- and 64-wide tunings: 2 * 65535 + 3 rows need the y dimension.
TEST_F(MatVec, ManyRowsSpillIntoTheSecondGridDimension) {
    runMatVec({.dtype = DType::kQ4_0, .k = 32, .rows = 65535u * 2 + 3, .n = 1});
}

TEST_F(MatVec, UnsupportedDevicesAreRejected) {
    vk::DeviceCaps caps = device().caps();
    caps.subgroup_ops |= VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    caps.subgroup_in_compute = true;
    caps.storage_buffer_16bit = false;
    EXPECT_NO_THROW(ops::checkMatVecSupport(caps, DType::kF32));  // 32-bit loads only
    try {
        ops::checkMatVecSupport(caps, DType::kQ4_K);
        FAIL() << "no error without 16-bit storage";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("16-bit storage"), std::string::npos) << e.what();
    }
    caps.storage_buffer_16bit = true;
    caps.subgroup_ops &= ~VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    try {
        ops::checkMatVecSupport(caps, DType::kF32);
        FAIL() << "no error without subgroup arithmetic";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("subgroup arithmetic"), std::string::npos) << e.what();
    }
}

void MatVec::runEmbed(DType dtype, uint32_t k, const std::vector<uint32_t>& slabs, const std::vector<uint32_t>& ids) {
    const uint32_t rows = std::accumulate(slabs.begin(), slabs.end(), 0u);
    const auto n = static_cast<uint32_t>(ids.size());
    SCOPED_TRACE(std::string(quant::traits(dtype).name) + " k " + std::to_string(k) + " rows " + std::to_string(rows) +
                 " n " + std::to_string(n));
    const uint64_t row_bytes = quant::byteSize(dtype, k);
    const uint32_t y_stride = k + kYPad;
    const std::vector<std::byte> table = randomWeights(dtype, rows, k);
    std::vector<vk::Buffer> gtable;
    for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++])
        gtable.push_back(uploadBytes(std::span(table).subspan(row0 * row_bytes, slabs[s] * row_bytes), "table slab"));
    vk::Buffer gids = uploadBytes(std::as_bytes(std::span(ids)), "ids");
    vk::Buffer gy = poisoned(size_t{n} * y_stride + kGuard, "y");

    const auto out = run(gy, size_t{n} * y_stride + kGuard, [&](vk::CommandBuffer& cmd) {
        for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
            ops::EmbedArgs a;
            a.dtype = dtype;
            a.k = k;
            a.rows = slabs[s];
            a.row0 = row0;
            a.n = n;
            a.table = vk::wholeRange(gtable[s]);
            a.ids = vk::wholeRange(gids);
            a.y = vk::wholeRange(gy);
            a.y_stride = y_stride;
            ops::recordEmbed(ctx(), cmd, a);
        }
    });
    std::vector<float> ref(size_t{n} * k);
    graph::ref::embed(dtype, table, rows, k, ids, ref);
    for (uint32_t c = 0; c < n; ++c) {
        // Bit-exact: the decoders repeat the reference's operations without contraction.
        ASSERT_EQ(std::memcmp(&out[size_t{c} * y_stride], &ref[size_t{c} * k], size_t{k} * 4), 0)
            << "column " << c << " (id " << ids[c] << ")";
        for (uint32_t i = k; i < y_stride; ++i) ASSERT_TRUE(isPoison(out[size_t{c} * y_stride + i])) << "padding";
    }
    for (size_t i = size_t{n} * y_stride; i < out.size(); ++i) ASSERT_TRUE(isPoison(out[i])) << "wrote past the end";
}

// Every type, ids spread over three slabs (first and last rows of each included).
TEST_F(MatVec, EmbedEveryTypeIsExact) {
    const std::vector<uint32_t> slabs = {13, 11, 13};
    std::vector<uint32_t> ids = {0, 12, 13, 23, 24, 36, 5, 5};
    std::uniform_int_distribution<uint32_t> any(0, 36);
    for (int i = 0; i < 5; ++i) ids.push_back(any(rng_));
    for (DType dtype : quant::kAllDTypes) {
        for (uint32_t k : rowLengths(dtype)) runEmbed(dtype, k, slabs, ids);
        if (HasFatalFailure()) return;
    }
}

// A slab leaves the columns whose ids lie in other slabs untouched.
TEST_F(MatVec, EmbedSkipsIdsOutsideItsSlab) {
    const uint32_t k = 64;
    const uint64_t row_bytes = quant::byteSize(DType::kQ8_0, k);
    const std::vector<std::byte> table = randomWeights(DType::kQ8_0, 10, k);
    const std::vector<uint32_t> ids = {3, 9, 4, 2, 0, 7};  // the slab holds rows 3..6
    vk::Buffer gtable = uploadBytes(std::span(table).subspan(3 * row_bytes, 4 * row_bytes), "table slab");
    vk::Buffer gids = uploadBytes(std::as_bytes(std::span(ids)), "ids");
    vk::Buffer gy = poisoned(ids.size() * k, "y");
    const auto out = run(gy, ids.size() * k, [&](vk::CommandBuffer& cmd) {
        ops::EmbedArgs a;
        a.dtype = DType::kQ8_0;
        a.k = k;
        a.rows = 4;
        a.row0 = 3;
        a.n = static_cast<uint32_t>(ids.size());
        a.table = vk::wholeRange(gtable);
        a.ids = vk::wholeRange(gids);
        a.y = vk::wholeRange(gy);
        a.y_stride = k;
        ops::recordEmbed(ctx(), cmd, a);
    });
    std::vector<float> ref(ids.size() * k);
    graph::ref::embed(DType::kQ8_0, table, 10, k, ids, ref);
    for (size_t c = 0; c < ids.size(); ++c) {
        const bool inside = ids[c] >= 3 && ids[c] < 7;
        for (uint32_t i = 0; i < k; ++i) {
            if (inside) {
                ASSERT_EQ(out[c * k + i], ref[c * k + i]) << "column " << c;
            } else {
                ASSERT_TRUE(isPoison(out[c * k + i])) << "column " << c << " has an id outside the slab";
            }
        }
    }
}

}  // namespace
}  // namespace vki::test
