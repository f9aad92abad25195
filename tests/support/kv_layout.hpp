// The KV cache of one layer as bytes on the host, in the layout the kernels use
// (shaders/common/params.h): the tests' independent reading of what the device wrote,
// and random contents for kernels that only read the cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "runtime/kv/kv_cache.hpp"

namespace vki::test {

class KvLayerView {
public:
    KvLayerView(const kv::KvShape& shape, std::span<const std::byte> bytes) : shape_(shape), bytes_(bytes) {}

    // Element d of K (which = 0) or V (1) of kv head h at token `tok` of page `page`.
    float value(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t d) const;
    // q8_0 only: the element's code, and the scale of its block of 32.
    int code(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t d) const;
    float scale(uint32_t page, uint32_t which, uint32_t h, uint32_t tok, uint32_t block) const;

private:
    size_t rowIndex(uint32_t which, uint32_t h, uint32_t tok) const;

    kv::KvShape shape_;
    std::span<const std::byte> bytes_;
};

// Random contents for `bytes` bytes of one layer: f16 values in [-1, 1); q8_0 codes
// in [-127, 127] with scales in [0.5, 1] / 127, so values stay in [-1, 1] too.
std::vector<std::byte> randomKvLayer(const kv::KvShape& shape, size_t bytes, std::mt19937& rng);

}  // namespace vki::test
