// Type table, name and id lookups, byte sizes, and the errors of the checked entry points.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "quant/blocks.h"
#include "quant/quant.hpp"
#include "quant/quant_test_util.hpp"

namespace vki::quant {
namespace {

using test::quantized;

struct Expected {
    DType type;
    uint32_t ggml_id;
    const char* name;
    uint32_t block_elements;
    uint32_t block_bytes;
    bool quantizable;
};

// Sizes from ggml-common.h: sizeof(block_q4_0) == 18, ..., sizeof(block_q6_K) == 210.
constexpr Expected kExpected[] = {
    {DType::kF32, 0, "f32", 1, 4, true},        {DType::kF16, 1, "f16", 1, 2, true},
    {DType::kQ4_0, 2, "q4_0", 32, 18, true},    {DType::kQ4_1, 3, "q4_1", 32, 20, true},
    {DType::kQ5_0, 6, "q5_0", 32, 22, false},   {DType::kQ5_1, 7, "q5_1", 32, 24, false},
    {DType::kQ8_0, 8, "q8_0", 32, 34, true},    {DType::kQ4_K, 12, "q4_K", 256, 144, true},
    {DType::kQ5_K, 13, "q5_K", 256, 176, true}, {DType::kQ6_K, 14, "q6_K", 256, 210, true},
    {DType::kBF16, 30, "bf16", 1, 2, true},
};

TEST(QuantTraits, MatchGgml) {
    ASSERT_EQ(std::size(kExpected), kAllDTypes.size());
    for (const Expected& e : kExpected) {
        SCOPED_TRACE(e.name);
        EXPECT_EQ(static_cast<uint32_t>(e.type), e.ggml_id);
        const TypeTraits& t = traits(e.type);
        EXPECT_STREQ(t.name, e.name);
        EXPECT_EQ(t.block_elements, e.block_elements);
        EXPECT_EQ(t.block_bytes, e.block_bytes);
        EXPECT_EQ(t.quantizable, e.quantizable);
        EXPECT_EQ(dtypeFromGgml(e.ggml_id), e.type);
        EXPECT_EQ(dtypeFromName(e.name), e.type);
    }
    EXPECT_EQ(VKI_QK_K, 256);
    EXPECT_EQ(VKI_K_SCALE_SIZE, 12);
}

TEST(QuantTraits, UnknownIdsAndNames) {
    // Ids of ggml types this module does not handle (Q8_1, Q2_K, Q3_K, Q8_K, IQ*, I8..I64, F64, ...).
    for (uint32_t id : {4u, 5u, 9u, 10u, 11u, 15u, 16u, 24u, 28u, 29u, 31u, 39u, 1000u, 0xFFFFFFFFu}) {
        EXPECT_FALSE(dtypeFromGgml(id).has_value()) << id;
    }
    for (const char* name : {"", "q4", "q4_k_m", "f64", "q8_1", " q4_0", "q4_0 "}) {
        EXPECT_FALSE(dtypeFromName(name).has_value()) << '"' << name << '"';
    }
}

TEST(QuantTraits, NamesAreCaseInsensitive) {
    EXPECT_EQ(dtypeFromName("Q4_K"), DType::kQ4_K);
    EXPECT_EQ(dtypeFromName("q4_k"), DType::kQ4_K);
    EXPECT_EQ(dtypeFromName("BF16"), DType::kBF16);
    EXPECT_EQ(dtypeFromName("Q8_0"), DType::kQ8_0);
    EXPECT_EQ(dtypeFromName("F32"), DType::kF32);
}

TEST(QuantByteSize, WholeBlocks) {
    EXPECT_EQ(byteSize(DType::kF32, 0), 0u);
    EXPECT_EQ(byteSize(DType::kF32, 3), 12u);
    EXPECT_EQ(byteSize(DType::kBF16, 3), 6u);
    EXPECT_EQ(byteSize(DType::kQ4_0, 4096), 128u * 18u);
    EXPECT_EQ(byteSize(DType::kQ8_0, 64), 68u);
    EXPECT_EQ(byteSize(DType::kQ4_K, 4096), 16u * 144u);
    EXPECT_EQ(byteSize(DType::kQ6_K, 256), 210u);
    EXPECT_EQ(byteSize(DType::kF32, uint64_t{1} << 61), uint64_t{1} << 63);
}

void expectError(ErrorCode code, const std::function<void()>& call, const char* what) {
    try {
        call();
        ADD_FAILURE() << what << ": no exception";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << what << ": " << e.what();
        EXPECT_GT(std::strlen(e.what()), 20u) << "the message says what went wrong";
    }
}

TEST(QuantByteSize, RejectsPartialBlocksAndOverflow) {
    expectError(
        ErrorCode::kInvalidArgument, [] { byteSize(DType::kQ4_0, 31); }, "31 elements of q4_0");
    expectError(
        ErrorCode::kInvalidArgument, [] { byteSize(DType::kQ4_K, 255); }, "255 elements of q4_K");
    expectError(
        ErrorCode::kInvalidArgument, [] { byteSize(DType::kQ6_K, 4096 + 32); }, "4128 elements of q6_K");
    expectError(
        ErrorCode::kInvalidArgument, [] { byteSize(DType::kF32, uint64_t{1} << 62); }, "2^64 bytes");
    expectError(
        ErrorCode::kInvalidArgument, [] { byteSize(DType::kF16, std::numeric_limits<uint64_t>::max()); }, "2^65 bytes");
    // 2^59 - 1 blocks: 18 bytes each still fit in 64 bits, 34 bytes each do not.
    const uint64_t many_blocks = std::numeric_limits<uint64_t>::max() / 32 * 32;
    EXPECT_EQ(byteSize(DType::kQ4_0, many_blocks), (many_blocks / 32) * 18);
    expectError(
        ErrorCode::kInvalidArgument, [&] { byteSize(DType::kQ8_0, many_blocks); }, "2^59 q8_0 blocks");
}

TEST(QuantErrors, DequantizeChecksSizes) {
    std::vector<std::byte> bytes(18 * 2);
    std::vector<float> out(64);
    EXPECT_NO_THROW(dequantize(DType::kQ4_0, bytes, out));
    expectError(
        ErrorCode::kInvalidArgument, [&] { dequantize(DType::kQ4_0, std::span(bytes).first(35), out); },
        "short source");
    std::vector<std::byte> more(18 * 3);
    expectError(
        ErrorCode::kInvalidArgument, [&] { dequantize(DType::kQ4_0, more, out); }, "long source");
    expectError(
        ErrorCode::kInvalidArgument, [&] { dequantize(DType::kQ4_0, bytes, std::span(out).first(40)); },
        "partial block");
    expectError(
        ErrorCode::kInvalidArgument, [&] { dequantize(DType::kQ4_K, bytes, out); }, "q4_K, 64 elements");
    EXPECT_NO_THROW(dequantize(DType::kQ6_K, {}, {}));
}

TEST(QuantErrors, QuantizeChecksSizes) {
    std::vector<float> x(64, 1.0f);
    std::vector<std::byte> bytes(68);
    EXPECT_NO_THROW(quantize(DType::kQ8_0, x, bytes));
    expectError(
        ErrorCode::kInvalidArgument, [&] { quantize(DType::kQ8_0, x, std::span(bytes).first(67)); },
        "short destination");
    expectError(
        ErrorCode::kInvalidArgument, [&] { quantize(DType::kQ8_0, std::span(x).first(48), bytes); }, "partial block");
    expectError(
        ErrorCode::kInvalidArgument, [&] { quantize(DType::kQ4_K, x, bytes); }, "q4_K, 64 elements");
    EXPECT_NO_THROW(quantize(DType::kQ4_K, {}, {}));
}

TEST(QuantErrors, Q5FormatsAreDequantizeOnly) {
    for (DType type : {DType::kQ5_0, DType::kQ5_1}) {
        std::vector<float> x(32, 0.5f);
        std::vector<std::byte> bytes(byteSize(type, x.size()));
        expectError(
            ErrorCode::kUnsupported, [&] { quantize(type, x, bytes); }, traits(type).name);
        // Even with sizes that are wrong: the format is what the caller must change.
        expectError(
            ErrorCode::kUnsupported, [&] { quantize(type, x, {}); }, traits(type).name);
    }
}

TEST(QuantErrors, BlockFormatsRejectNonFiniteInput) {
    for (DType type : kAllDTypes) {
        const TypeTraits& t = traits(type);
        if (!t.quantizable || t.block_elements == 1) continue;
        for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
            std::vector<float> x(2 * t.block_elements, 0.25f);
            x[t.block_elements + 3] = bad;
            std::vector<std::byte> bytes(byteSize(type, x.size()));
            expectError(
                ErrorCode::kInvalidArgument, [&] { quantize(type, x, bytes); }, t.name);
        }
    }
}

TEST(QuantErrors, BlockFormatsRejectValuesBeyondTheirScales) {
    // Largest representable magnitudes: q8_0 127 * 65504, q4_0 8 * 65504, q4_1 min -65504;
    // the K-quants' super-scales are f16 too. 1e12 is far past all of them.
    for (DType type : kAllDTypes) {
        const TypeTraits& t = traits(type);
        if (!t.quantizable || t.block_elements == 1) continue;
        for (float big : {1e12f, -1e12f}) {
            std::vector<float> x(t.block_elements, 1.0f);
            x[5] = big;
            std::vector<std::byte> bytes(byteSize(type, x.size()));
            expectError(
                ErrorCode::kInvalidArgument, [&] { quantize(type, x, bytes); }, t.name);
        }
    }
    // Within range still works.
    std::vector<float> x(32, 1.0f);
    x[0] = 127.0f * 65000.0f;
    EXPECT_NO_THROW(quantized(DType::kQ8_0, x));
}

TEST(QuantErrors, FloatFormatsKeepNonFiniteValues) {
    const std::vector<float> x = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN(), 1e10f};
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
        const std::vector<float> y = test::roundTrip(type, x);
        EXPECT_EQ(y[0], x[0]) << traits(type).name;
        EXPECT_EQ(y[1], x[1]) << traits(type).name;
        EXPECT_TRUE(std::isnan(y[2])) << traits(type).name;
    }
    EXPECT_EQ(test::roundTrip(DType::kF16, x)[3], std::numeric_limits<float>::infinity()) << "beyond 65504";
}

