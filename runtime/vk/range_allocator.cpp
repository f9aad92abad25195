#include "runtime/vk/range_allocator.hpp"

#include <algorithm>
#include <iterator>

#include "common/error.hpp"

namespace vki::vk {

RangeAllocator::RangeAllocator(uint64_t size) : size_(size) {
    if (size > 0) free_.emplace(0, size);
}

std::optional<uint64_t> RangeAllocator::allocate(uint64_t size, uint64_t alignment) {
    VKI_ASSERT(size > 0);
    VKI_ASSERT(alignment > 0 && (alignment & (alignment - 1)) == 0);
    auto best = free_.end();
    uint64_t best_waste = UINT64_MAX;
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        const uint64_t aligned = (it->first + alignment - 1) & ~(alignment - 1);
        const uint64_t pad = aligned - it->first;
        if (pad > it->second || it->second - pad < size) continue;
        const uint64_t waste = it->second - size;
        if (waste < best_waste) {
            best = it;
            best_waste = waste;
            if (waste == pad) break;  // exact fit
        }
    }
    if (best == free_.end()) return std::nullopt;

    const uint64_t start = best->first, length = best->second;
    const uint64_t aligned = (start + alignment - 1) & ~(alignment - 1);
    const uint64_t pad = aligned - start;
    free_.erase(best);
    // The padding stays with the allocation so free() returns it in one piece.
    const uint64_t taken = pad + size;
    if (length > taken) free_.emplace(start + taken, length - taken);
    allocated_.emplace(aligned, Taken{taken, pad});
    used_ += taken;
    return aligned;
}

void RangeAllocator::free(uint64_t offset) {
    auto it = allocated_.find(offset);
    VKI_ASSERT_MSG(it != allocated_.end(), "free of an offset that was not allocated");
    uint64_t start = offset - it->second.padding;
    uint64_t length = it->second.length;
    used_ -= length;
    allocated_.erase(it);

    auto next = free_.lower_bound(start);
    if (next != free_.end() && start + length == next->first) {
        length += next->second;
        next = free_.erase(next);
    }
    if (next != free_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == start) {
            prev->second += length;
            return;
        }
    }
    free_.emplace(start, length);
}

uint64_t RangeAllocator::largestFree() const {
    uint64_t largest = 0;
    for (const auto& [offset, length] : free_) largest = std::max(largest, length);
    return largest;
}

}  // namespace vki::vk
