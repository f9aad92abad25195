// DeviceCaps: everything vkinfer needs to know about a physical device to pick
// kernels, tile sizes and memory strategy. Differences between vendors are data here,
// never branches on vendor names.
#pragma once

#include <volk.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace vki::vk {

struct MemoryHeapCaps {
    uint64_t size = 0;
    uint64_t budget = 0;  // from VK_EXT_memory_budget; 0 when the device does not report it
    bool device_local = false;
};

struct MemoryTypeCaps {
    uint32_t heap = 0;
    VkMemoryPropertyFlags flags = 0;
};

struct QueueFamilyCaps {
    VkQueueFlags flags = 0;
    uint32_t count = 0;
    uint32_t timestamp_valid_bits = 0;
};

// One entry of vkGetPhysicalDeviceCooperativeMatrixProperties{KHR,NV}.
struct CoopMatShape {
    uint32_t m = 0, n = 0, k = 0;
    std::string a_type, b_type, c_type, result_type;  // "f16", "f32", "s8", ...
    bool saturating = false;
    std::string scope;  // "subgroup", "workgroup", ...
};

struct DeviceCaps {
    uint32_t index = 0;  // position in the loader's list
    std::string name;
    std::string vendor;  // from the PCI vendor id: "NVIDIA", "AMD", "Intel", "Mesa", ...
    uint32_t vendor_id = 0;
    uint32_t device_id = 0;
    VkPhysicalDeviceType device_type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    uint32_t api_version = 0;
    uint32_t driver_id = 0;  // VkDriverId
    std::string driver_name;
    std::string driver_info;
    uint32_t driver_version = 0;      // raw, vendor-encoded
    std::string driver_version_text;  // decoded with the vendor's scheme
    std::array<uint8_t, 16> device_uuid{};
    std::array<uint8_t, 16> driver_uuid{};
    std::array<uint8_t, 16> pipeline_cache_uuid{};

    // Subgroups.
    uint32_t subgroup_size = 0;
    uint32_t subgroup_min_size = 0;  // subgroup size control range; equal to subgroup_size without it
    uint32_t subgroup_max_size = 0;
    bool subgroup_size_control = false;
    bool subgroup_in_compute = false;
    VkSubgroupFeatureFlags subgroup_ops = 0;

    // Arithmetic and storage types.
    bool shader_fp16 = false;
    bool shader_int8 = false;
    bool shader_int16 = false;
    bool shader_int64 = false;
    bool storage_buffer_8bit = false;
    bool storage_buffer_16bit = false;
    bool integer_dot_product = false;
    bool integer_dot_4x8_packed_accelerated = false;  // signed or unsigned, packed int8x4
    bool cooperative_matrix = false;
    std::vector<CoopMatShape> cooperative_matrix_shapes;
    // VK_NV_cooperative_matrix: the form of cooperative matrices Debian 12's glslang
    // compiles (GL_NV_cooperative_matrix), enabled at device creation when present.
    bool cooperative_matrix_nv = false;
    bool vulkan_memory_model = false;  // what GL_KHR_memory_scope_semantics (coopmat kernels) compiles to
    std::vector<CoopMatShape> cooperative_matrix_nv_shapes;
    bool timeline_semaphore = false;
    bool memory_budget = false;  // VK_EXT_memory_budget

    // Limits.
    uint32_t max_shared_memory = 0;
    std::array<uint32_t, 3> max_workgroup_size{};
    uint32_t max_workgroup_invocations = 0;
    std::array<uint32_t, 3> max_workgroup_count{};
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_memory_allocation_size = 0;
    uint64_t max_buffer_size = 0;  // maintenance4; 0 when unknown
    uint32_t max_push_constants_size = 0;
    uint64_t min_storage_buffer_offset_alignment = 0;
    uint64_t non_coherent_atom_size = 0;

    // Memory.
    std::vector<MemoryHeapCaps> memory_heaps;
    std::vector<MemoryTypeCaps> memory_types;
    uint64_t device_local_bytes = 0;  // largest device-local heap
    // Unified memory: an integrated or CPU device whose device-local memory is also
    // host visible and coherent, so uploads can skip staging.
    bool uma = false;

    // Timing.
    float timestamp_period_ns = 0.0f;
    bool timestamps = false;  // the compute queue family can write timestamps
    uint32_t timestamp_valid_bits = 0;

    std::vector<QueueFamilyCaps> queue_families;
    std::vector<std::string> extensions;  // every device extension

    bool hasExtension(const char* name) const;
    // Is a subgroup operation class (VK_SUBGROUP_FEATURE_*_BIT) available in compute shaders?
    bool hasSubgroupOps(VkSubgroupFeatureFlags ops) const { return subgroup_in_compute && (subgroup_ops & ops) == ops; }
    std::string uuidText() const;
};

// Probes one physical device. `instance_api` is the instance's API version: newer
// structures are only chained where both instance and device know them.
DeviceCaps probeCaps(VkPhysicalDevice physical_device, uint32_t index, uint32_t instance_api);

const char* deviceTypeName(VkPhysicalDeviceType type);
std::string apiVersionText(uint32_t version);
// "basic, vote, arithmetic, ballot, shuffle, ..." for VK_SUBGROUP_FEATURE_* flags.
std::string subgroupOpsText(VkSubgroupFeatureFlags ops);
std::string memoryFlagsText(VkMemoryPropertyFlags flags);

// Every field, for `vkinfer devices --json` and benchmark reports.
nlohmann::json toJson(const DeviceCaps& caps);

}  // namespace vki::vk
