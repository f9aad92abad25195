#include "runtime/kv/kv_cache.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"

namespace vki::kv {

uint64_t pageBytesPerLayer(const KvShape& s) {
    return uint64_t{2} * s.kv_heads * s.page_tokens * s.head_dim * 2;
}

uint64_t pageBytes(const KvShape& s) {
    return pageBytesPerLayer(s) * s.layers;
}

KvCache::KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens,
                 uint64_t seed)
    : shape_(shape),
      slots_(slots),
      max_pages_((max_tokens + shape.page_tokens - 1) / shape.page_tokens),
      pool_(pages, shape.page_tokens, seed) {
    VKI_ASSERT(shape.layers > 0 && shape.page_tokens > 0 && pages > 0 && slots > 0 && max_tokens > 0);
    const uint64_t layer_bytes = pageBytesPerLayer(shape) * pages;
    const uint64_t range = memory.device().caps().max_storage_buffer_range;
    if (layer_bytes > range) {
        throw Error(ErrorCode::kUnsupported,
                    "the KV cache needs " + std::to_string(layer_bytes >> 20) +
                        " MiB per layer, beyond this device's " + std::to_string(range >> 20) +
                        " MiB storage-buffer range: use a shorter context or a smaller budget");
    }
    for (uint32_t l = 0; l < shape.layers; ++l) {
        layers_.push_back(
            memory.createBuffer(layer_bytes, vk::MemoryKind::kDevice, "KV cache layer " + std::to_string(l)));
    }
    seqs_.resize(slots);
    tables_.assign(size_t{slots} * max_pages_, 0);
}

uint64_t KvCache::bytes() const {
    return pageBytes(shape_) * pool_.pages();
}

uint32_t KvCache::capacity(uint32_t slot) const {
    VKI_ASSERT(slot < slots_);
    return static_cast<uint32_t>(seqs_[slot].pages.size()) * shape_.page_tokens;
}

uint32_t KvCache::attachPrefix(uint32_t slot, std::span<const uint32_t> tokens) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    VKI_ASSERT_MSG(seq.pages.empty(), "attachPrefix on a slot that holds pages");
    const size_t usable = std::min<size_t>(tokens.size(), maxTokens());
    seq.pages = pool_.acquirePrefix(tokens.first(usable));
    seq.published = static_cast<uint32_t>(seq.pages.size());
    seq.key = seq.pages.empty() ? 0 : pool_.key(seq.pages.back());
    std::copy(seq.pages.begin(), seq.pages.end(), tables_.begin() + size_t{slot} * max_pages_);
    return seq.published * shape_.page_tokens;
}

uint32_t KvCache::pagesNeeded(uint32_t slot, uint32_t tokens) const {
    VKI_ASSERT(slot < slots_);
    const uint32_t need = pagesFor(tokens);
    return need > seqs_[slot].pages.size() ? need - static_cast<uint32_t>(seqs_[slot].pages.size()) : 0;
}

uint32_t KvCache::availablePages() const {
    const PagePool::Stats s = pool_.stats();
    return s.free + s.cached;
}

void KvCache::reserve(uint32_t slot, uint32_t tokens) {
    VKI_ASSERT(slot < slots_);
    if (tokens > maxTokens()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(tokens) + " positions exceed the context of " +
                                                     std::to_string(maxTokens()) + " tokens");
    }
    const uint32_t more = pagesNeeded(slot, tokens);
    if (more > availablePages()) {
        const PagePool::Stats s = pool_.stats();
        throw Error(ErrorCode::kOutOfMemory, "the KV cache is full: " + std::to_string(more) + " more pages needed, " +
                                                 std::to_string(s.free) + " free and " + std::to_string(s.cached) +
                                                 " cached of " + std::to_string(pool_.pages()));
    }
    auto& pages = seqs_[slot].pages;
    for (uint32_t i = 0; i < more; ++i) {
        const std::optional<uint32_t> page = pool_.allocate();
        VKI_ASSERT(page.has_value());
        tables_[size_t{slot} * max_pages_ + pages.size()] = *page;
        pages.push_back(*page);
    }
}

void KvCache::publish(uint32_t slot, std::span<const uint32_t> tokens) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    const uint32_t P = shape_.page_tokens;
    const size_t full = std::min(tokens.size() / P, seq.pages.size());
    for (; seq.published < full; ++seq.published) {
        seq.key = pool_.publish(seq.pages[seq.published], seq.key, tokens.subspan(size_t{seq.published} * P, P));
    }
}

void KvCache::release(uint32_t slot) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    for (uint32_t page : seq.pages) pool_.release(page);
    seq = {};
    std::fill_n(tables_.begin() + size_t{slot} * max_pages_, max_pages_, 0u);
}

}  // namespace vki::kv
