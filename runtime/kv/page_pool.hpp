// Bookkeeping of the KV cache's pages for prefix sharing (no Vulkan): reference
// counts, a content key per full page, and an LRU ring of pages nobody references
// but whose contents stay valid for a later request with the same prefix.
//
// A full page is keyed by a chain: the key of the page before it (0 for the first)
// and the page's tokens, under a seed that names the model. A request looks up the
// longest run of cached pages that starts its token sequence and computes only the
// rest. The key is a 64-bit hash, but a match also compares the stored parent key
// and tokens, so a hash collision can never hand out another sequence's K/V.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace vki::kv {

// The chain key of a full page whose predecessor has key `parent` (0: none).
uint64_t pageKey(uint64_t seed, uint64_t parent, std::span<const uint32_t> tokens);

class PagePool {
public:
    // Counts of the pool's pages; they always add up to pages().
    struct Stats {
        uint32_t used = 0;    // referenced by at least one sequence
        uint32_t cached = 0;  // unreferenced, contents kept for reuse (the LRU ring)
        uint32_t free = 0;    // unreferenced, no contents
    };

    // `pages` pages of `page_tokens` tokens; `seed` names the model (two models must
    // never share pages).
    PagePool(uint32_t pages, uint32_t page_tokens, uint64_t seed);

    uint32_t pages() const { return static_cast<uint32_t>(pages_.size()); }
    uint32_t pageTokens() const { return page_tokens_; }
    Stats stats() const;

    // The longest run of published pages holding tokens[0 .. k * pageTokens()) for the
    // largest such k, each referenced once more for the caller (cached pages leave the
    // ring). Only full pages match; the caller computes the rest.
    std::vector<uint32_t> acquirePrefix(std::span<const uint32_t> tokens);

    // A page for new contents, referenced once: a free page, else the least recently
    // released cached page (its key forgotten); nothing when every page is in use.
    std::optional<uint32_t> allocate();

    // Declares `page` (referenced) full with `tokens`, the page after the one keyed
    // `parent` (0 for a sequence's first page); returns its key, the `parent` of the
    // sequence's next page. When another page with the same key is already published
    // the pool keeps that one and this page stays private; publishing a page again (a
    // forked sequence sharing it) changes nothing.
    uint64_t publish(uint32_t page, uint64_t parent, std::span<const uint32_t> tokens);

    // Forgets the key of a published page its one holder is about to rewrite.
    void unpublish(uint32_t page);
    // One more reference (a forked sequence shares the page).
    void retain(uint32_t page);
    // One reference less; at none the page joins the ring if published, else is free.
    void release(uint32_t page);
    uint32_t refs(uint32_t page) const;
    // The key of a published page (what publish() returned for it).
    uint64_t key(uint32_t page) const;
    // Whether a sequence about to write into `page` must copy it first: others read it.
    bool shared(uint32_t page) const { return refs(page) > 1; }

private:
    struct Page {
        uint32_t refs = 0;
        bool published = false;
        uint64_t key = 0;
        uint64_t parent = 0;
        std::vector<uint32_t> tokens;       // published pages: their contents' tokens
        std::list<uint32_t>::iterator lru;  // cached pages: their place in the ring
    };

    void forget(uint32_t page);

    uint32_t page_tokens_;
    uint64_t seed_;
    std::vector<Page> pages_;
    std::vector<uint32_t> free_;                    // taken from the back
    std::list<uint32_t> ring_;                      // cached pages, least recently released first
    std::unordered_map<uint64_t, uint32_t> index_;  // key -> published page
};

}  // namespace vki::kv
