// RangeAllocator: sub-allocates aligned ranges of one block [0, size). Best fit over
// an offset-ordered free list that coalesces on free. No Vulkan: unit-tested alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace vki::vk {

class RangeAllocator {
public:
    explicit RangeAllocator(uint64_t size);

    // Offset of a free range of `size` bytes aligned to `alignment` (a power of two),
    // or nullopt when no free range is large enough. size must be > 0.
    std::optional<uint64_t> allocate(uint64_t size, uint64_t alignment);
    // Returns a range given out by allocate; VKI_ASSERTs on an unknown offset.
    void free(uint64_t offset);

    uint64_t size() const { return size_; }
    uint64_t used() const { return used_; }
    uint64_t largestFree() const;
    size_t allocationCount() const { return allocated_.size(); }
    size_t freeRangeCount() const { return free_.size(); }

private:
    uint64_t size_;
    uint64_t used_ = 0;
    std::map<uint64_t, uint64_t> free_;  // offset -> length, disjoint and not adjacent
    struct Taken {
        uint64_t length;   // bytes taken, alignment padding included
        uint64_t padding;  // bytes before the aligned offset
    };
    std::map<uint64_t, Taken> allocated_;  // aligned offset -> what it took
};

}  // namespace vki::vk
