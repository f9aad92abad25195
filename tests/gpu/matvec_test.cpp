// Fused-dequant matvec and embedding kernels against the CPU reference
// (graph/reference_ops.hpp) on fresh random data, for every weight type: outputs
// poisoned first, padding between columns and a guard tail that must stay poisoned,
// x padded with NaN that must never be read.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>

#include "graph/reference_ops.hpp"
#include "runtime/ops/matvec.hpp"
#include "support/gpu.hpp"

namespace vki::test {
namespace {

using quant::DType;

constexpr size_t kGuard = 67;  // floats after the output that no kernel may touch
constexpr uint32_t kXPad = 3;  // NaN floats after each column of x
constexpr uint32_t kYPad = 5;  // poisoned floats after each column of y

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
// Final fp32 roundings (bias add, accumulate) and, with SwiGLU, exp() (3 + 2|v| ulp
// in GLSL) and the division in silu: relative to the value itself.
constexpr double kFinalTol = 1e-6;
constexpr double kSiluTol = 1e-5;

bool isPoison(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits == kPoison;
}

float poisonFloat() {
    float f;
    std::memcpy(&f, &kPoison, 4);
    return f;
}

// Formats whose weights are scale * code + offset (see the tolerance above).
bool hasOffset(DType dtype) {
    return dtype == DType::kQ4_1 || dtype == DType::kQ5_1 || dtype == DType::kQ4_K || dtype == DType::kQ5_K;
}

double silu(double v) {
    return v / (1.0 + std::exp(-v));
}

struct MatVecCase {
    DType dtype = DType::kF32;
    uint32_t k = 0;
    uint32_t rows = 0;
    uint32_t n = 1;
    bool norm = false;
    bool bias = false;
    bool glu = false;
    bool accumulate = false;
    std::vector<uint32_t> slabs;  // rows of each slab (separate buffers); empty: one slab

    std::string name() const {
        std::string s = std::string(quant::traits(dtype).name) + " k " + std::to_string(k) + " rows " +
                        std::to_string(rows) + " n " + std::to_string(n);
        if (norm) s += " norm";
        if (bias) s += " bias";
        if (glu) s += " glu";
        if (accumulate) s += " accumulate";
        if (!slabs.empty()) s += " slabs " + std::to_string(slabs.size());
        return s;
    }
};

class MatVec : public GpuTest {
protected:
    // rows x k weights of `dtype`: random floats quantized, or, for the types that
    // only dequantize (q5_0, q5_1), random codes under random f16 scales.
    std::vector<std::byte> randomWeights(DType dtype, uint32_t rows, uint32_t k) {
        std::vector<std::byte> bytes(quant::byteSize(dtype, uint64_t{rows} * k));
        if (dtype == DType::kQ5_0 || dtype == DType::kQ5_1) {
            std::uniform_int_distribution<int> byte(0, 255);
            for (auto& b : bytes) b = static_cast<std::byte>(byte(rng_));
            const size_t block_bytes = quant::traits(dtype).block_bytes;
            const auto scales = randomFloats(2 * bytes.size() / block_bytes, -0.1f, 0.1f);
            for (size_t b = 0, i = 0; b < bytes.size(); b += block_bytes) {
                for (int field = 0; field < (dtype == DType::kQ5_1 ? 2 : 1); ++field) {
                    const uint16_t h = quant::fp32ToFp16(scales[i++]);
                    bytes[b + 2 * field] = static_cast<std::byte>(h & 0xFF);
                    bytes[b + 2 * field + 1] = static_cast<std::byte>(h >> 8);
                }
            }
        } else {
            quant::quantize(dtype, randomFloats(size_t{rows} * k), bytes);
        }
        return bytes;
    }

    vk::Buffer uploadBytes(std::span<const std::byte> bytes, const char* label) {
        vk::Buffer b = memory().createBuffer(bytes.size(), vk::MemoryKind::kDevice, label);
        transfer().upload(b, 0, bytes);
        return b;
    }

    template <typename Record>
    std::vector<float> run(const vk::Buffer& dst, size_t n, const Record& record) {
        runRecorded(record);
        return download(dst, n);
    }

    void runMatVec(const MatVecCase& c);
    void runEmbed(DType dtype, uint32_t k, const std::vector<uint32_t>& slabs, const std::vector<uint32_t>& ids);
};

void MatVec::runMatVec(const MatVecCase& c) {
    SCOPED_TRACE(c.name());
    const uint32_t x_stride = c.k + kXPad;
    const uint32_t y_stride = c.rows + kYPad;
    const uint64_t row_bytes = quant::byteSize(c.dtype, c.k);

    const std::vector<std::byte> w = randomWeights(c.dtype, c.rows, c.k);
    const std::vector<std::byte> up = c.glu ? randomWeights(c.dtype, c.rows, c.k) : std::vector<std::byte>{};
    // x: n columns of k floats, x_stride apart, NaN in between; x_compact: the reference's n x k.
    const std::vector<float> x_compact = randomFloats(size_t{c.n} * c.k);
    std::vector<float> x(size_t{c.n} * x_stride, poisonFloat());
    for (uint32_t col = 0; col < c.n; ++col)
        std::copy_n(&x_compact[size_t{col} * c.k], c.k, &x[size_t{col} * x_stride]);
    const std::vector<float> norm = c.norm ? randomFloats(c.k, 0.5f, 1.5f) : std::vector<float>{};
    const std::vector<float> bias = c.bias ? randomFloats(c.rows) : std::vector<float>{};
    // y: n columns of rows floats, y_stride apart; poisoned, or random where accumulated into.
    std::vector<float> y0(size_t{c.n} * y_stride + kGuard, poisonFloat());
    std::vector<float> ref(size_t{c.n} * c.rows);
    if (c.accumulate) {
        ref = randomFloats(ref.size());
        for (uint32_t col = 0; col < c.n; ++col)
            std::copy_n(&ref[size_t{col} * c.rows], c.rows, &y0[size_t{col} * y_stride]);
    }

    vk::Buffer gx = upload(x, "x");
    vk::Buffer gy = upload(y0, "y");
    vk::Buffer gnorm = c.norm ? upload(norm, "norm") : vk::Buffer{};
    vk::Buffer gbias = c.bias ? upload(bias, "bias") : vk::Buffer{};
    std::vector<uint32_t> slabs = c.slabs.empty() ? std::vector<uint32_t>{c.rows} : c.slabs;
    ASSERT_EQ(std::accumulate(slabs.begin(), slabs.end(), 0u), c.rows);
    std::vector<vk::Buffer> gw, gup;
    for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
        gw.push_back(uploadBytes(std::span(w).subspan(row0 * row_bytes, slabs[s] * row_bytes), "w slab"));
        if (c.glu) gup.push_back(uploadBytes(std::span(up).subspan(row0 * row_bytes, slabs[s] * row_bytes), "up slab"));
    }

