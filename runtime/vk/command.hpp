// Command recording: a pool per queue, recorded command buffers that can be
// replayed, the barriers compute work needs, and timestamp queries.
#pragma once

#include <volk.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/vk/device.hpp"

namespace vki::vk {

class Buffer;
class Kernel;
class TimestampPool;

// A part of a buffer bound to a shader or copied.
struct BufferRange {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t offset = 0;
    uint64_t size = 0;
};
BufferRange wholeRange(const Buffer& buffer);

// One command buffer with its own pool (so it can be reset and re-recorded without
// touching anybody else's). Move-only. Record with begin() ... end(), submit through
// the Device; a recording made with `reusable` may be submitted again and again.
class CommandBuffer {
public:
    CommandBuffer(Device& device, QueueKind queue);
    ~CommandBuffer();
    CommandBuffer(CommandBuffer&& other) noexcept;
    CommandBuffer& operator=(CommandBuffer&&) = delete;
    CommandBuffer(const CommandBuffer&) = delete;
    CommandBuffer& operator=(const CommandBuffer&) = delete;

    // Resets the pool and starts a new recording.
    void begin(bool reusable = false);
    void end();

    // Pipeline, descriptor set, push constants (exactly the kernel's reflected
    // size) and dispatch in one call.
    void dispatch(const Kernel& kernel, VkDescriptorSet set, const void* push, uint32_t push_size, uint32_t groups_x,
                  uint32_t groups_y = 1, uint32_t groups_z = 1);
    template <typename Params>
    void dispatch(const Kernel& kernel, VkDescriptorSet set, const Params& params, uint32_t groups_x,
                  uint32_t groups_y = 1, uint32_t groups_z = 1) {
        static_assert(sizeof(Params) <= 128, "push constants are limited to 128 bytes");
        dispatch(kernel, set, &params, sizeof(Params), groups_x, groups_y, groups_z);
    }

    // Everything before (shader and transfer writes) becomes visible to everything
    // after (shader reads/writes, transfers) on this queue.
    void barrier();
    // Writes made so far become visible to the host after the submission completes.
    void barrierToHost();

    void copy(const BufferRange& src, const BufferRange& dst);
    // Fills `range` with a repeated 32-bit word (size a multiple of 4).
    void fill(const BufferRange& range, uint32_t word);

    void resetTimestamps(TimestampPool& pool);
    // Writes timestamp `query` after all previous commands finish.
    void timestamp(TimestampPool& pool, uint32_t query);

    // Submits on its queue and waits (with the device's timeout).
    void submitAndWait();
    SyncPoint submit();

    VkCommandBuffer handle() const { return cmd_; }

private:
    Device* device_;
    QueueKind queue_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
};

// Timestamp queries; durations come back in nanoseconds. On a device whose compute
// queue cannot write timestamps, supported() is false and durations are empty.
class TimestampPool {
public:
    TimestampPool(Device& device, uint32_t capacity);
    ~TimestampPool();
    TimestampPool(const TimestampPool&) = delete;
    TimestampPool& operator=(const TimestampPool&) = delete;

    bool supported() const { return pool_ != VK_NULL_HANDLE; }
    uint32_t capacity() const { return capacity_; }
    VkQueryPool handle() const { return pool_; }

    // Nanoseconds between query `begin` and query `end` of the last completed
    // submission. Throws kVulkan if the results are not available.
    double elapsedNs(uint32_t begin, uint32_t end) const;

private:
    Device& device_;
    VkQueryPool pool_ = VK_NULL_HANDLE;
    uint32_t capacity_;
};

}  // namespace vki::vk
