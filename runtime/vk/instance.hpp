// The Vulkan instance: loader (volk), optional validation layer and the debug
// messenger that counts validation errors so tests can fail on them.
#pragma once

#include <volk.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace vki::vk {

struct InstanceOptions {
    // Enable VK_LAYER_KHRONOS_validation (with synchronization validation) and the
    // debug messenger. Fails with kUnsupported when the layer is not installed.
    bool validation = false;

    // validation = (VKINFER_VALIDATION == "1").
    static InstanceOptions fromEnvironment();
};

// Opens the Vulkan loader once per process (volk). Throws kNoVulkan with an install
// hint when there is none. Thread-safe.
void loadVulkanLoader();

class Instance {
public:
    // Throws kNoVulkan (no loader), kNoDevice (loader but no driver), kUnsupported
    // (validation asked for but not installed).
    explicit Instance(const InstanceOptions& options = InstanceOptions::fromEnvironment());
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    uint32_t apiVersion() const { return api_version_; }
    bool validationEnabled() const { return messenger_ != VK_NULL_HANDLE; }

    // Physical devices in the loader's order (the order `--device N` indexes).
    const std::vector<VkPhysicalDevice>& physicalDevices() const { return physical_devices_; }

    // Validation-layer errors seen since creation (or since clearValidationMessages).
    uint64_t validationErrorCount() const { return validation_errors_.load(); }
    // The most recent error messages (at most kKeptMessages). Thread-safe.
    std::vector<std::string> validationMessages() const;
    void clearValidationMessages();

    static constexpr size_t kKeptMessages = 32;

private:
    static VKAPI_ATTR VkBool32 VKAPI_CALL onDebugMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                         VkDebugUtilsMessageTypeFlagsEXT types,
                                                         const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    uint32_t api_version_ = 0;
    std::vector<VkPhysicalDevice> physical_devices_;

    std::atomic<uint64_t> validation_errors_{0};
    mutable std::mutex messages_mutex_;
    std::vector<std::string> messages_;
};

}  // namespace vki::vk
