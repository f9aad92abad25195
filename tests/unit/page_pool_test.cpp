// The KV page pool's bookkeeping (runtime/kv/page_pool.hpp): prefix lookup by chained
// keys, reference counts, the LRU ring of cached pages, and a random workload checked
// against a plain model of what each page must be.
#include "runtime/kv/page_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace vki::kv {
namespace {

constexpr uint32_t kP = 4;  // tokens per page

std::vector<uint32_t> seq(std::initializer_list<uint32_t> v) {
    return v;
}

// Allocates and publishes the full pages of `tokens`; returns them (referenced once).
std::vector<uint32_t> fill(PagePool& pool, const std::vector<uint32_t>& tokens) {
    std::vector<uint32_t> pages;
    uint64_t parent = 0;
    for (size_t at = 0; at + kP <= tokens.size(); at += kP) {
        const auto page = pool.allocate();
        EXPECT_TRUE(page.has_value());
        if (!page) break;
        parent = pool.publish(*page, parent, std::span(tokens).subspan(at, kP));
        pages.push_back(*page);
    }
    return pages;
}

TEST(PagePool, AllocatesEveryPageOnceThenNothing) {
    PagePool pool(3, kP, 1);
    std::set<uint32_t> seen;
    for (int i = 0; i < 3; ++i) {
        const auto p = pool.allocate();
        ASSERT_TRUE(p);
        EXPECT_TRUE(seen.insert(*p).second);
        EXPECT_EQ(pool.refs(*p), 1u);
    }
    EXPECT_FALSE(pool.allocate());
    EXPECT_EQ(pool.stats().used, 3u);
    pool.release(*seen.begin());  // never published: free again
    EXPECT_EQ(pool.stats().free, 1u);
    EXPECT_EQ(pool.allocate(), *seen.begin());
}

TEST(PagePool, PrefixOfFullPagesIsShared) {
    PagePool pool(8, kP, 1);
    const auto a = seq({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});  // two full pages and a tail
    const auto pages = fill(pool, a);
    ASSERT_EQ(pages.size(), 2u);

    // The same first 8 tokens, another tail: both pages, referenced again.
    EXPECT_EQ(pool.acquirePrefix(seq({1, 2, 3, 4, 5, 6, 7, 8, 42})), pages);
    EXPECT_EQ(pool.refs(pages[0]), 2u);
    EXPECT_TRUE(pool.shared(pages[1]));
    // Diverging in the second page: the first only.
    EXPECT_EQ(pool.acquirePrefix(seq({1, 2, 3, 4, 5, 6, 0, 8})), std::vector<uint32_t>{pages[0]});
    // The second page's tokens without the first: no match (keys chain).
    EXPECT_TRUE(pool.acquirePrefix(seq({5, 6, 7, 8})).empty());
    // Shorter than a page: nothing.
    EXPECT_TRUE(pool.acquirePrefix(seq({1, 2, 3})).empty());
    // Another model's pool never matches.
    PagePool other(8, kP, 2);
    fill(other, a);
    EXPECT_NE(pageKey(1, 0, std::span(a).first(kP)), pageKey(2, 0, std::span(a).first(kP)));
}

TEST(PagePool, ReleasedPagesStayCachedUntilTheRingIsNeeded) {
    PagePool pool(3, kP, 7);
    const auto first = fill(pool, seq({1, 2, 3, 4}));
    const auto second = fill(pool, seq({9, 9, 9, 9}));
    pool.release(first[0]);
    pool.release(second[0]);
    EXPECT_EQ(pool.stats().cached, 2u);
    EXPECT_EQ(pool.stats().free, 1u);

    // A free page goes first; the cached ones keep their contents.
    const auto fresh = pool.allocate();
    ASSERT_TRUE(fresh);
    EXPECT_NE(*fresh, first[0]);
    EXPECT_NE(*fresh, second[0]);
    // Then the least recently released cached page is taken back and forgotten.
    const auto reused = pool.allocate();
    ASSERT_TRUE(reused);
    EXPECT_EQ(*reused, first[0]);
    EXPECT_TRUE(pool.acquirePrefix(seq({1, 2, 3, 4})).empty());
    // The other one is still found, and leaves the ring while referenced.
    EXPECT_EQ(pool.acquirePrefix(seq({9, 9, 9, 9})), second);
    EXPECT_EQ(pool.stats().cached, 0u);
    EXPECT_FALSE(pool.allocate());
}

TEST(PagePool, DuplicatePublishKeepsTheFirstPage) {
    PagePool pool(4, kP, 1);
    const auto a = fill(pool, seq({1, 2, 3, 4}));
    const auto b = fill(pool, seq({1, 2, 3, 4}));  // computed twice (before a was published, say)
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(pool.acquirePrefix(seq({1, 2, 3, 4})), a);
    pool.release(b[0]);  // private: free, not cached
    EXPECT_EQ(pool.stats().free, 3u);
    // a[0] is now shared (acquired above), as by a forked sequence that publishes it
    // too: the same key, nothing changes.
    ASSERT_EQ(pool.refs(a[0]), 2u);
    EXPECT_EQ(pool.publish(a[0], 0, seq({1, 2, 3, 4})), pool.key(a[0]));
    EXPECT_EQ(pool.refs(a[0]), 2u);
    EXPECT_EQ(pool.stats().free, 3u);
}

// Random requests against a model of every page's references: the counts always add
// up, a referenced page is never handed out again, a cached prefix always holds the
// tokens it is looked up by, and once everything is released no page is used.
TEST(PagePool, RandomWorkloadKeepsTheBooks) {
    std::mt19937 rng(1234);
    PagePool pool(24, kP, 99);
    struct Seq {
        std::vector<uint32_t> tokens;
        std::vector<uint32_t> pages;
    };
    std::vector<Seq> live;
    std::map<uint32_t, uint32_t> model_refs;             // page -> references the model holds
    std::map<uint32_t, std::vector<uint32_t>> contents;  // page -> tokens it was filled with
    // A few shared prefixes so that lookups hit.
    const std::vector<std::vector<uint32_t>> stems = {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 8, 7, 6}, {5, 5, 5, 5, 6, 6, 6, 6}};
    for (int step = 0; step < 3000; ++step) {
        if (live.empty() || (rng() % 3 != 0 && live.size() < 8)) {
            Seq s;
            s.tokens = stems[rng() % stems.size()];
            const size_t extra = rng() % 10;
            for (size_t i = 0; i < extra; ++i) s.tokens.push_back(rng() % 6);
            s.pages = pool.acquirePrefix(s.tokens);
            for (size_t i = 0; i < s.pages.size(); ++i) {
                ASSERT_EQ(contents[s.pages[i]],
                          std::vector<uint32_t>(s.tokens.begin() + i * kP, s.tokens.begin() + (i + 1) * kP));
                ++model_refs[s.pages[i]];
            }
            uint64_t parent = 0;
            for (size_t i = 0; i < s.pages.size(); ++i)
                parent = pageKey(99, parent, std::span(s.tokens).subspan(i * kP, kP));
            bool fits = true;
            for (size_t at = s.pages.size() * kP; at < s.tokens.size(); at += kP) {
                const auto page = pool.allocate();
                if (!page) {
                    fits = false;
                    break;
                }
                ASSERT_EQ(model_refs[*page], 0u) << "a referenced page was handed out";
                ++model_refs[*page];
                s.pages.push_back(*page);
                const size_t len = std::min<size_t>(kP, s.tokens.size() - at);
                contents[*page].assign(s.tokens.begin() + at, s.tokens.begin() + at + len);
                if (len == kP) parent = pool.publish(*page, parent, std::span(s.tokens).subspan(at, kP));
            }
            if (fits) {
                live.push_back(std::move(s));
            } else {
                for (uint32_t p : s.pages) {
                    pool.release(p);
                    --model_refs[p];
                }
            }
        } else {
            const size_t i = rng() % live.size();
            for (uint32_t p : live[i].pages) {
                pool.release(p);
                --model_refs[p];
            }
            live.erase(live.begin() + i);
        }
        const auto st = pool.stats();
        ASSERT_EQ(st.used + st.cached + st.free, pool.pages());
        uint32_t referenced = 0;
        for (const auto& [page, n] : model_refs) {
            ASSERT_EQ(pool.refs(page), n);
            referenced += n > 0;
        }
        ASSERT_EQ(st.used, referenced);
    }
    for (const Seq& s : live) {
        for (uint32_t p : s.pages) pool.release(p);
    }
    EXPECT_EQ(pool.stats().used, 0u);
    EXPECT_EQ(pool.stats().cached + pool.stats().free, pool.pages());
}

}  // namespace
}  // namespace vki::kv
