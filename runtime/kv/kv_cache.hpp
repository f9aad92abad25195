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
//
// With a sliding window (token p attends to positions (p - window, p]) a sequence
// keeps only the pages its next step can read: each reserve() lets go of the pages
// wholly before that reach (published ones stay cached for other sequences), and the
// page-table row is a ring of ringPages() entries that new pages take over in turn.
// So a sequence's memory is bounded by its window, whatever its length.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "quant/quant.hpp"
#include "runtime/kv/page_pool.hpp"
#include "runtime/vk/memory.hpp"

namespace vki::kv {

struct KvShape {
    uint32_t layers = 0;
    uint32_t kv_heads = 0;
    uint32_t head_dim = 0;
    uint32_t page_tokens = 16;
    // Element type of K and V: kF16, or kQ8_0 (GGML's blocks of 32 values with an f16
    // scale, about half the bytes; head_dim must be a multiple of 32).
    quant::DType type = quant::DType::kF16;
};

// Bytes of one page in one layer (K and V; layout in shaders/common/params.h). Throws
// kUnsupported for an element type the cache cannot hold or a q8_0 cache whose
// head_dim is not a multiple of 32.
uint64_t pageBytesPerLayer(const KvShape& shape);
// Bytes of one page over all layers.
uint64_t pageBytes(const KvShape& shape);

// A sliding window and the most positions one sequence advances in one step (the
// reach of a step's first token back from its last is window - 1 + step_tokens - 1).
struct KvWindow {
    uint32_t window = 0;  // 0: none, every position stays
    uint32_t step_tokens = 0;
};

class KvCache {
public:
    // A pool of `pages` pages for `slots` sequences of at most max_tokens each; `seed`
    // names the model in the pages' keys. Throws kOutOfMemory (from the allocator) when
    // the device cannot hold it, and kUnsupported for a shape pageBytesPerLayer rejects
    // or when one layer's pages exceed the device's binding range.
    KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens,
            uint64_t seed = 1, const KvWindow& window = {});

    // Pages one sequence of at most max_tokens positions holds at most: the ring.
    static uint32_t sequencePages(const KvShape& shape, uint32_t max_tokens, const KvWindow& window);

    const KvShape& shape() const { return shape_; }
    uint32_t slots() const { return slots_; }
    uint32_t maxTokens() const { return max_tokens_; }
    uint32_t maxPages() const { return ring_pages_; }  // page table row length (the ring)
    uint32_t window() const { return window_.window; }
    uint32_t pages() const { return pool_.pages(); }
    PagePool::Stats stats() const { return pool_.stats(); }
    uint64_t bytes() const;
    const vk::Buffer& layer(uint32_t l) const { return layers_[l]; }

    // Starts `slot` (holding no pages) on the cached pages of the longest prefix of
    // `tokens` in whole pages; returns the positions they cover (a multiple of the
    // page size). Callers pass all but the token whose output they need, so that one
    // is computed into a private page.
    uint32_t attachPrefix(uint32_t slot, std::span<const uint32_t> tokens);

    // Pages a sequence of `tokens` positions holds at most (its window's, with one).
    uint32_t pagesFor(uint32_t tokens) const;
    // Pages `slot` still needs to go on to `tokens` positions, net of those it lets go.
    uint32_t pagesNeeded(uint32_t slot, uint32_t tokens) const;
    // Pages reserve() can take: free ones and cached ones nobody references.
    uint32_t availablePages() const;
    // Gives `slot` pages for positions [0, tokens) (with a window: those a step ending
    // at `tokens` can read, letting go of older ones). Throws kInvalidArgument beyond
    // maxTokens() and kOutOfMemory when the pool has too few pages (nothing is taken
    // then).
    void reserve(uint32_t slot, uint32_t tokens);
    // Positions the slot has had pages for (those it let go of included).
    uint32_t capacity(uint32_t slot) const;
    // Starts `to` (holding no pages) as a fork of `from` at position `tokens` (<= the
    // positions `from` has computed): it shares from's full pages below `tokens` and
    // gets a copy of the partly filled one (a device copy, waited for), so each
    // sequence writes only its own pages. Returns the positions `to` holds, `tokens`,
    // or 0 when no page is left for the copy, `from` let go of pages (a windowed
    // sequence past its window) or was shifted: then `to` starts empty.
    uint32_t fork(uint32_t from, uint32_t to, uint32_t tokens);
    // Context shift: drops the slot's positions [keep, keep + drop) (whole pages) and
    // moves the later ones down by `drop`. Returns the pages that moved, which the
    // caller must re-rotate (ops::recordRopeShift by -drop) before the next step; they
    // become private (a shared one is copied first) and are never published, as their
    // K is within rounding of a fresh computation, not equal to it. Nothing when it
    // cannot: a windowed sequence that let go of pages, or no page left for a copy.
    std::optional<std::vector<uint32_t>> shift(uint32_t slot, uint32_t keep, uint32_t drop);
    // Prepares `slot` to go on from position `tokens` (<= capacity) after a rewind:
    // returns `tokens` when the pages that position reads are still held, else
    // releases the slot and returns 0 (start over).
    uint32_t rewind(uint32_t slot, uint32_t tokens);
    // Publishes the slot's full pages among positions [0, tokens.size()), whose K/V
    // hold `tokens`, for later sequences with the same prefix.
    void publish(uint32_t slot, std::span<const uint32_t> tokens);
    // Returns the slot's pages to the pool (published ones stay cached).
    void release(uint32_t slot);

    // The page tables, slots() rows of maxPages() ids (unused entries are 0).
    std::span<const uint32_t> pageTables() const { return tables_; }

private:
    static constexpr uint32_t kLetGo = UINT32_MAX;

    struct Sequence {
        std::vector<uint32_t> pages;  // in position order; kLetGo for those let go of
        uint32_t let_go = 0;          // leading pages let go of
        // Chain keys of the leading pages published or taken from the cache.
        std::vector<uint64_t> keys;
        bool shifted = false;  // pages re-rotated by a context shift: publishes nothing
    };

    // Leading pages a step ending at `tokens` positions cannot read.
    uint32_t unreachable(uint32_t tokens) const;
    // Lets go of the leading pages before `keep`.
    void letGo(uint32_t slot, uint32_t keep);
    // Copies pages (from, to) on the device, every layer, and waits.
    void copyPages(std::span<const std::pair<uint32_t, uint32_t>> copies);
    uint32_t& entry(uint32_t slot, uint32_t page) { return tables_[size_t{slot} * ring_pages_ + page % ring_pages_]; }

    vk::Device& device_;
    KvShape shape_;
    KvWindow window_;
    uint32_t slots_;
    uint32_t max_tokens_;
    uint32_t ring_pages_;
    PagePool pool_;
    std::vector<vk::Buffer> layers_;
    std::vector<Sequence> seqs_;
    std::vector<uint32_t> tables_;
};

}  // namespace vki::kv
