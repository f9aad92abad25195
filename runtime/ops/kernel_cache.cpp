#include "runtime/ops/kernel_cache.hpp"

#include <algorithm>

#include "runtime/vk/device.hpp"

namespace vki::ops {

KernelCache::KernelCache(vk::Device& device, VkPipelineCache pipeline_cache)
    : device_(device), pipeline_cache_(pipeline_cache) {}

const vk::Kernel& KernelCache::get(shaders::ShaderId id, std::vector<vk::SpecConstant> spec) {
    Key key{id, {}};
    for (const auto& s : spec) key.second.emplace_back(s.id, s.value);
    std::sort(key.second.begin(), key.second.end());
    std::lock_guard lock(mutex_);
    auto& slot = kernels_[key];
    if (!slot) slot = std::make_unique<vk::Kernel>(device_, shaders::blob(id), spec, pipeline_cache_);
    return *slot;
}

uint32_t streamingWorkgroupSize(const vk::DeviceCaps& caps) {
    return std::min({256u, caps.max_workgroup_invocations, caps.max_workgroup_size[0]});
}

uint32_t gridGroups(const vk::DeviceCaps& caps, uint64_t n, uint32_t workgroup_size) {
    const uint64_t needed = (n + workgroup_size - 1) / workgroup_size;
    return static_cast<uint32_t>(std::clamp<uint64_t>(needed, 1, std::min(caps.max_workgroup_count[0], 65535u)));
}

}  // namespace vki::ops
