#include "runtime/vk/memory.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "runtime/vk/check.hpp"
#include "runtime/vk/device.hpp"

namespace vki::vk {

const char* memoryKindName(MemoryKind kind) {
    switch (kind) {
        case MemoryKind::kDevice:
            return "device";
        case MemoryKind::kUpload:
            return "upload";
        case MemoryKind::kReadback:
            return "readback";
    }
    return "?";
}

Buffer::~Buffer() {
    release();
}

Buffer::Buffer(Buffer&& other) noexcept {
    *this = std::move(other);
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        buffer_ = std::exchange(other.buffer_, VK_NULL_HANDLE);
        size_ = std::exchange(other.size_, 0);
        kind_ = other.kind_;
        mapped_ = std::exchange(other.mapped_, nullptr);
        block_ = other.block_;
        offset_ = other.offset_;
    }
    return *this;
}

void Buffer::release() {
    if (owner_) owner_->free(*this);
    owner_ = nullptr;
    buffer_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
    size_ = 0;
}

MemoryAllocator::MemoryAllocator(Device& device, uint64_t block_size) : device_(device), block_size_(block_size) {
    const DeviceCaps& caps = device.caps();
    if (block_size_ == 0) {
        uint64_t largest_heap = 0;
        for (const auto& h : caps.memory_heaps) largest_heap = std::max(largest_heap, h.size);
        block_size_ = std::min<uint64_t>(256ull << 20, largest_heap / 8);
        if (caps.max_memory_allocation_size) block_size_ = std::min(block_size_, caps.max_memory_allocation_size);
        block_size_ = std::max<uint64_t>(block_size_, 1ull << 20);
    }
}

MemoryAllocator::~MemoryAllocator() {
    for (auto& b : blocks_) {
        if (!b.memory) continue;
        VKI_ASSERT_MSG(b.ranges->allocationCount() == 0, "a Buffer outlives its MemoryAllocator");
        device_.vk().vkFreeMemory(device_.handle(), b.memory, nullptr);
    }
}

uint32_t MemoryAllocator::pickType(uint32_t type_bits, MemoryKind kind) const {
    const auto& types = device_.caps().memory_types;
    VkMemoryPropertyFlags required = 0, preferred = 0, avoided = 0;
    switch (kind) {
        case MemoryKind::kDevice:
            required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
            // On UMA the device-local memory is also mappable: take a mapped type so
            // uploads write in place.
            if (device_.caps().uma)
                preferred = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            break;
        case MemoryKind::kUpload:
            required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            if (!device_.caps().uma) avoided = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;  // keep the small BAR free
            break;
        case MemoryKind::kReadback:
            required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            preferred = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
            break;
    }
    int best = -1, best_score = -1;
    for (uint32_t i = 0; i < types.size(); ++i) {
        if (!(type_bits & (1u << i)) || (types[i].flags & required) != required) continue;
        int score = ((types[i].flags & preferred) == preferred ? 2 : 0) + ((types[i].flags & avoided) ? 0 : 1);
        if (score > best_score) {
            best = static_cast<int>(i);
            best_score = score;
        }
    }
    if (best < 0)
        throw Error(ErrorCode::kUnsupported, std::string("device has no memory type for ") + memoryKindName(kind) +
                                                 " buffers (needs " + memoryFlagsText(required) + ")");
    return static_cast<uint32_t>(best);
}

