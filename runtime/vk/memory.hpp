// Device memory: buffers sub-allocated from large VkDeviceMemory blocks (one
// RangeAllocator per block), in three kinds. Host-visible blocks stay mapped.
#pragma once

#include <volk.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/vk/range_allocator.hpp"

namespace vki::vk {

class Device;

enum class MemoryKind {
    kDevice,    // device-local; also mapped on UMA devices, where it is host visible
    kUpload,    // host-visible, coherent: staging for uploads, per-step parameters
    kReadback,  // host-visible, coherent, cached where possible: staging for downloads
};

const char* memoryKindName(MemoryKind kind);

class MemoryAllocator;

// A VkBuffer bound to a sub-range of a memory block. Move-only; returns its range on
// destruction. Usable as storage buffer and as transfer source and destination.
class Buffer {
public:
    Buffer() = default;
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    VkBuffer handle() const { return buffer_; }
    uint64_t size() const { return size_; }
    MemoryKind kind() const { return kind_; }
    // Host pointer to the buffer's first byte, or nullptr when not host visible.
    std::byte* mapped() const { return mapped_; }
    explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }

private:
    friend class MemoryAllocator;
    void release();

    MemoryAllocator* owner_ = nullptr;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    uint64_t size_ = 0;
    MemoryKind kind_ = MemoryKind::kDevice;
    std::byte* mapped_ = nullptr;
    size_t block_ = 0;
    uint64_t offset_ = 0;
};

struct MemoryStats {
    uint64_t reserved = 0;  // bytes of VkDeviceMemory held
    uint64_t used = 0;      // bytes handed out to buffers (alignment included)
    size_t blocks = 0;
    size_t buffers = 0;
};

class MemoryAllocator {
public:
    // `block_size` 0 picks min(256 MiB, maxMemoryAllocationSize, largest heap / 8).
    explicit MemoryAllocator(Device& device, uint64_t block_size = 0);
    ~MemoryAllocator();
    MemoryAllocator(const MemoryAllocator&) = delete;
    MemoryAllocator& operator=(const MemoryAllocator&) = delete;

    // Throws kOutOfMemory naming `label`, the size and what is in use when the
    // device cannot provide it, and kInvalidArgument for a zero size or one beyond
    // the device's maxMemoryAllocationSize. Thread-safe.
    Buffer createBuffer(uint64_t size, MemoryKind kind, const std::string& label);

    MemoryStats stats(MemoryKind kind) const;
    uint64_t blockSize() const { return block_size_; }
    Device& device() const { return device_; }

private:
    friend class Buffer;
    struct Block {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        uint32_t type = 0;
        MemoryKind kind = MemoryKind::kDevice;
        std::unique_ptr<RangeAllocator> ranges;
        std::byte* mapped = nullptr;
        bool dedicated = false;  // made for one buffer larger than a block; freed with it
    };

    uint32_t pickType(uint32_t type_bits, MemoryKind kind) const;
    size_t newBlock(uint32_t type, MemoryKind kind, uint64_t size, bool dedicated, const std::string& label);
    void free(const Buffer& buffer);
    std::string usageText() const;

    Device& device_;
    uint64_t block_size_;
    mutable std::mutex mutex_;
    std::vector<Block> blocks_;  // freed dedicated blocks leave an empty slot (memory == NULL)
};

}  // namespace vki::vk
