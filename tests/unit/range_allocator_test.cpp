#include <gtest/gtest.h>

#include <map>
#include <random>

#include "runtime/vk/range_allocator.hpp"

namespace vki::vk {
namespace {

TEST(RangeAllocator, AlignsEveryAllocation) {
    RangeAllocator a(1 << 20);
    ASSERT_EQ(a.allocate(3, 1), 0u);
    for (uint64_t align : {4u, 16u, 256u, 4096u}) {
        const auto off = a.allocate(100, align);
        ASSERT_TRUE(off.has_value());
        EXPECT_EQ(*off % align, 0u) << "alignment " << align;
    }
}

TEST(RangeAllocator, ReusesFreedSpaceAndCoalesces) {
    RangeAllocator a(1024);
    const auto x = a.allocate(256, 1), y = a.allocate(256, 1), z = a.allocate(256, 1);
    ASSERT_TRUE(x && y && z);
    a.free(*y);
    EXPECT_EQ(a.allocate(256, 1), y) << "a freed hole of the right size is reused";
    a.free(*x);
    a.free(*y);
    EXPECT_EQ(a.freeRangeCount(), 2u) << "[0,256) and [256,512) merge; [768,1024) stays apart";
    a.free(*z);
    EXPECT_EQ(a.used(), 0u);
    EXPECT_EQ(a.freeRangeCount(), 1u);
    EXPECT_EQ(a.largestFree(), 1024u);
    EXPECT_EQ(a.allocate(1024, 1), 0u) << "everything merged back into one range";
}

TEST(RangeAllocator, ExhaustionReturnsNothing) {
    RangeAllocator a(1000);
    EXPECT_FALSE(a.allocate(1001, 1).has_value());
    ASSERT_TRUE(a.allocate(600, 1).has_value());
    EXPECT_FALSE(a.allocate(401, 1).has_value());
    EXPECT_TRUE(a.allocate(400, 1).has_value());
    EXPECT_FALSE(a.allocate(1, 1).has_value());
}

TEST(RangeAllocator, AlignmentPaddingCountsAgainstSpace) {
    RangeAllocator a(512);
    ASSERT_EQ(a.allocate(1, 1), 0u);
    // [1,512) is free but the next 256-aligned offset is 256: only 256 bytes fit.
    EXPECT_FALSE(a.allocate(300, 256).has_value());
    EXPECT_EQ(a.allocate(256, 256), 256u);
}

TEST(RangeAllocator, BestFitPrefersTheSmallestHole) {
    RangeAllocator a(4096);
    const auto a0 = a.allocate(1000, 1), gap1 = a.allocate(100, 1), a1 = a.allocate(1000, 1), gap2 = a.allocate(300, 1),
               a2 = a.allocate(1000, 1);
    ASSERT_TRUE(a0 && gap1 && a1 && gap2 && a2);
    a.free(*gap2);
    a.free(*gap1);
    EXPECT_EQ(a.allocate(90, 1), gap1) << "the 100-byte hole fits 90 bytes best";
}

TEST(RangeAllocator, RandomWorkloadNeverOverlaps) {
    const uint32_t seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    RangeAllocator a(1 << 16);
    std::map<uint64_t, uint64_t> live;  // offset -> size
    for (int step = 0; step < 5000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            const uint64_t size = 1 + rng() % 2000, align = 1ull << (rng() % 9);
            const auto off = a.allocate(size, align);
            if (!off) continue;
            ASSERT_EQ(*off % align, 0u);
            ASSERT_LE(*off + size, a.size());
            auto next = live.lower_bound(*off);
            if (next != live.end()) {
                ASSERT_LE(*off + size, next->first) << "overlaps the next range";
            }
            if (next != live.begin()) {
                ASSERT_LE(std::prev(next)->first + std::prev(next)->second, *off) << "overlaps the previous range";
            }
            live.emplace(*off, size);
        } else {
            auto it = live.begin();
            std::advance(it, rng() % live.size());
            a.free(it->first);
            live.erase(it);
        }
        ASSERT_EQ(a.allocationCount(), live.size());
    }
    for (const auto& [off, size] : live) a.free(off);
    EXPECT_EQ(a.used(), 0u);
    EXPECT_EQ(a.largestFree(), a.size());
}

TEST(RangeAllocatorDeath, FreeOfUnknownOffsetAborts) {
    RangeAllocator a(100);
    EXPECT_DEATH(a.free(7), "not allocated");
}

}  // namespace
}  // namespace vki::vk
