#include "runtime/vk/instance.hpp"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common/log.hpp"
#include "runtime/vk/check.hpp"

namespace vki::vk {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

const char* const kNoDriverHint =
    "Hint: install a Vulkan driver (`apt-get install mesa-vulkan-drivers` gives lavapipe, a CPU driver) "
    "and check that VK_ICD_FILENAMES / VK_DRIVER_FILES, if set, name an existing driver manifest.";

bool hasExtension(const std::vector<VkExtensionProperties>& list, const char* name) {
    for (const auto& e : list)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

std::vector<VkExtensionProperties> instanceExtensions(const char* layer) {
    uint32_t count = 0;
    VKI_VK(vkEnumerateInstanceExtensionProperties(layer, &count, nullptr));
    std::vector<VkExtensionProperties> list(count);
    VKI_VK(vkEnumerateInstanceExtensionProperties(layer, &count, list.data()));
    list.resize(count);
    return list;
}

bool hasLayer(const char* name) {
    uint32_t count = 0;
    VKI_VK(vkEnumerateInstanceLayerProperties(&count, nullptr));
    std::vector<VkLayerProperties> layers(count);
    VKI_VK(vkEnumerateInstanceLayerProperties(&count, layers.data()));
    for (uint32_t i = 0; i < count; ++i)
        if (std::strcmp(layers[i].layerName, name) == 0) return true;
    return false;
}

}  // namespace

InstanceOptions InstanceOptions::fromEnvironment() {
    InstanceOptions options;
    const char* env = std::getenv("VKINFER_VALIDATION");
    options.validation = env && std::strcmp(env, "1") == 0;
    return options;
}

void loadVulkanLoader() {
    static std::once_flag once;
    static VkResult result = VK_SUCCESS;
    std::call_once(once, [] { result = volkInitialize(); });
    if (result != VK_SUCCESS)
        throw Error(ErrorCode::kNoVulkan,
                    "no Vulkan loader found (could not open libvulkan.so.1). Hint: install it with "
                    "`apt-get install libvulkan1 mesa-vulkan-drivers`, or your GPU vendor's driver.");
}

Instance::Instance(const InstanceOptions& options) {
    loadVulkanLoader();

    uint32_t loader_version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion) VKI_VK(vkEnumerateInstanceVersion(&loader_version));
    if (loader_version < VK_API_VERSION_1_2)
        throw Error(ErrorCode::kUnsupported, "the Vulkan loader supports only Vulkan " +
                                                 std::to_string(VK_API_VERSION_MAJOR(loader_version)) + "." +
                                                 std::to_string(VK_API_VERSION_MINOR(loader_version)) +
                                                 "; vkinfer needs 1.2 or newer: update libvulkan1");
    api_version_ = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2;

    std::vector<const char*> layers;
    std::vector<const char*> extensions;
    VkInstanceCreateFlags flags = 0;

    const auto available = instanceExtensions(nullptr);
    if (hasExtension(available, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    // Synchronization validation catches missing barriers, the bug class compute
    // code is most prone to; GPU-assisted validation is too slow for the suite.
    VkValidationFeatureEnableEXT enabled_features[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT validation_features = {VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    validation_features.enabledValidationFeatureCount = 1;
    validation_features.pEnabledValidationFeatures = enabled_features;

    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger_info.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT;
    messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                 VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger_info.pfnUserCallback = &Instance::onDebugMessage;
    messenger_info.pUserData = this;

    const void* next = nullptr;
    if (options.validation) {
        if (!hasLayer(kValidationLayer))
            throw Error(ErrorCode::kUnsupported,
                        "VKINFER_VALIDATION=1 asks for the Khronos validation layer, which is not installed. "
                        "Hint: `apt-get install vulkan-validationlayers`, or unset VKINFER_VALIDATION.");
        layers.push_back(kValidationLayer);
        const auto layer_extensions = instanceExtensions(kValidationLayer);
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        messenger_info.pNext = nullptr;
        next = &messenger_info;
        if (hasExtension(layer_extensions, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
            extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
            validation_features.pNext = &messenger_info;
            next = &validation_features;
        }
    }

    VkApplicationInfo app = {VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkinfer";
    app.pEngineName = "vkinfer";
    app.apiVersion = api_version_;

    VkInstanceCreateInfo info = {VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pNext = next;
    info.flags = flags;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layers.size());
    info.ppEnabledLayerNames = layers.data();
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();

    VkResult result = vkCreateInstance(&info, nullptr, &instance_);
    if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
        throw Error(
            ErrorCode::kNoDevice,
            std::string("no Vulkan driver found (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER). ") + kNoDriverHint);
    VKI_VK(result);
    volkLoadInstanceOnly(instance_);

    if (options.validation) {
        result = vkCreateDebugUtilsMessengerEXT(instance_, &messenger_info, nullptr, &messenger_);
        if (result != VK_SUCCESS) {
            vkDestroyInstance(instance_, nullptr);
            VKI_VK(result);
        }
    }

    uint32_t count = 0;
    result = vkEnumeratePhysicalDevices(instance_, &count, nullptr);
    if (result == VK_SUCCESS || result == VK_INCOMPLETE) {
        physical_devices_.resize(count);
        result = vkEnumeratePhysicalDevices(instance_, &count, physical_devices_.data());
        physical_devices_.resize(count);
    }
    if (result < 0) {
        if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
        vkDestroyInstance(instance_, nullptr);
        if (result == VK_ERROR_INITIALIZATION_FAILED || result == VK_ERROR_INCOMPATIBLE_DRIVER)
            throw Error(ErrorCode::kNoDevice, std::string("no Vulkan device found (") + resultName(result) +
                                                  " while enumerating devices). " + kNoDriverHint);
        VKI_VK(result);
    }
    if (physical_devices_.empty()) {
        if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
        vkDestroyInstance(instance_, nullptr);
        throw Error(ErrorCode::kNoDevice, std::string("no Vulkan device found. ") + kNoDriverHint);
    }
    VKI_LOG_DEBUG("Vulkan instance {}.{}, {} device(s), validation {}", VK_API_VERSION_MAJOR(api_version_),
                  VK_API_VERSION_MINOR(api_version_), physical_devices_.size(), options.validation ? "on" : "off");
}

Instance::~Instance() {
    if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

std::vector<std::string> Instance::validationMessages() const {
    std::lock_guard lock(messages_mutex_);
    return messages_;
}

void Instance::clearValidationMessages() {
    std::lock_guard lock(messages_mutex_);
    messages_.clear();
    validation_errors_ = 0;
}

VKAPI_ATTR VkBool32 VKAPI_CALL Instance::onDebugMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    auto* self = static_cast<Instance*>(user);
    const char* text = data && data->pMessage ? data->pMessage : "(no message)";
    if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        VKI_LOG_ERROR("validation: {}", text);
        self->validation_errors_.fetch_add(1);
        std::lock_guard lock(self->messages_mutex_);
        if (self->messages_.size() == kKeptMessages) self->messages_.erase(self->messages_.begin());
        self->messages_.emplace_back(text);
    } else {
        VKI_LOG_WARN("validation: {}", text);
    }
    return VK_FALSE;
}

}  // namespace vki::vk
