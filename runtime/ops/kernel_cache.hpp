// Kernels by (shader variant, specialization constants), created on first use and
// kept for the device's lifetime. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "registry.hpp"
#include "runtime/vk/pipeline.hpp"

namespace vki::ops {

class KernelCache {
public:
    KernelCache(vk::Device& device, VkPipelineCache pipeline_cache);

    const vk::Kernel& get(shaders::ShaderId id, std::vector<vk::SpecConstant> spec = {});

    vk::Device& device() const { return device_; }

private:
    using Key = std::pair<shaders::ShaderId, std::vector<std::pair<uint32_t, uint32_t>>>;

    vk::Device& device_;
    VkPipelineCache pipeline_cache_;
    std::mutex mutex_;
    std::map<Key, std::unique_ptr<vk::Kernel>> kernels_;
};

// What an op needs to record itself.
struct OpContext {
    vk::Device& device;
    KernelCache& kernels;
    vk::DescriptorArena& arena;
};

// The x workgroup size the simple streaming kernels use on this device (spec 0).
uint32_t streamingWorkgroupSize(const vk::DeviceCaps& caps);
// Workgroups for a grid-stride loop over n items, within the device's limit.
uint32_t gridGroups(const vk::DeviceCaps& caps, uint64_t n, uint32_t workgroup_size);

}  // namespace vki::ops
