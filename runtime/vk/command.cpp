#include "runtime/vk/command.hpp"

#include <utility>

#include "runtime/vk/check.hpp"
#include "runtime/vk/memory.hpp"
#include "runtime/vk/pipeline.hpp"

namespace vki::vk {

namespace {

// Stages and accesses a queue may name in barriers: a transfer-only queue knows no
// shader stage.
struct Scope {
    VkPipelineStageFlags stages;
    VkAccessFlags writes;
    VkAccessFlags reads_writes;
};

Scope scopeOf(const Device& device, QueueKind queue) {
    if (queue == QueueKind::kTransfer && device.hasDedicatedTransferQueue())
        return {VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    return {VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                VK_ACCESS_TRANSFER_WRITE_BIT};
}

void memoryBarrier(const Device& device, VkCommandBuffer cmd, VkPipelineStageFlags src_stages, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
    VkMemoryBarrier barrier = {VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = src_access;
    barrier.dstAccessMask = dst_access;
    device.vk().vkCmdPipelineBarrier(cmd, src_stages, dst_stages, 0, 1, &barrier, 0, nullptr, 0, nullptr);
}

}  // namespace

BufferRange wholeRange(const Buffer& buffer) {
    return {buffer.handle(), 0, buffer.size()};
}

CommandBuffer::CommandBuffer(Device& device, QueueKind queue) : device_(&device), queue_(queue) {
    const auto& vk = device.vk();
    VkCommandPoolCreateInfo pool_info = {VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pool_info.queueFamilyIndex = device.queueFamily(queue);
    VKI_VK(vk.vkCreateCommandPool(device.handle(), &pool_info, nullptr, &pool_));
    VkCommandBufferAllocateInfo info = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    info.commandPool = pool_;
    info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    info.commandBufferCount = 1;
    const VkResult result = vk.vkAllocateCommandBuffers(device.handle(), &info, &cmd_);
    if (result != VK_SUCCESS) {
        vk.vkDestroyCommandPool(device.handle(), pool_, nullptr);
        VKI_VK(result);
    }
}

CommandBuffer::~CommandBuffer() {
    if (pool_) device_->vk().vkDestroyCommandPool(device_->handle(), pool_, nullptr);
}

CommandBuffer::CommandBuffer(CommandBuffer&& other) noexcept
    : device_(other.device_),
      queue_(other.queue_),
      pool_(std::exchange(other.pool_, VK_NULL_HANDLE)),
      cmd_(std::exchange(other.cmd_, VK_NULL_HANDLE)) {}

void CommandBuffer::begin(bool reusable) {
    VKI_VK(device_->vk().vkResetCommandPool(device_->handle(), pool_, 0));
    VkCommandBufferBeginInfo info = {VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    info.flags = reusable ? 0 : VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKI_VK(device_->vk().vkBeginCommandBuffer(cmd_, &info));
    // Whatever earlier submissions and the host wrote is visible to this recording.
    const Scope scope = scopeOf(*device_, queue_);
    memoryBarrier(*device_, cmd_, scope.stages | VK_PIPELINE_STAGE_HOST_BIT, scope.writes | VK_ACCESS_HOST_WRITE_BIT,
                  scope.stages, scope.reads_writes);
}

void CommandBuffer::end() {
    VKI_VK(device_->vk().vkEndCommandBuffer(cmd_));
}

void CommandBuffer::dispatch(const Kernel& kernel, VkDescriptorSet set, const void* push, uint32_t push_size,
                             uint32_t groups_x, uint32_t groups_y, uint32_t groups_z) {
    VKI_ASSERT_MSG(push_size == kernel.pushConstantSize(), "push constant struct does not match the shader");
    const auto& limits = device_->caps().max_workgroup_count;
    VKI_ASSERT(groups_x <= limits[0] && groups_y <= limits[1] && groups_z <= limits[2]);
    const auto& vk = device_->vk();
    vk.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline());
    if (set) vk.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout(), 0, 1, &set, 0, nullptr);
    if (push_size) vk.vkCmdPushConstants(cmd_, kernel.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    vk.vkCmdDispatch(cmd_, groups_x, groups_y, groups_z);
}

void CommandBuffer::barrier() {
    const Scope scope = scopeOf(*device_, queue_);
    memoryBarrier(*device_, cmd_, scope.stages, scope.writes, scope.stages, scope.reads_writes);
}

void CommandBuffer::barrierToHost() {
    const Scope scope = scopeOf(*device_, queue_);
    memoryBarrier(*device_, cmd_, scope.stages, scope.writes, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
}

void CommandBuffer::copy(const BufferRange& src, const BufferRange& dst) {
    VKI_ASSERT(src.size == dst.size && src.size > 0);
    VkBufferCopy region = {src.offset, dst.offset, src.size};
    device_->vk().vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &region);
}

void CommandBuffer::fill(const BufferRange& range, uint32_t word) {
    VKI_ASSERT(range.size % 4 == 0 && range.offset % 4 == 0);
    device_->vk().vkCmdFillBuffer(cmd_, range.buffer, range.offset, range.size, word);
}

void CommandBuffer::resetTimestamps(TimestampPool& pool) {
    if (pool.supported()) device_->vk().vkCmdResetQueryPool(cmd_, pool.handle(), 0, pool.capacity());
}

void CommandBuffer::timestamp(TimestampPool& pool, uint32_t query) {
    VKI_ASSERT(query < pool.capacity());
    if (pool.supported())
        device_->vk().vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool.handle(), query);
}

SyncPoint CommandBuffer::submit() {
    return device_->submit(queue_, cmd_);
}

void CommandBuffer::submitAndWait() {
    device_->wait(submit());
}

TimestampPool::TimestampPool(Device& device, uint32_t capacity) : device_(device), capacity_(capacity) {
    if (!device.caps().timestamps) return;
    VkQueryPoolCreateInfo info = {VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = capacity;
    VKI_VK(device.vk().vkCreateQueryPool(device.handle(), &info, nullptr, &pool_));
}

TimestampPool::~TimestampPool() {
    if (pool_) device_.vk().vkDestroyQueryPool(device_.handle(), pool_, nullptr);
}

double TimestampPool::elapsedNs(uint32_t begin, uint32_t end) const {
    VKI_ASSERT(supported() && begin < capacity_ && end < capacity_);
    uint64_t ticks[2] = {};
    for (int i = 0; i < 2; ++i) {
        const VkResult result =
            device_.vk().vkGetQueryPoolResults(device_.handle(), pool_, i ? end : begin, 1, sizeof(uint64_t), &ticks[i],
                                               sizeof(uint64_t), VK_QUERY_RESULT_64_BIT);
        if (result == VK_NOT_READY)
            throw Error(ErrorCode::kInternal, "timestamp query read before its submission completed");
        VKI_VK(result);
    }
    const uint32_t bits = device_.caps().timestamp_valid_bits;
    const uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    const uint64_t delta = ((ticks[1] & mask) - (ticks[0] & mask)) & mask;
    return static_cast<double>(delta) * device_.caps().timestamp_period_ns;
}

}  // namespace vki::vk
