#include "runtime/vk/transfer.hpp"

#include <algorithm>
#include <cstring>

#include "common/error.hpp"

namespace vki::vk {

Transfer::Transfer(Device& device, MemoryAllocator& allocator, uint64_t staging_bytes, TransferPath path)
    : device_(device),
      chunk_bytes_(std::max<uint64_t>(staging_bytes / 2, 4096) & ~uint64_t{15}),
      path_(path),
      staging_up_(allocator.createBuffer(chunk_bytes_ * 2, MemoryKind::kUpload, "staging upload")),
      staging_down_(allocator.createBuffer(chunk_bytes_ * 2, MemoryKind::kReadback, "staging readback")),
      cmd_{CommandBuffer(device, QueueKind::kTransfer), CommandBuffer(device, QueueKind::kTransfer)} {}

void Transfer::upload(const Buffer& dst, uint64_t dst_offset, uint64_t size, const Producer& produce) {
    VKI_ASSERT(dst_offset <= dst.size() && size <= dst.size() - dst_offset);
    if (size == 0) return;
    if (dst.mapped() && path_ == TransferPath::kAuto) {
        // In place. The device must not be using this range right now; device.wait()
        // on earlier work is the caller's part, as for any host write.
        device_.waitIdle();
        produce(dst.mapped() + dst_offset, 0, size);
        return;
    }
    SyncPoint pending[2];
    for (uint64_t done = 0, chunk = 0; done < size; done += chunk_bytes_, ++chunk) {
        const uint64_t n = std::min(chunk_bytes_, size - done);
        const int half = static_cast<int>(chunk % 2);
        device_.wait(pending[half]);  // the half's previous copy has finished reading it
        std::byte* stage = staging_up_.mapped() + half * chunk_bytes_;
        produce(stage, done, n);
        CommandBuffer& cmd = cmd_[half];
        cmd.begin();
        cmd.copy({staging_up_.handle(), half * chunk_bytes_, n}, {dst.handle(), dst_offset + done, n});
        cmd.barrier();
        cmd.end();
        pending[half] = cmd.submit();
        staged_bytes_ += n;
    }
    device_.wait(pending[0]);
    device_.wait(pending[1]);
}

void Transfer::upload(const Buffer& dst, uint64_t dst_offset, std::span<const std::byte> data) {
    upload(dst, dst_offset, data.size(),
           [&](std::byte* out, uint64_t offset, uint64_t n) { std::memcpy(out, data.data() + offset, n); });
}

void Transfer::download(const Buffer& src, uint64_t src_offset, uint64_t size, const Consumer& consume) {
    VKI_ASSERT(src_offset <= src.size() && size <= src.size() - src_offset);
    if (size == 0) return;
    if (src.mapped() && path_ == TransferPath::kAuto) {
        device_.waitIdle();
        consume(src.mapped() + src_offset, 0, size);
        return;
    }
    // Copy chunk i+1 while the host consumes chunk i.
    const uint64_t chunks = (size + chunk_bytes_ - 1) / chunk_bytes_;
    SyncPoint pending[2];
    auto start = [&](uint64_t chunk) {
        const int half = static_cast<int>(chunk % 2);
        const uint64_t done = chunk * chunk_bytes_, n = std::min(chunk_bytes_, size - done);
        CommandBuffer& cmd = cmd_[half];
        cmd.begin();
        cmd.copy({src.handle(), src_offset + done, n}, {staging_down_.handle(), half * chunk_bytes_, n});
        cmd.barrierToHost();
        cmd.end();
        pending[half] = cmd.submit();
        staged_bytes_ += n;
    };
    start(0);
    for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
        if (chunk + 1 < chunks) start(chunk + 1);
        const int half = static_cast<int>(chunk % 2);
        device_.wait(pending[half]);
        const uint64_t done = chunk * chunk_bytes_, n = std::min(chunk_bytes_, size - done);
        consume(staging_down_.mapped() + half * chunk_bytes_, done, n);
    }
}

void Transfer::download(const Buffer& src, uint64_t src_offset, std::span<std::byte> out) {
    download(src, src_offset, out.size(),
             [&](const std::byte* in, uint64_t offset, uint64_t n) { std::memcpy(out.data() + offset, in, n); });
}

}  // namespace vki::vk
