#include "runtime/kv/page_pool.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace vki::kv {

namespace {

// splitmix64's finalizer: a cheap, well-mixed step for chaining 64-bit values.
uint64_t mix(uint64_t h, uint64_t v) {
    uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

uint64_t pageKey(uint64_t seed, uint64_t parent, std::span<const uint32_t> tokens) {
    uint64_t h = mix(seed, parent);
    for (uint32_t t : tokens) h = mix(h, t);
    // 0 marks "no parent": a key never takes it.
    return h == 0 ? 1 : h;
}

PagePool::PagePool(uint32_t pages, uint32_t page_tokens, uint64_t seed)
    : page_tokens_(page_tokens), seed_(seed), pages_(pages) {
    VKI_ASSERT(pages > 0 && page_tokens > 0);
    free_.resize(pages);
    // Taken from the back: page 0 first.
    for (uint32_t i = 0; i < pages; ++i) free_[i] = pages - 1 - i;
}

PagePool::Stats PagePool::stats() const {
    Stats s;
    s.free = static_cast<uint32_t>(free_.size());
    s.cached = static_cast<uint32_t>(ring_.size());
    s.used = pages() - s.free - s.cached;
    return s;
}

std::vector<uint32_t> PagePool::acquirePrefix(std::span<const uint32_t> tokens) {
    std::vector<uint32_t> run;
    uint64_t parent = 0;
    for (size_t at = 0; at + page_tokens_ <= tokens.size(); at += page_tokens_) {
        const auto page_tokens = tokens.subspan(at, page_tokens_);
        const uint64_t key = pageKey(seed_, parent, page_tokens);
        const auto it = index_.find(key);
        if (it == index_.end()) break;
        const Page& p = pages_[it->second];
        if (p.parent != parent || !std::equal(p.tokens.begin(), p.tokens.end(), page_tokens.begin())) break;
        retain(it->second);
        run.push_back(it->second);
        parent = key;
    }
    return run;
}

std::optional<uint32_t> PagePool::allocate() {
    uint32_t id;
    if (!free_.empty()) {
        id = free_.back();
        free_.pop_back();
    } else if (!ring_.empty()) {
        id = ring_.front();
        ring_.pop_front();
        forget(id);
    } else {
        return std::nullopt;
    }
    pages_[id].refs = 1;
    return id;
}

uint64_t PagePool::publish(uint32_t page, uint64_t parent, std::span<const uint32_t> tokens) {
    Page& p = pages_.at(page);
    VKI_ASSERT(p.refs > 0);
    VKI_ASSERT_MSG(tokens.size() == page_tokens_, "only full pages are published");
    const uint64_t key = pageKey(seed_, parent, tokens);
    if (p.published) {
        // A page forked sequences share, published by one of them before.
        VKI_ASSERT_MSG(p.key == key, "a shared page published with other contents");
        return key;
    }
    if (index_.emplace(key, page).second) {
        p.published = true;
        p.key = key;
        p.parent = parent;
        p.tokens.assign(tokens.begin(), tokens.end());
    }
    return key;
}

void PagePool::unpublish(uint32_t page) {
    VKI_ASSERT_MSG(pages_.at(page).refs == 1, "unpublish of a page others read");
    if (pages_[page].published) forget(page);
}

void PagePool::retain(uint32_t page) {
    Page& p = pages_.at(page);
    VKI_ASSERT_MSG(p.refs > 0 || p.published, "retain of a free page");
    if (p.refs == 0) ring_.erase(p.lru);
    ++p.refs;
}

void PagePool::release(uint32_t page) {
    Page& p = pages_.at(page);
    VKI_ASSERT_MSG(p.refs > 0, "release of an unreferenced page");
    if (--p.refs > 0) return;
    if (p.published) {
        p.lru = ring_.insert(ring_.end(), page);
    } else {
        free_.push_back(page);
    }
}

uint32_t PagePool::refs(uint32_t page) const {
    return pages_.at(page).refs;
}

uint64_t PagePool::key(uint32_t page) const {
    const Page& p = pages_.at(page);
    VKI_ASSERT(p.published);
    return p.key;
}

void PagePool::forget(uint32_t page) {
    Page& p = pages_[page];
    index_.erase(p.key);
    p.published = false;
    p.key = p.parent = 0;
    p.tokens.clear();
}

}  // namespace vki::kv
