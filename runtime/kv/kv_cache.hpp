// The KV cache, first form: K and V in fixed-size pages of one device pool, reached
// through a per-sequence page table. A page holds `page_tokens` consecutive positions
// of one sequence for every layer; physically each layer's share of the pool is its
// own buffer (one binding, within maxStorageBufferRange), and page p sits at the same
// index in every layer. Layout inside a layer: see shaders/common/params.h.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/vk/memory.hpp"

namespace vki::kv {

struct KvShape {
    uint32_t layers = 0;
    uint32_t kv_heads = 0;
    uint32_t head_dim = 0;
    uint32_t page_tokens = 16;
};

// Bytes of one page in one layer (K and V, f16).
uint64_t pageBytesPerLayer(const KvShape& shape);

class KvCache {
public:
    // A pool of `pages` pages shared by `slots` sequences of at most max_tokens each.
    // Throws kOutOfMemory (from the allocator) when the device cannot hold it, and
    // kUnsupported when one layer's pages exceed the device's binding range.
    KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens);

    const KvShape& shape() const { return shape_; }
    uint32_t slots() const { return slots_; }
    uint32_t maxTokens() const { return max_pages_ * shape_.page_tokens; }
    uint32_t maxPages() const { return max_pages_; }  // page table row length
    uint32_t pages() const { return static_cast<uint32_t>(refs_.size()); }
    uint32_t freePages() const { return static_cast<uint32_t>(free_.size()); }
    uint64_t bytes() const;
    const vk::Buffer& layer(uint32_t l) const { return layers_[l]; }

    // Gives `slot` pages for positions [0, tokens). Throws kInvalidArgument beyond
    // maxTokens() and kOutOfMemory when the pool has too few free pages (nothing is
    // taken then).
    void reserve(uint32_t slot, uint32_t tokens);
    // Positions the slot holds pages for.
    uint32_t capacity(uint32_t slot) const;
    // Returns the slot's pages to the pool.
    void release(uint32_t slot);

    // The page tables, slots() rows of maxPages() ids (unused entries are 0).
    std::span<const uint32_t> pageTables() const { return tables_; }

private:
    KvShape shape_;
    uint32_t slots_;
    uint32_t max_pages_;
    std::vector<vk::Buffer> layers_;
    std::vector<uint32_t> refs_;                // per page: sequences using it
    std::vector<uint32_t> free_;                // free page ids, taken from the back
    std::vector<std::vector<uint32_t>> owned_;  // per slot: its pages in position order
    std::vector<uint32_t> tables_;
};

}  // namespace vki::kv