size_t MemoryAllocator::newBlock(uint32_t type, MemoryKind kind, uint64_t size, bool dedicated,
                                 const std::string& label) {
    VkMemoryAllocateInfo info = {VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    info.allocationSize = size;
    info.memoryTypeIndex = type;
    Block block;
    block.type = type;
    block.kind = kind;
    block.dedicated = dedicated;
    const VkResult result = device_.vk().vkAllocateMemory(device_.handle(), &info, nullptr, &block.memory);
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
        throw Error(ErrorCode::kOutOfMemory,
                    std::string("out of ") + (result == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host") +
                        " memory allocating " + formatBytes(size) + " for \"" + label + "\" (" + memoryKindName(kind) +
                        " memory; in use: " + usageText() + "). Use a smaller model, context or batch.");
    VKI_VK(result);
    if (device_.caps().memory_types[type].flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        void* ptr = nullptr;
        const VkResult map_result = device_.vk().vkMapMemory(device_.handle(), block.memory, 0, VK_WHOLE_SIZE, 0, &ptr);
        if (map_result != VK_SUCCESS) {
            device_.vk().vkFreeMemory(device_.handle(), block.memory, nullptr);
            VKI_VK(map_result);
        }
        block.mapped = static_cast<std::byte*>(ptr);
    }
    block.ranges = std::make_unique<RangeAllocator>(size);
    VKI_LOG_DEBUG("memory: new {} block of {} (type {}) for \"{}\"", memoryKindName(kind), formatBytes(size), type,
                  label);
    for (size_t i = 0; i < blocks_.size(); ++i) {
        if (!blocks_[i].memory) {
            blocks_[i] = std::move(block);
            return i;
        }
    }
    blocks_.push_back(std::move(block));
    return blocks_.size() - 1;
}

Buffer MemoryAllocator::createBuffer(uint64_t size, MemoryKind kind, const std::string& label) {
    if (size == 0) throw Error(ErrorCode::kInvalidArgument, "buffer \"" + label + "\" has size 0");
    const DeviceCaps& caps = device_.caps();
    if (caps.max_memory_allocation_size && size > caps.max_memory_allocation_size)
        throw Error(ErrorCode::kInvalidArgument, "buffer \"" + label + "\" of " + formatBytes(size) +
                                                     " exceeds the device's maxMemoryAllocationSize (" +
                                                     formatBytes(caps.max_memory_allocation_size) + "): split it");
    if (caps.max_buffer_size && size > caps.max_buffer_size)
        throw Error(ErrorCode::kInvalidArgument, "buffer \"" + label + "\" of " + formatBytes(size) +
                                                     " exceeds the device's maxBufferSize (" +
                                                     formatBytes(caps.max_buffer_size) + "): split it");

    const auto& vk = device_.vk();
    VkBufferCreateInfo info = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = size;
    info.usage =
        VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    const auto& families = device_.queueFamilies();
    info.sharingMode = families.size() > 1 ? VK_SHARING_MODE_CONCURRENT : VK_SHARING_MODE_EXCLUSIVE;
    info.queueFamilyIndexCount = families.size() > 1 ? static_cast<uint32_t>(families.size()) : 0;
    info.pQueueFamilyIndices = families.size() > 1 ? families.data() : nullptr;

    Buffer buffer;
    VKI_VK(vk.vkCreateBuffer(device_.handle(), &info, nullptr, &buffer.buffer_));
    buffer.size_ = size;
    buffer.kind_ = kind;

    try {
        VkMemoryRequirements req;
        vk.vkGetBufferMemoryRequirements(device_.handle(), buffer.buffer_, &req);
        const uint32_t type = pickType(req.memoryTypeBits, kind);

        std::lock_guard lock(mutex_);
        size_t block_index = blocks_.size();
        std::optional<uint64_t> offset;
        for (size_t i = 0; i < blocks_.size() && !offset; ++i) {
            Block& b = blocks_[i];
            if (!b.memory || b.dedicated || b.type != type || b.kind != kind) continue;
            offset = b.ranges->allocate(req.size, req.alignment);
            if (offset) block_index = i;
        }
        if (!offset) {
            const bool dedicated = req.size > block_size_ / 2;
            block_index = newBlock(type, kind, dedicated ? req.size : block_size_, dedicated, label);
            offset = blocks_[block_index].ranges->allocate(req.size, req.alignment);
            VKI_ASSERT(offset.has_value());
        }
        Block& block = blocks_[block_index];
        buffer.block_ = block_index;
        buffer.offset_ = *offset;
        buffer.owner_ = this;
        if (block.mapped) buffer.mapped_ = block.mapped + *offset;
        VKI_VK(vk.vkBindBufferMemory(device_.handle(), buffer.buffer_, block.memory, *offset));
    } catch (...) {
        if (!buffer.owner_) {
            vk.vkDestroyBuffer(device_.handle(), buffer.buffer_, nullptr);
            buffer.buffer_ = VK_NULL_HANDLE;
        }
        throw;
    }
    return buffer;
}

void MemoryAllocator::free(const Buffer& buffer) {
    device_.vk().vkDestroyBuffer(device_.handle(), buffer.buffer_, nullptr);
    std::lock_guard lock(mutex_);
    Block& block = blocks_[buffer.block_];
    block.ranges->free(buffer.offset_);
    if (block.dedicated) {
        device_.vk().vkFreeMemory(device_.handle(), block.memory, nullptr);
        block = Block{};
    }
}

MemoryStats MemoryAllocator::stats(MemoryKind kind) const {
    std::lock_guard lock(mutex_);
    MemoryStats s;
    for (const auto& b : blocks_) {
        if (!b.memory || b.kind != kind) continue;
        s.reserved += b.ranges->size();
        s.used += b.ranges->used();
        s.blocks += 1;
        s.buffers += b.ranges->allocationCount();
    }
    return s;
}

std::string MemoryAllocator::usageText() const {
    // Called with mutex_ held.
    std::string text;
    for (MemoryKind kind : {MemoryKind::kDevice, MemoryKind::kUpload, MemoryKind::kReadback}) {
        uint64_t reserved = 0;
        for (const auto& b : blocks_)
            if (b.memory && b.kind == kind) reserved += b.ranges->size();
        if (!text.empty()) text += ", ";
        text += std::string(memoryKindName(kind)) + " " + formatBytes(reserved);
    }
    return text;
}

}  // namespace vki::vk