// Rows are independent: quantizing a tensor at once, row by row, or rows on several
// threads at the same time gives the same bytes.
TEST(QuantRows, RowByRowAndConcurrentMatchWhole) {
    const uint32_t seed = test::freshSeed();
    SCOPED_TRACE(test::seedTrace(seed));
    std::mt19937 rng(seed);
    constexpr size_t kRows = 8;
    constexpr size_t kRowLength = 512;
    const std::vector<float> x = test::generate(test::Distribution::kGaussian, kRows * kRowLength / 32, 32, rng);
    for (DType type : kAllDTypes) {
        if (!traits(type).quantizable) continue;
        SCOPED_TRACE(traits(type).name);
        const std::vector<std::byte> whole = quantized(type, x);
        const size_t row_bytes = byteSize(type, kRowLength);
        std::vector<std::byte> by_rows(whole.size());
        std::vector<std::thread> threads;
        for (size_t r = 0; r < kRows; ++r) {
            threads.emplace_back([&, r] {
                quantize(type, std::span(x).subspan(r * kRowLength, kRowLength),
                         std::span(by_rows).subspan(r * row_bytes, row_bytes));
            });
        }
        for (std::thread& t : threads) t.join();
        EXPECT_TRUE(whole == by_rows);
        EXPECT_TRUE(quantized(type, x) == whole) << "deterministic";
    }
}

}  // namespace
}  // namespace vki::quant