    const auto out = run(gy, y0.size(), [&](vk::CommandBuffer& cmd) {
        for (uint32_t s = 0, row0 = 0; s < slabs.size(); row0 += slabs[s++]) {
            ops::MatVecArgs a;
            a.dtype = c.dtype;
            a.k = c.k;
            a.rows = slabs[s];
            a.row0 = row0;
            a.n = c.n;
            a.w = vk::wholeRange(gw[s]);
            if (c.glu) a.up = vk::wholeRange(gup[s]);
            a.x = vk::wholeRange(gx);
            a.x_stride = x_stride;
            a.y = vk::wholeRange(gy);
            a.y_stride = y_stride;
            if (c.norm) a.norm = vk::wholeRange(gnorm);
            a.eps = 1e-5f;
            if (c.bias) a.bias = vk::wholeRange(gbias);
            a.accumulate = c.accumulate;
            ops::recordMatVec(ctx(), cmd, a);
        }
    });

    graph::ref::MatMul m;
    m.dtype = c.dtype;
    m.k = c.k;
    m.rows = c.rows;
    m.w = w;
    m.up = up;
    m.norm = norm;
    m.eps = 1e-5f;
    m.bias = bias;
    m.accumulate = c.accumulate;
    graph::ref::matMul(m, x_compact, c.n, ref);

    // Magnitudes for the tolerance: sum |w * x'| (and the values v, u) per row.
    const std::vector<float> wd = graph::ref::dequantRows(c.dtype, w, c.rows, c.k);
    const std::vector<float> ud = c.glu ? graph::ref::dequantRows(c.dtype, up, c.rows, c.k) : std::vector<float>{};
    std::vector<float> xn(c.k);
    for (uint32_t col = 0; col < c.n; ++col) {
        const auto xc = std::span(x_compact).subspan(size_t{col} * c.k, c.k);
        if (c.norm) {
            graph::ref::rmsNorm(xc, norm, 1e-5f, xn);
        } else {
            std::copy(xc.begin(), xc.end(), xn.begin());
        }
        for (uint32_t r = 0; r < c.rows; ++r) {
            double sw = 0, v = 0, su = 0, u = 0, wmax = 0, umax = 0, xabs = 0;
            for (uint32_t i = 0; i < c.k; ++i) {
                xabs += std::fabs(xn[i]);
                wmax = std::max(wmax, std::fabs(double{wd[size_t{r} * c.k + i]}));
                if (c.glu) umax = std::max(umax, std::fabs(double{ud[size_t{r} * c.k + i]}));
                sw += std::fabs(double{wd[size_t{r} * c.k + i]} * xn[i]);
                v += double{wd[size_t{r} * c.k + i]} * xn[i];
                if (c.glu) {
                    su += std::fabs(double{ud[size_t{r} * c.k + i]} * xn[i]);
                    u += double{ud[size_t{r} * c.k + i]} * xn[i];
                }
            }
            if (hasOffset(c.dtype)) {
                sw = std::max(sw, 3 * wmax * xabs);
                su = std::max(su, 3 * umax * xabs);
            }
            if (c.bias) v += bias[r];
            const double expect = ref[size_t{col} * c.rows + r];
            double tol = kRelTol * sw + kFinalTol * (std::fabs(expect) + std::fabs(v)) + 1e-30;
            if (c.glu) {
                // d(silu(v) * u) = silu'(v) u dv + silu(v) du, |silu'| < 1.1.
                tol = kRelTol * (1.1 * sw * std::fabs(u) + std::fabs(silu(v)) * su) +
                      (kSiluTol + kFinalTol) * (std::fabs(expect) + std::fabs(silu(v) * u)) + 1e-30;
            }
            const float got = out[size_t{col} * y_stride + r];
            ASSERT_FALSE(isPoison(got)) << "not written: column " << col << " row " << r;
            ASSERT_NEAR(got, expect, tol) << "column " << col << " row " << r;
        }
        for (uint32_t r = c.rows; r < y_stride; ++r)
            ASSERT_TRUE(isPoison(out[size_t{col} * y_stride + r])) << "wrote padding: column " << col << " at " << r;
    }
    for (size_t i = size_t{c.n} * y_stride; i < out.size(); ++i) ASSERT_TRUE(isPoison(out[i])) << "wrote past the end";
}

// Block multiples for a type: one block, several; plain floats also take odd lengths.
std::vector<uint32_t> rowLengths(DType dtype) {
    const uint32_t block = quant::traits(dtype).block_elements;
    if (block == 1) return {1, 32, 67, 200};
    if (block == 32) return {32, 160};
    return {256, 768};
}

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
