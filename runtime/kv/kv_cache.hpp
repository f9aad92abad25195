// The KV cache: K and V in fixed-size pages of one device pool, reached through a
// per-sequence page table. A page holds `page_tokens` consecutive positions of one
// sequence for every layer; physically each layer's share of the pool is its own
// buffer (one binding, within maxStorageBufferRange), and page p sits at the same
// index in every layer. Layout inside a layer: see shaders/common/params.h.
//
// Pages are shared between sequences with a common prefix (PagePool): a sequence
// starts from the longest run of cached full pages of its tokens, publishes each
// page it fills, and on release its published pages stay cached (an LRU ring) until
// the pool needs them back. A sequence only ever writes into its private pages.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/kv/page_pool.hpp"
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
// Bytes of one page over all layers.
uint64_t pageBytes(const KvShape& shape);

class KvCache {
public:
    // A pool of `pages` pages for `slots` sequences of at most max_tokens each; `seed`
    // names the model in the pages' keys. Throws kOutOfMemory (from the allocator) when
    // the device cannot hold it, and kUnsupported when one layer's pages exceed the
    // device's binding range.
    KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens,
            uint64_t seed = 1);

    const KvShape& shape() const { return shape_; }
    uint32_t slots() const { return slots_; }
    uint32_t maxTokens() const { return max_pages_ * shape_.page_tokens; }
    uint32_t maxPages() const { return max_pages_; }  // page table row length
    uint32_t pages() const { return pool_.pages(); }
    PagePool::Stats stats() const { return pool_.stats(); }
    uint64_t bytes() const;
    const vk::Buffer& layer(uint32_t l) const { return layers_[l]; }

    // Starts `slot` (holding no pages) on the cached pages of the longest prefix of
    // `tokens` in whole pages; returns the positions they cover (a multiple of the
    // page size). Callers pass all but the token whose output they need, so that one
    // is computed into a private page.
    uint32_t attachPrefix(uint32_t slot, std::span<const uint32_t> tokens);

    // Pages that hold positions [0, tokens).
    uint32_t pagesFor(uint32_t tokens) const { return (tokens + shape_.page_tokens - 1) / shape_.page_tokens; }
    // Pages `slot` still needs to hold positions [0, tokens).
    uint32_t pagesNeeded(uint32_t slot, uint32_t tokens) const;
    // Pages reserve() can take: free ones and cached ones nobody references.
    uint32_t availablePages() const;
    // Gives `slot` pages for positions [0, tokens). Throws kInvalidArgument beyond
    // maxTokens() and kOutOfMemory when the pool has too few pages (nothing is taken
    // then).
    void reserve(uint32_t slot, uint32_t tokens);
    // Positions the slot holds pages for.
    uint32_t capacity(uint32_t slot) const;
    // Publishes the slot's full pages among positions [0, tokens.size()), whose K/V
    // hold `tokens`, for later sequences with the same prefix.
    void publish(uint32_t slot, std::span<const uint32_t> tokens);
    // Returns the slot's pages to the pool (published ones stay cached).
    void release(uint32_t slot);

    // The page tables, slots() rows of maxPages() ids (unused entries are 0).
    std::span<const uint32_t> pageTables() const { return tables_; }

private:
    struct Sequence {
        std::vector<uint32_t> pages;  // in position order
        uint32_t published = 0;       // leading pages published or taken from the cache
        uint64_t key = 0;             // chain key of the last of those
    };

    KvShape shape_;
    uint32_t slots_;
    uint32_t max_pages_;
    PagePool pool_;
    std::vector<vk::Buffer> layers_;
    std::vector<Sequence> seqs_;
    std::vector<uint32_t> tables_;
};

}  // namespace vki::kv
