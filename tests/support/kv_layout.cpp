#include "support/kv_layout.hpp"

#include <cstring>

#include "common/error.hpp"

namespace vki::test {

size_t KvLayerView::rowIndex(uint32_t which, uint32_t h, uint32_t tok) const {
    const size_t rows = size_t{shape_.kv_heads} * shape_.page_tokens;
    return which * rows + size_t{h} * shape_.page_tokens + tok;
}

float KvLayerView::value(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t d) const {
    if (shape_.type == quant::DType::kQ8_0)
        return float(code(page, which, h, tok, d)) * scale(page, which, h, tok, d / 32);
    const size_t at = page * kv::pageBytesPerLayer(shape_) + (rowIndex(which, h, tok) * shape_.head_dim + d) * 2;
    uint16_t bits;
    std::memcpy(&bits, bytes_.data() + at, 2);
    return quant::fp16ToFp32(bits);
}

int KvLayerView::code(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t d) const {
    VKI_ASSERT(shape_.type == quant::DType::kQ8_0);
    const size_t at = page * kv::pageBytesPerLayer(shape_) + rowIndex(which, h, tok) * shape_.head_dim + d;
    return static_cast<int8_t>(bytes_[at]);
}

float KvLayerView::scale(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t block) const {
    VKI_ASSERT(shape_.type == quant::DType::kQ8_0);
    // After both code arrays: a word per (row, block) holding d_k, then d_v.
    const size_t codes = size_t{2} * shape_.kv_heads * shape_.page_tokens * shape_.head_dim;
    const size_t word = rowIndex(0, h, tok) * (shape_.head_dim / 32) + block;
    uint16_t bits;
    std::memcpy(&bits, bytes_.data() + page * kv::pageBytesPerLayer(shape_) + codes + word * 4 + which * 2, 2);
    return quant::fp16ToFp32(bits);
}

std::vector<std::byte> randomKvLayer(const kv::KvShape& shape, size_t bytes, std::mt19937& rng) {
    std::vector<std::byte> out(bytes);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    auto put16 = [&](size_t at, float x) {
        const uint16_t bits = quant::fp32ToFp16(x);
        std::memcpy(out.data() + at, &bits, 2);
    };
    if (shape.type == quant::DType::kF16) {
        for (size_t at = 0; at + 2 <= bytes; at += 2) put16(at, unit(rng));
        return out;
    }
    VKI_ASSERT(shape.type == quant::DType::kQ8_0);
    const size_t page = kv::pageBytesPerLayer(shape);
    const size_t codes = size_t{2} * shape.kv_heads * shape.page_tokens * shape.head_dim;
    std::uniform_int_distribution<int> code(-127, 127);
    std::uniform_real_distribution<float> scale(0.5f / 127, 1.0f / 127);
    VKI_ASSERT(bytes % page == 0);
    for (size_t base = 0; base < bytes; base += page) {
        for (size_t i = 0; i < codes; ++i) out[base + i] = static_cast<std::byte>(static_cast<int8_t>(code(rng)));
        for (size_t at = base + codes; at < base + page; at += 2) put16(at, scale(rng));
    }
    return out;
}

}  // namespace vki::test
