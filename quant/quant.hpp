// Tensor element formats of GGUF files: plain floats (f32, f16, bf16) and ggml's block
// quantizations, byte-exact with ggml. Block layouts live in quant/blocks.h (shared with
// the dequant shaders); this is the host side: traits, reference dequantizers (the
// oracle the GPU kernels are tested against) and quantizers for the model converter.
//
// Every function here is reentrant: no shared state, no allocation. Callers quantize
// large tensors by handing rows (or any whole-block ranges) to worker threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vki::quant {

// Values are GGML type ids, as stored in GGUF tensor infos.
enum class DType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ4_1 = 3,
    kQ5_0 = 6,
    kQ5_1 = 7,
    kQ8_0 = 8,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kBF16 = 30,
};

inline constexpr std::array<DType, 11> kAllDTypes = {
    DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0,
    DType::kQ5_1, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
};

struct TypeTraits {
    const char* name;         // as GGUF tools and llama.cpp spell it: "f32", "q4_0", "q4_K", ...
    uint32_t block_elements;  // elements per block; 1 for the plain float types
    uint32_t block_bytes;     // bytes per block
    bool quantizable;         // whether quantize() can produce this type
};

// Traits of a DType value. VKI_ASSERTs on a value outside the enum: values read from
// a file go through dtypeFromGgml first.
const TypeTraits& traits(DType type);

// The DType of a GGML type id, or nullopt for ids this module does not handle.
std::optional<DType> dtypeFromGgml(uint32_t ggml_type);
// The DType named `name` (traits().name, compared case-insensitively), or nullopt.
std::optional<DType> dtypeFromName(std::string_view name);

// Bytes that n_elements of `type` occupy. Throws Error(kInvalidArgument) when n_elements
// is not a multiple of the block size or the byte count does not fit in 64 bits.
uint64_t byteSize(DType type, uint64_t n_elements);

// Decodes dst.size() elements from src, which holds exactly byteSize(type, dst.size())
// bytes (any alignment). Bit-exact with ggml's dequantize_row_* reference functions.
// Throws Error(kInvalidArgument) on a size mismatch; never reads outside src.
void dequantize(DType type, std::span<const std::byte> src, std::span<float> dst);

// Encodes src into dst, which must be exactly byteSize(type, src.size()) bytes.
//   f32/f16/bf16: IEEE conversion, round to nearest even; out-of-range values become
//                 infinities, NaN stays NaN.
//   q4_0/q4_1/q8_0: ggml's reference quantizers, bit for bit.
//   q4_K/q5_K/q6_K: a search over sub-block scales (and mins) minimizing a weighted
//                 squared error, as ggml's reference quantizers do; not bit-identical.
// Throws Error(kUnsupported) for q5_0 and q5_1 (dequantize-only here); Error(kInvalidArgument)
// on a size mismatch, on a NaN or infinite input to a block format, or when a block's
// values exceed what its f16 scales can represent (e.g. |x| > 127 * 65504 for q8_0).
// On a throw, dst holds an unspecified mix of written and unwritten blocks.
void quantize(DType type, std::span<const float> src, std::span<std::byte> dst);

// IEEE binary16 <-> binary32. fp32ToFp16 rounds to nearest, ties to even; values beyond
// the largest half round to infinity; subnormals on both sides are exact. NaNs stay NaN
// (quieted, sign and top payload bits kept).
float fp16ToFp32(uint16_t h);
uint16_t fp32ToFp16(float f);

// bfloat16 <-> binary32. fp32ToBf16 rounds to nearest, ties to even; NaNs stay NaN.
float bf16ToFp32(uint16_t b);
uint16_t fp32ToBf16(float f);

}  // namespace vki::quant
