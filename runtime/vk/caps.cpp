#include "runtime/vk/caps.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "runtime/vk/check.hpp"
#include "runtime/vk/khr_cooperative_matrix.hpp"

namespace vki::vk {

namespace {

const char* vendorName(uint32_t id) {
    switch (id) {
        case 0x10DE:
            return "NVIDIA";
        case 0x1002:
            return "AMD";
        case 0x1022:
            return "AMD";
        case 0x8086:
            return "Intel";
        case 0x13B5:
            return "ARM";
        case 0x5143:
            return "Qualcomm";
        case 0x106B:
            return "Apple";
        case 0x1010:
            return "Imagination";
        case 0x14E4:
            return "Broadcom";
        case VK_VENDOR_ID_MESA:
            return "Mesa";
        default:
            return "unknown";
    }
}

// Drivers encode their version each in their own way.
std::string driverVersionText(uint32_t vendor_id, uint32_t v) {
    char text[48];
    if (vendor_id == 0x10DE) {
        std::snprintf(text, sizeof(text), "%u.%u.%u.%u", v >> 22, (v >> 14) & 0xFF, (v >> 6) & 0xFF, v & 0x3F);
    } else {
        std::snprintf(text, sizeof(text), "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
                      VK_API_VERSION_PATCH(v));
    }
    return text;
}

const char* componentTypeName(coopmat::VkiComponentType t) {
    switch (t) {
        case coopmat::kFloat16:
            return "f16";
        case coopmat::kFloat32:
            return "f32";
        case coopmat::kFloat64:
            return "f64";
        case coopmat::kSint8:
            return "s8";
        case coopmat::kSint16:
            return "s16";
        case coopmat::kSint32:
            return "s32";
        case coopmat::kSint64:
            return "s64";
        case coopmat::kUint8:
            return "u8";
        case coopmat::kUint16:
            return "u16";
        case coopmat::kUint32:
            return "u32";
        case coopmat::kUint64:
            return "u64";
    }
    return "other";
}

const char* scopeName(coopmat::VkiScope s) {
    switch (s) {
        case coopmat::kScopeDevice:
            return "device";
        case coopmat::kScopeWorkgroup:
            return "workgroup";
        case coopmat::kScopeSubgroup:
            return "subgroup";
        case coopmat::kScopeQueueFamily:
            return "queue_family";
    }
    return "other";
}

std::vector<CoopMatShape> coopMatShapes(VkPhysicalDevice pd) {
    auto get = reinterpret_cast<coopmat::PfnGetPhysicalDeviceCooperativeMatrixProperties>(
        vkGetInstanceProcAddr(volkGetLoadedInstance(), coopmat::kGetPropertiesName));
    if (!get) return {};
    uint32_t count = 0;
    VKI_VK(get(pd, &count, nullptr));
    std::vector<coopmat::VkiCooperativeMatrixProperties> props(count);
    for (auto& p : props) {
        std::memset(&p, 0, sizeof(p));
        p.sType = coopmat::kStructProperties;
    }
    VKI_VK(get(pd, &count, props.data()));
    std::vector<CoopMatShape> shapes;
    for (uint32_t i = 0; i < count; ++i) {
        const auto& p = props[i];
        shapes.push_back({p.MSize, p.NSize, p.KSize, componentTypeName(p.AType), componentTypeName(p.BType),
                          componentTypeName(p.CType), componentTypeName(p.ResultType),
                          p.saturatingAccumulation == VK_TRUE, scopeName(p.scope)});
    }
    return shapes;
}

const char* nvComponentTypeName(VkComponentTypeNV t) {
    // VkComponentTypeNV has the values of VkComponentTypeKHR.
    return componentTypeName(static_cast<coopmat::VkiComponentType>(t));
}

std::vector<CoopMatShape> coopMatShapesNv(VkPhysicalDevice pd) {
    if (!vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) return {};
    uint32_t count = 0;
    VKI_VK(vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &count, nullptr));
    std::vector<VkCooperativeMatrixPropertiesNV> props(count, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    VKI_VK(vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(pd, &count, props.data()));
    std::vector<CoopMatShape> shapes;
    for (uint32_t i = 0; i < count; ++i) {
        const auto& p = props[i];
        shapes.push_back({p.MSize, p.NSize, p.KSize, nvComponentTypeName(p.AType), nvComponentTypeName(p.BType),
                          nvComponentTypeName(p.CType), nvComponentTypeName(p.DType), false,
                          scopeName(static_cast<coopmat::VkiScope>(p.scope))});
    }
    return shapes;
}

std::string hexBytes(const std::array<uint8_t, 16>& bytes) {
    std::string text;
    char digit[3];
    for (uint8_t b : bytes) {
        std::snprintf(digit, sizeof(digit), "%02x", b);
        text += digit;
    }
    return text;
}

}  // namespace

bool DeviceCaps::hasExtension(const char* ext) const {
    for (const auto& e : extensions)
        if (e == ext) return true;
    return false;
}

std::string DeviceCaps::uuidText() const {
    return hexBytes(device_uuid);
}

DeviceCaps probeCaps(VkPhysicalDevice pd, uint32_t index, uint32_t instance_api) {
    DeviceCaps caps;
    caps.index = index;

    uint32_t ext_count = 0;
    VKI_VK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &ext_count, nullptr));
    std::vector<VkExtensionProperties> exts(ext_count);
    VKI_VK(vkEnumerateDeviceExtensionProperties(pd, nullptr, &ext_count, exts.data()));
    for (uint32_t i = 0; i < ext_count; ++i) caps.extensions.emplace_back(exts[i].extensionName);

    VkPhysicalDeviceProperties basic;
    vkGetPhysicalDeviceProperties(pd, &basic);
    caps.api_version = basic.apiVersion;
    // Structures of a version are valid only where both instance and device know it.
    const uint32_t api = std::min(basic.apiVersion, instance_api);
    const bool v12 = api >= VK_API_VERSION_1_2;
    const bool v13 = api >= VK_API_VERSION_1_3;

    // Properties.
    VkPhysicalDeviceProperties2 props = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    VkPhysicalDeviceIDProperties id_props = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup_props = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties maint3 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceDriverProperties driver_props = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties size_control_props = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceShaderIntegerDotProductProperties dot_props = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
    VkPhysicalDeviceMaintenance4Properties maint4 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};

    const bool has_driver_props = v12 || caps.hasExtension(VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    const bool has_size_control = v13 || caps.hasExtension(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    const bool has_dot = v13 || caps.hasExtension(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    const bool has_maint4 = v13 || caps.hasExtension(VK_KHR_MAINTENANCE_4_EXTENSION_NAME);

    void** tail = &props.pNext;
    auto chain = [&tail](auto& s) {
        *tail = &s;
        tail = &s.pNext;
    };
    chain(id_props);
    chain(subgroup_props);
    chain(maint3);
    if (has_driver_props) chain(driver_props);
    if (has_size_control) chain(size_control_props);
    if (has_dot) chain(dot_props);
    if (has_maint4) chain(maint4);
    vkGetPhysicalDeviceProperties2(pd, &props);

    const VkPhysicalDeviceLimits& lim = props.properties.limits;
    caps.name = props.properties.deviceName;
    caps.vendor_id = props.properties.vendorID;
    caps.vendor = vendorName(caps.vendor_id);
    caps.device_id = props.properties.deviceID;
    caps.device_type = props.properties.deviceType;
    caps.driver_version = props.properties.driverVersion;
    caps.driver_version_text = driverVersionText(caps.vendor_id, caps.driver_version);
    if (has_driver_props) {
        caps.driver_id = driver_props.driverID;
        caps.driver_name = driver_props.driverName;
        caps.driver_info = driver_props.driverInfo;
    }
    std::memcpy(caps.device_uuid.data(), id_props.deviceUUID, VK_UUID_SIZE);
    std::memcpy(caps.driver_uuid.data(), id_props.driverUUID, VK_UUID_SIZE);
    std::memcpy(caps.pipeline_cache_uuid.data(), props.properties.pipelineCacheUUID, VK_UUID_SIZE);

    caps.subgroup_size = subgroup_props.subgroupSize;
    caps.subgroup_in_compute = (subgroup_props.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    caps.subgroup_ops = subgroup_props.supportedOperations;
    caps.subgroup_min_size = caps.subgroup_max_size = caps.subgroup_size;
    if (has_size_control && size_control_props.minSubgroupSize != 0) {
        caps.subgroup_min_size = size_control_props.minSubgroupSize;
        caps.subgroup_max_size = size_control_props.maxSubgroupSize;
    }
    if (has_dot)
        caps.integer_dot_4x8_packed_accelerated = dot_props.integerDotProduct4x8BitPackedSignedAccelerated ||
                                                  dot_props.integerDotProduct4x8BitPackedUnsignedAccelerated;

    caps.max_shared_memory = lim.maxComputeSharedMemorySize;
    for (int i = 0; i < 3; ++i) {
        caps.max_workgroup_size[i] = lim.maxComputeWorkGroupSize[i];
        caps.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
    }
    caps.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
    caps.max_storage_buffer_range = lim.maxStorageBufferRange;
    caps.max_memory_allocation_size = maint3.maxMemoryAllocationSize;
    caps.max_buffer_size = has_maint4 ? maint4.maxBufferSize : 0;
    caps.max_push_constants_size = lim.maxPushConstantsSize;
    caps.min_storage_buffer_offset_alignment = lim.minStorageBufferOffsetAlignment;
    caps.non_coherent_atom_size = lim.nonCoherentAtomSize;
    caps.timestamp_period_ns = lim.timestampPeriod;

    // Features.
    VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDevice16BitStorageFeatures storage16 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDevice8BitStorageFeatures storage8 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceTimelineSemaphoreFeatures timeline = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures size_control = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceShaderIntegerDotProductFeatures dot = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    coopmat::VkiPhysicalDeviceCooperativeMatrixFeatures coop = {coopmat::kStructPhysicalDeviceFeatures, nullptr,
                                                                VK_FALSE, VK_FALSE};
    const bool has_8bit = v12 || caps.hasExtension(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    const bool has_f16i8 = v12 || caps.hasExtension(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    const bool has_timeline = v12 || caps.hasExtension(VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME);
    const bool has_coop = caps.hasExtension(coopmat::kExtensionName);
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coop_nv = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    const bool has_coop_nv = caps.hasExtension(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    const bool has_memory_model = v12 || caps.hasExtension(VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);

    tail = &features.pNext;
    chain(storage16);
    if (has_8bit) chain(storage8);
    if (has_f16i8) chain(f16i8);
    if (has_timeline) chain(timeline);
    if (has_size_control) chain(size_control);
    if (has_dot) chain(dot);
    if (has_coop) chain(coop);
    if (has_coop_nv) chain(coop_nv);
    if (has_memory_model) chain(memory_model);
    vkGetPhysicalDeviceFeatures2(pd, &features);

    caps.shader_int16 = features.features.shaderInt16;
    caps.shader_int64 = features.features.shaderInt64;
    caps.storage_buffer_16bit = storage16.storageBuffer16BitAccess;
    caps.storage_buffer_8bit = has_8bit && storage8.storageBuffer8BitAccess;
    caps.shader_fp16 = has_f16i8 && f16i8.shaderFloat16;
    caps.shader_int8 = has_f16i8 && f16i8.shaderInt8;
    caps.timeline_semaphore = has_timeline && timeline.timelineSemaphore;
    caps.subgroup_size_control = has_size_control && size_control.subgroupSizeControl;
    caps.integer_dot_product = has_dot && dot.shaderIntegerDotProduct;
    caps.cooperative_matrix = has_coop && coop.cooperativeMatrix;
    if (caps.cooperative_matrix) caps.cooperative_matrix_shapes = coopMatShapes(pd);
    caps.cooperative_matrix_nv = has_coop_nv && coop_nv.cooperativeMatrix;
    caps.vulkan_memory_model = has_memory_model && memory_model.vulkanMemoryModel;
    if (caps.cooperative_matrix_nv) caps.cooperative_matrix_nv_shapes = coopMatShapesNv(pd);

    // Memory.
    caps.memory_budget = caps.hasExtension(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    VkPhysicalDeviceMemoryProperties2 mem = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    if (caps.memory_budget) mem.pNext = &budget;
    vkGetPhysicalDeviceMemoryProperties2(pd, &mem);
    const auto& mp = mem.memoryProperties;
    for (uint32_t i = 0; i < mp.memoryHeapCount; ++i) {
        MemoryHeapCaps heap;
        heap.size = mp.memoryHeaps[i].size;
        heap.device_local = (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
        heap.budget = caps.memory_budget ? budget.heapBudget[i] : 0;
        if (heap.device_local) caps.device_local_bytes = std::max(caps.device_local_bytes, heap.size);
        caps.memory_heaps.push_back(heap);
    }
    const VkMemoryPropertyFlags unified = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    bool has_unified_type = false;
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
        caps.memory_types.push_back({mp.memoryTypes[i].heapIndex, mp.memoryTypes[i].propertyFlags});
        if ((mp.memoryTypes[i].propertyFlags & unified) == unified) has_unified_type = true;
    }
    caps.uma = has_unified_type && (caps.device_type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
                                    caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU);

    // Queues.
    uint32_t family_count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &family_count, nullptr);
    std::vector<VkQueueFamilyProperties> families(family_count);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &family_count, families.data());
    for (const auto& f : families) {
        caps.queue_families.push_back({f.queueFlags, f.queueCount, f.timestampValidBits});
        if ((f.queueFlags & VK_QUEUE_COMPUTE_BIT) && !caps.timestamps && f.timestampValidBits > 0) {
            caps.timestamps = true;
            caps.timestamp_valid_bits = f.timestampValidBits;
        }
    }
    return caps;
}

const char* deviceTypeName(VkPhysicalDeviceType type) {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return "integrated";
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return "discrete";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return "virtual";
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return "cpu";
        default:
            return "other";
    }
}

std::string apiVersionText(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

namespace {

template <typename Flag>
std::string flagList(uint32_t flags, std::initializer_list<std::pair<Flag, const char*>> names) {
    std::string text;
    for (const auto& [bit, name] : names) {
        if (!(flags & static_cast<uint32_t>(bit))) continue;
        if (!text.empty()) text += ", ";
        text += name;
    }
    return text.empty() ? "none" : text;
}

}  // namespace

std::string subgroupOpsText(VkSubgroupFeatureFlags ops) {
    return flagList<VkSubgroupFeatureFlagBits>(ops, {{VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
                                                     {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
                                                     {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
                                                     {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
                                                     {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
                                                     {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
                                                     {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
                                                     {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"}});
}

std::string memoryFlagsText(VkMemoryPropertyFlags flags) {
    return flagList<VkMemoryPropertyFlagBits>(flags, {{VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "device_local"},
                                                      {VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "host_visible"},
                                                      {VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "host_coherent"},
                                                      {VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "host_cached"},
                                                      {VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT, "lazily_allocated"},
                                                      {VK_MEMORY_PROPERTY_PROTECTED_BIT, "protected"}});
}

nlohmann::json toJson(const DeviceCaps& c) {
    using nlohmann::json;
    json heaps = json::array();
    for (const auto& h : c.memory_heaps)
        heaps.push_back({{"size", h.size}, {"budget", h.budget}, {"device_local", h.device_local}});
    json types = json::array();
    for (const auto& t : c.memory_types) types.push_back({{"heap", t.heap}, {"flags", memoryFlagsText(t.flags)}});
    json queues = json::array();
    for (const auto& q : c.queue_families)
        queues.push_back({{"compute", (q.flags & VK_QUEUE_COMPUTE_BIT) != 0},
                          {"graphics", (q.flags & VK_QUEUE_GRAPHICS_BIT) != 0},
                          {"transfer", (q.flags & VK_QUEUE_TRANSFER_BIT) != 0},
                          {"count", q.count},
                          {"timestamp_valid_bits", q.timestamp_valid_bits}});
    auto shapesJson = [](const std::vector<CoopMatShape>& list) {
        json shapes = json::array();
        for (const auto& s : list)
            shapes.push_back({{"m", s.m},
                              {"n", s.n},
                              {"k", s.k},
                              {"a", s.a_type},
                              {"b", s.b_type},
                              {"c", s.c_type},
                              {"result", s.result_type},
                              {"saturating", s.saturating},
                              {"scope", s.scope}});
        return shapes;
    };
    return json{
        {"index", c.index},
        {"name", c.name},
        {"vendor", c.vendor},
        {"vendor_id", c.vendor_id},
        {"device_id", c.device_id},
        {"device_type", deviceTypeName(c.device_type)},
        {"api_version", apiVersionText(c.api_version)},
        {"driver_id", c.driver_id},
        {"driver_name", c.driver_name},
        {"driver_info", c.driver_info},
        {"driver_version", c.driver_version},
        {"driver_version_text", c.driver_version_text},
        {"device_uuid", hexBytes(c.device_uuid)},
        {"driver_uuid", hexBytes(c.driver_uuid)},
        {"pipeline_cache_uuid", hexBytes(c.pipeline_cache_uuid)},
        {"subgroup",
         {{"size", c.subgroup_size},
          {"min_size", c.subgroup_min_size},
          {"max_size", c.subgroup_max_size},
          {"size_control", c.subgroup_size_control},
          {"in_compute", c.subgroup_in_compute},
          {"operations", subgroupOpsText(c.subgroup_ops)}}},
        {"shader_fp16", c.shader_fp16},
        {"shader_int8", c.shader_int8},
        {"shader_int16", c.shader_int16},
        {"shader_int64", c.shader_int64},
        {"storage_buffer_8bit", c.storage_buffer_8bit},
        {"storage_buffer_16bit", c.storage_buffer_16bit},
        {"integer_dot_product", c.integer_dot_product},
        {"integer_dot_4x8_packed_accelerated", c.integer_dot_4x8_packed_accelerated},
        {"cooperative_matrix", c.cooperative_matrix},
        {"cooperative_matrix_shapes", shapesJson(c.cooperative_matrix_shapes)},
        {"cooperative_matrix_nv", c.cooperative_matrix_nv},
        {"vulkan_memory_model", c.vulkan_memory_model},
        {"cooperative_matrix_nv_shapes", shapesJson(c.cooperative_matrix_nv_shapes)},
        {"timeline_semaphore", c.timeline_semaphore},
        {"memory_budget_ext", c.memory_budget},
        {"limits",
         {{"max_shared_memory", c.max_shared_memory},
          {"max_workgroup_size", c.max_workgroup_size},
          {"max_workgroup_invocations", c.max_workgroup_invocations},
          {"max_workgroup_count", c.max_workgroup_count},
          {"max_storage_buffer_range", c.max_storage_buffer_range},
          {"max_memory_allocation_size", c.max_memory_allocation_size},
          {"max_buffer_size", c.max_buffer_size},
          {"max_push_constants_size", c.max_push_constants_size},
          {"min_storage_buffer_offset_alignment", c.min_storage_buffer_offset_alignment},
          {"non_coherent_atom_size", c.non_coherent_atom_size}}},
        {"memory", {{"heaps", heaps}, {"types", types}, {"device_local_bytes", c.device_local_bytes}, {"uma", c.uma}}},
        {"timestamps",
         {{"supported", c.timestamps}, {"period_ns", c.timestamp_period_ns}, {"valid_bits", c.timestamp_valid_bits}}},
        {"queue_families", queues},
        {"extensions", c.extensions},
    };
}

}  // namespace vki::vk
