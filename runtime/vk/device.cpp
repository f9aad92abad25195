#include "runtime/vk/device.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/log.hpp"
#include "runtime/vk/check.hpp"
#include "runtime/vk/khr_cooperative_matrix.hpp"

namespace vki::vk {

namespace {

int typeRank(VkPhysicalDeviceType type) {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return 4;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return 3;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return 2;
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return 1;
        default:
            return 0;
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string deviceList(const std::vector<DeviceCaps>& devices) {
    std::string text;
    for (const auto& d : devices) {
        if (!text.empty()) text += "; ";
        text += std::to_string(d.index) + ": " + d.name + " (" + deviceTypeName(d.device_type) + ")";
    }
    return text.empty() ? "none" : text;
}

}  // namespace

std::vector<DeviceCaps> probeAllDevices(const Instance& instance) {
    std::vector<DeviceCaps> all;
    const auto& pds = instance.physicalDevices();
    for (uint32_t i = 0; i < pds.size(); ++i) all.push_back(probeCaps(pds[i], i, instance.apiVersion()));
    return all;
}

uint32_t selectDevice(const std::vector<DeviceCaps>& devices, std::string_view spec) {
    if (devices.empty()) throw Error(ErrorCode::kNoDevice, "no Vulkan device found");
    if (spec.empty() || spec == "auto") {
        const DeviceCaps* best = &devices.front();
        for (const auto& d : devices) {
            const int r = typeRank(d.device_type), rb = typeRank(best->device_type);
            if (r > rb || (r == rb && d.device_local_bytes > best->device_local_bytes)) best = &d;
        }
        return best->index;
    }
    uint32_t index = 0;
    const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
    if (ec == std::errc() && end == spec.data() + spec.size()) {
        if (index >= devices.size())
            throw Error(ErrorCode::kNoDevice,
                        "device index " + std::string(spec) + " is out of range; devices: " + deviceList(devices));
        return index;
    }
    const std::string needle = lower(spec);
    for (const auto& d : devices)
        if (lower(d.name).find(needle) != std::string::npos) return d.index;
    throw Error(ErrorCode::kNoDevice,
                "no device name contains \"" + std::string(spec) + "\"; devices: " + deviceList(devices));
}

uint64_t Device::timeoutNs() {
    const char* env = std::getenv("VKINFER_GPU_TIMEOUT_MS");
    uint64_t ms = 120000;
    if (env) {
        uint64_t parsed = 0;
        const auto [end, ec] = std::from_chars(env, env + std::strlen(env), parsed);
        if (ec == std::errc() && *end == '\0' && parsed > 0) ms = parsed;
    }
    return ms * 1000000ull;
}

Device::Device(Instance& instance, std::string_view spec) : instance_(instance) {
    const auto all = probeAllDevices(instance);
    const uint32_t chosen = selectDevice(all, spec);
    caps_ = all[chosen];
    physical_ = instance.physicalDevices()[chosen];

    const uint32_t api = std::min(caps_.api_version, instance.apiVersion());
    if (api < VK_API_VERSION_1_2)
        throw Error(ErrorCode::kUnsupported, "device \"" + caps_.name + "\" supports Vulkan " +
                                                 apiVersionText(caps_.api_version) +
                                                 "; vkinfer needs 1.2 or newer (update the driver)");
    if (!caps_.timeline_semaphore)
        throw Error(ErrorCode::kUnsupported,
                    "device \"" + caps_.name + "\" lacks timeline semaphores, which vkinfer needs (update the driver)");

    // Queues: the first compute family; a transfer-only family if there is one.
    int compute = -1, transfer = -1;
    for (uint32_t i = 0; i < caps_.queue_families.size(); ++i) {
        const VkQueueFlags f = caps_.queue_families[i].flags;
        if (compute < 0 && (f & VK_QUEUE_COMPUTE_BIT)) compute = static_cast<int>(i);
        if (transfer < 0 && (f & VK_QUEUE_TRANSFER_BIT) && !(f & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
            transfer = static_cast<int>(i);
    }
    if (compute < 0) throw Error(ErrorCode::kUnsupported, "device \"" + caps_.name + "\" has no compute queue");
    if (transfer < 0) transfer = compute;
    queues_[0].family = static_cast<uint32_t>(compute);
    queues_[1].family = static_cast<uint32_t>(transfer);
    families_.push_back(queues_[0].family);
    if (transfer != compute) families_.push_back(queues_[1].family);

    const float priority = 1.0f;
    std::vector<VkDeviceQueueCreateInfo> queue_infos;
    for (uint32_t family : families_) {
        VkDeviceQueueCreateInfo qi = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qi.queueFamilyIndex = family;
        qi.queueCount = 1;
        qi.pQueuePriorities = &priority;
        queue_infos.push_back(qi);
    }

    // Features: everything vkinfer's kernels can use, where the device has it.
    const bool v13 = api >= VK_API_VERSION_1_3;
    std::vector<const char*> extensions;
    VkPhysicalDeviceFeatures2 features = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.features.shaderInt16 = caps_.shader_int16;
    features.features.shaderInt64 = caps_.shader_int64;
    VkPhysicalDeviceVulkan11Features f11 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    f11.storageBuffer16BitAccess = caps_.storage_buffer_16bit;
    VkPhysicalDeviceVulkan12Features f12 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f12.storageBuffer8BitAccess = caps_.storage_buffer_8bit;
    f12.shaderFloat16 = caps_.shader_fp16;
    f12.shaderInt8 = caps_.shader_int8;
    f12.timelineSemaphore = VK_TRUE;
    f12.vulkanMemoryModel = caps_.vulkan_memory_model;
    VkPhysicalDeviceVulkan13Features f13 = {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    f13.subgroupSizeControl = caps_.subgroup_size_control;
    f13.computeFullSubgroups = caps_.subgroup_size_control;
    f13.shaderIntegerDotProduct = caps_.integer_dot_product;
    VkPhysicalDeviceSubgroupSizeControlFeatures size_control = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    size_control.subgroupSizeControl = caps_.subgroup_size_control;
    size_control.computeFullSubgroups = caps_.subgroup_size_control;
    VkPhysicalDeviceShaderIntegerDotProductFeatures dot = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    dot.shaderIntegerDotProduct = caps_.integer_dot_product;

    void** tail = &features.pNext;
    auto chain = [&tail](auto& s) {
        *tail = &s;
        tail = &s.pNext;
    };
    chain(f11);
    chain(f12);
    if (v13) {
        chain(f13);
    } else {
        if (caps_.subgroup_size_control) {
            chain(size_control);
            extensions.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
        }
        if (caps_.integer_dot_product) {
            chain(dot);
            extensions.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
        }
    }
    // Cooperative matrices in the form the prefill matmul is compiled for
    // (GL_NV_cooperative_matrix). VK_KHR_cooperative_matrix is probed (DeviceCaps) but
    // not enabled: no kernel uses it (Debian 12's glslang cannot emit it), and Debian
    // 12's validation layer (1.3.239) predates its feature struct.
    VkPhysicalDeviceCooperativeMatrixFeaturesNV coop_nv = {
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    if (caps_.cooperative_matrix_nv) {
        coop_nv.cooperativeMatrix = VK_TRUE;
        chain(coop_nv);
        extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    }
    if (caps_.memory_budget) extensions.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);

    VkDeviceCreateInfo info = {VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    info.pNext = &features;
    info.queueCreateInfoCount = static_cast<uint32_t>(queue_infos.size());
    info.pQueueCreateInfos = queue_infos.data();
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    VKI_VK(vkCreateDevice(physical_, &info, nullptr, &device_));
    volkLoadDeviceTable(&table_, device_);

    try {
        for (auto& q : queues_) {
            table_.vkGetDeviceQueue(device_, q.family, 0, &q.queue);
            VkSemaphoreTypeCreateInfo type = {VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
            type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
            VkSemaphoreCreateInfo si = {VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
            si.pNext = &type;
            VKI_VK(table_.vkCreateSemaphore(device_, &si, nullptr, &q.timeline));
        }
    } catch (...) {
        for (auto& q : queues_)
            if (q.timeline) table_.vkDestroySemaphore(device_, q.timeline, nullptr);
        table_.vkDestroyDevice(device_, nullptr);
        throw;
    }
    VKI_LOG_INFO("device {}: {} ({}), compute family {}, transfer family {}", caps_.index, caps_.name,
                 caps_.driver_name, queues_[0].family, queues_[1].family);
}

Device::~Device() {
    table_.vkDeviceWaitIdle(device_);
    for (auto& q : queues_) table_.vkDestroySemaphore(device_, q.timeline, nullptr);
    table_.vkDestroyDevice(device_, nullptr);
}

SyncPoint Device::submit(QueueKind kind, VkCommandBuffer cmd) {
    std::lock_guard lock(submit_mutex_);
    // With one family both kinds share the queue and one timeline: submission order
    // plus the barriers the recorders put in are enough.
    Queue& q = queues_[hasDedicatedTransferQueue() ? index(kind) : 0];
    Queue& other = queues_[hasDedicatedTransferQueue() ? 1 - index(kind) : 0];

    const uint64_t signal_value = q.value + 1;
    VkTimelineSemaphoreSubmitInfo timeline = {VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    VkSubmitInfo info = {VK_STRUCTURE_TYPE_SUBMIT_INFO};
    info.pNext = &timeline;
    const VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    const bool wait_other = &q != &other && other.value > q.waited_other;
    if (wait_other) {
        info.waitSemaphoreCount = 1;
        info.pWaitSemaphores = &other.timeline;
        info.pWaitDstStageMask = &wait_stage;
        timeline.waitSemaphoreValueCount = 1;
        timeline.pWaitSemaphoreValues = &other.value;
    }
    info.commandBufferCount = 1;
    info.pCommandBuffers = &cmd;
    info.signalSemaphoreCount = 1;
    info.pSignalSemaphores = &q.timeline;
    timeline.signalSemaphoreValueCount = 1;
    timeline.pSignalSemaphoreValues = &signal_value;
    VKI_VK(table_.vkQueueSubmit(q.queue, 1, &info, VK_NULL_HANDLE));
    if (wait_other) q.waited_other = other.value;
    q.value = signal_value;
    return {q.timeline, signal_value};
}

void Device::wait(SyncPoint point) const {
    if (!point.semaphore) return;
    VkSemaphoreWaitInfo info = {VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    info.semaphoreCount = 1;
    info.pSemaphores = &point.semaphore;
    info.pValues = &point.value;
    const VkResult result = table_.vkWaitSemaphores(device_, &info, timeoutNs());
    if (result == VK_TIMEOUT)
        throw Error(ErrorCode::kTimeout, "the GPU did not finish within " + std::to_string(timeoutNs() / 1000000) +
                                             " ms (VKINFER_GPU_TIMEOUT_MS raises the limit)");
    VKI_VK(result);
}

void Device::waitIdle() const {
    VKI_VK(table_.vkDeviceWaitIdle(device_));
}

}  // namespace vki::vk
