#include "runtime/kv/kv_cache.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"

namespace vki::kv {

uint64_t pageBytesPerLayer(const KvShape& s) {
    return uint64_t{2} * s.kv_heads * s.page_tokens * s.head_dim * 2;
}

KvCache::KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens)
    : shape_(shape), slots_(slots), max_pages_((max_tokens + shape.page_tokens - 1) / shape.page_tokens) {
    VKI_ASSERT(shape.layers > 0 && shape.page_tokens > 0 && pages > 0 && slots > 0 && max_tokens > 0);
    const uint64_t layer_bytes = pageBytesPerLayer(shape) * pages;
    const uint64_t range = memory.device().caps().max_storage_buffer_range;
    if (layer_bytes > range) {
        throw Error(ErrorCode::kUnsupported, "the KV cache needs " + std::to_string(layer_bytes >> 20) +
                                                 " MiB per layer, beyond this device's " + std::to_string(range >> 20) +
                                                 " MiB storage-buffer range: use a shorter context");
    }
    for (uint32_t l = 0; l < shape.layers; ++l) {
        layers_.push_back(
            memory.createBuffer(layer_bytes, vk::MemoryKind::kDevice, "KV cache layer " + std::to_string(l)));
    }
    refs_.assign(pages, 0);
    for (uint32_t p = pages; p-- > 0;) free_.push_back(p);  // page 0 is taken first
    owned_.resize(slots);
    tables_.assign(size_t{slots} * max_pages_, 0);
}

uint64_t KvCache::bytes() const {
    return pageBytesPerLayer(shape_) * refs_.size() * shape_.layers;
}

uint32_t KvCache::capacity(uint32_t slot) const {
    VKI_ASSERT(slot < slots_);
    return static_cast<uint32_t>(owned_[slot].size()) * shape_.page_tokens;
}

void KvCache::reserve(uint32_t slot, uint32_t tokens) {
    VKI_ASSERT(slot < slots_);
    if (tokens > maxTokens()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(tokens) + " positions exceed the context of " +
                                                     std::to_string(maxTokens()) + " tokens");
    }
    const uint32_t need = (tokens + shape_.page_tokens - 1) / shape_.page_tokens;
    auto& pages = owned_[slot];
    if (need <= pages.size()) return;
    const size_t more = need - pages.size();
    if (more > free_.size()) {
        throw Error(ErrorCode::kOutOfMemory, "the KV cache is full: " + std::to_string(more) + " more pages needed, " +
                                                 std::to_string(free_.size()) + " free");
    }
    for (size_t i = 0; i < more; ++i) {
        const uint32_t page = free_.back();
        free_.pop_back();
        ++refs_[page];
        tables_[size_t{slot} * max_pages_ + pages.size()] = page;
        pages.push_back(page);
    }
}

void KvCache::release(uint32_t slot) {
    VKI_ASSERT(slot < slots_);
    for (uint32_t page : owned_[slot]) {
        VKI_ASSERT(refs_[page] > 0);
        if (--refs_[page] == 0) free_.push_back(page);
    }
    owned_[slot].clear();
    std::fill_n(tables_.begin() + size_t{slot} * max_pages_, max_pages_, 0u);
}

}  // namespace vki::kv
