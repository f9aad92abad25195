// Host <-> device copies. Host-visible destinations (UMA devices, upload/readback
// buffers) are written in place; otherwise data moves through a fixed staging
// buffer in chunks, double-buffered, so a large tensor never has a second full copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "runtime/vk/command.hpp"
#include "runtime/vk/memory.hpp"

namespace vki::vk {

enum class TransferPath {
    kAuto,     // in place when the buffer is host visible, staging otherwise
    kStaging,  // always through staging (tests use it to cover that path on UMA devices)
};

class Transfer {
public:
    // Fills `out` with `size` bytes of the source, starting at `offset` bytes into it.
    using Producer = std::function<void(std::byte* out, uint64_t offset, uint64_t size)>;
    // Takes `size` bytes that start `offset` bytes into the range being read.
    using Consumer = std::function<void(const std::byte* in, uint64_t offset, uint64_t size)>;

    // `staging_bytes` is split in two halves that alternate. The transfer queue is
    // used (the dedicated one where the device has it).
    Transfer(Device& device, MemoryAllocator& allocator, uint64_t staging_bytes = 16ull << 20,
             TransferPath path = TransferPath::kAuto);

    // Writes `size` bytes at `dst_offset` of `dst`, produced chunk by chunk.
    // Returns once the data is on the device.
    void upload(const Buffer& dst, uint64_t dst_offset, uint64_t size, const Producer& produce);
    void upload(const Buffer& dst, uint64_t dst_offset, std::span<const std::byte> data);

    // Reads `size` bytes at `src_offset` of `src`, chunk by chunk. Waits for the
    // device's earlier work on the buffer (submitted before this call), which must
    // end with CommandBuffer::barrierToHost() when `src` is host visible.
    void download(const Buffer& src, uint64_t src_offset, uint64_t size, const Consumer& consume);
    void download(const Buffer& src, uint64_t src_offset, std::span<std::byte> out);

    uint64_t chunkBytes() const { return chunk_bytes_; }
    // Bytes that went through staging (0 for in-place copies): for tests and stats.
    uint64_t stagedBytes() const { return staged_bytes_; }

private:
    Device& device_;
    uint64_t chunk_bytes_;
    TransferPath path_;
    Buffer staging_up_;
    Buffer staging_down_;
    CommandBuffer cmd_[2];
    uint64_t staged_bytes_ = 0;
};

}  // namespace vki::vk
