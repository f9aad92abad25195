// The format table and the checked entry points; the codecs are in float.cpp,
// legacy.cpp and kquants.cpp.
#include "quant/quant.hpp"

#include <cctype>
#include <limits>
#include <string>

#include "common/error.hpp"
#include "quant/blocks.h"
#include "quant/codec.hpp"

namespace vki::quant {
namespace {

struct Format {
    DType type;
    TypeTraits traits;
    detail::DequantizeFn dequantize;
    detail::QuantizeFn quantize;  // nullptr: dequantize-only
};

constexpr Format makeFormat(DType type, const char* name, uint32_t block_elements, uint32_t block_bytes,
                            detail::DequantizeFn dequantize, detail::QuantizeFn quantize) {
    return {type, {name, block_elements, block_bytes, quantize != nullptr}, dequantize, quantize};
}

const Format kFormats[] = {
    makeFormat(DType::kF32, "f32", VKI_F32_BLOCK_ELEMENTS, VKI_F32_BLOCK_BYTES, detail::dequantizeF32,
               detail::quantizeF32),
    makeFormat(DType::kF16, "f16", VKI_F16_BLOCK_ELEMENTS, VKI_F16_BLOCK_BYTES, detail::dequantizeF16,
               detail::quantizeF16),
    makeFormat(DType::kBF16, "bf16", VKI_BF16_BLOCK_ELEMENTS, VKI_BF16_BLOCK_BYTES, detail::dequantizeBF16,
               detail::quantizeBF16),
    makeFormat(DType::kQ4_0, "q4_0", VKI_Q4_0_BLOCK_ELEMENTS, VKI_Q4_0_BLOCK_BYTES, detail::dequantizeQ4_0,
               detail::quantizeQ4_0),
    makeFormat(DType::kQ4_1, "q4_1", VKI_Q4_1_BLOCK_ELEMENTS, VKI_Q4_1_BLOCK_BYTES, detail::dequantizeQ4_1,
               detail::quantizeQ4_1),
    makeFormat(DType::kQ5_0, "q5_0", VKI_Q5_0_BLOCK_ELEMENTS, VKI_Q5_0_BLOCK_BYTES, detail::dequantizeQ5_0, nullptr),
    makeFormat(DType::kQ5_1, "q5_1", VKI_Q5_1_BLOCK_ELEMENTS, VKI_Q5_1_BLOCK_BYTES, detail::dequantizeQ5_1, nullptr),
    makeFormat(DType::kQ8_0, "q8_0", VKI_Q8_0_BLOCK_ELEMENTS, VKI_Q8_0_BLOCK_BYTES, detail::dequantizeQ8_0,
               detail::quantizeQ8_0),
    makeFormat(DType::kQ4_K, "q4_K", VKI_Q4_K_BLOCK_ELEMENTS, VKI_Q4_K_BLOCK_BYTES, detail::dequantizeQ4_K,
               detail::quantizeQ4_K),
    makeFormat(DType::kQ5_K, "q5_K", VKI_Q5_K_BLOCK_ELEMENTS, VKI_Q5_K_BLOCK_BYTES, detail::dequantizeQ5_K,
               detail::quantizeQ5_K),
    makeFormat(DType::kQ6_K, "q6_K", VKI_Q6_K_BLOCK_ELEMENTS, VKI_Q6_K_BLOCK_BYTES, detail::dequantizeQ6_K,
               detail::quantizeQ6_K),
};
static_assert(std::size(kFormats) == kAllDTypes.size());

const Format* findFormat(DType type) {
    for (const Format& format : kFormats) {
        if (format.type == type) return &format;
    }
    return nullptr;
}

const Format& format(DType type) {
    const Format* found = findFormat(type);
    VKI_ASSERT_MSG(found != nullptr, "DType value " + std::to_string(static_cast<uint32_t>(type)) +
                                         " is not a vki::quant::DType; convert ids with dtypeFromGgml");
    return *found;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

}  // namespace

const TypeTraits& traits(DType type) {
    return format(type).traits;
}

std::optional<DType> dtypeFromGgml(uint32_t ggml_type) {
    const DType type = static_cast<DType>(ggml_type);
    if (findFormat(type) == nullptr) return std::nullopt;
    return type;
}

std::optional<DType> dtypeFromName(std::string_view name) {
    for (const Format& format : kFormats) {
        if (equalsIgnoreCase(name, format.traits.name)) return format.type;
    }
    return std::nullopt;
}

uint64_t byteSize(DType type, uint64_t n_elements) {
    const TypeTraits& t = traits(type);
    if (n_elements % t.block_elements != 0) {
        throw Error(ErrorCode::kInvalidArgument, std::string(t.name) + ": " + std::to_string(n_elements) +
                                                     " elements is not a multiple of the " +
                                                     std::to_string(t.block_elements) +
                                                     "-element block; rows of this type must be a whole number "
                                                     "of blocks");
    }
    const uint64_t blocks = n_elements / t.block_elements;
    if (blocks > std::numeric_limits<uint64_t>::max() / t.block_bytes) {
        throw Error(ErrorCode::kInvalidArgument, std::string(t.name) + ": " + std::to_string(n_elements) +
                                                     " elements do not fit in a 64-bit byte count");
    }
    return blocks * t.block_bytes;
}

void dequantize(DType type, std::span<const std::byte> src, std::span<float> dst) {
    const Format& f = format(type);
    const uint64_t expected = byteSize(type, dst.size());
    if (src.size() != expected) {
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("dequantize ") + f.traits.name + ": " + std::to_string(dst.size()) + " elements take " +
                        std::to_string(expected) + " bytes but the source has " + std::to_string(src.size()));
    }
    f.dequantize(src.data(), dst.data(), dst.size() / f.traits.block_elements);
}

void quantize(DType type, std::span<const float> src, std::span<std::byte> dst) {
    const Format& f = format(type);
    if (f.quantize == nullptr) {
        throw Error(ErrorCode::kUnsupported, std::string("quantize: ") + f.traits.name +
                                                 " is supported for reading only; quantize to q4_0, q4_1, q8_0, "
                                                 "q4_K, q5_K or q6_K instead");
    }
    const uint64_t expected = byteSize(type, src.size());
    if (dst.size() != expected) {
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("quantize ") + f.traits.name + ": " + std::to_string(src.size()) + " elements take " +
                        std::to_string(expected) + " bytes but the destination has " + std::to_string(dst.size()));
    }
    f.quantize(src.data(), dst.data(), src.size() / f.traits.block_elements);
}

namespace detail {

void requireFinite(DType type, const float* x, size_t n, size_t block) {
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(x[i])) {
            throw Error(ErrorCode::kInvalidArgument,
                        std::string("quantize ") + traits(type).name + ": element " + std::to_string(block * n + i) +
                            " is " + std::to_string(x[i]) +
                            "; block formats encode finite values only (keep this tensor in f32/f16, or fix "
                            "the source)");
        }
    }
}

void requireFiniteScale(DType type, float stored_scale, size_t block) {
    if (!std::isfinite(stored_scale)) {
        const TypeTraits& t = traits(type);
        const uint64_t first = static_cast<uint64_t>(block) * t.block_elements;
        throw Error(ErrorCode::kInvalidArgument,
                    std::string("quantize ") + t.name + ": the values of block " + std::to_string(block) +
                        " (elements " + std::to_string(first) + ".." + std::to_string(first + t.block_elements - 1) +
                        ") are too large for its f16 scales; keep this tensor in f32 or bf16");
    }
}

}  // namespace detail
}  // namespace vki::quant
