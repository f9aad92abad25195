#include "runtime/vk/check.hpp"

#include <string>

namespace vki::vk {

const char* resultName(VkResult result) {
    switch (result) {
#define VKI_CASE(r) \
    case r:         \
        return #r;
        VKI_CASE(VK_SUCCESS)
        VKI_CASE(VK_NOT_READY)
        VKI_CASE(VK_TIMEOUT)
        VKI_CASE(VK_EVENT_SET)
        VKI_CASE(VK_EVENT_RESET)
        VKI_CASE(VK_INCOMPLETE)
        VKI_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
        VKI_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        VKI_CASE(VK_ERROR_INITIALIZATION_FAILED)
        VKI_CASE(VK_ERROR_DEVICE_LOST)
        VKI_CASE(VK_ERROR_MEMORY_MAP_FAILED)
        VKI_CASE(VK_ERROR_LAYER_NOT_PRESENT)
        VKI_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
        VKI_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
        VKI_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
        VKI_CASE(VK_ERROR_TOO_MANY_OBJECTS)
        VKI_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
        VKI_CASE(VK_ERROR_FRAGMENTED_POOL)
        VKI_CASE(VK_ERROR_UNKNOWN)
        VKI_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
        VKI_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        VKI_CASE(VK_ERROR_FRAGMENTATION)
        VKI_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        VKI_CASE(VK_PIPELINE_COMPILE_REQUIRED)
#undef VKI_CASE
        default:
            return "VK_RESULT_UNKNOWN";
    }
}

ErrorCode errorCodeOf(VkResult result) {
    switch (result) {
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY:
        case VK_ERROR_FRAGMENTATION:
        case VK_ERROR_FRAGMENTED_POOL:
        case VK_ERROR_TOO_MANY_OBJECTS:
            return ErrorCode::kOutOfMemory;
        case VK_ERROR_DEVICE_LOST:
            return ErrorCode::kDeviceLost;
        case VK_ERROR_EXTENSION_NOT_PRESENT:
        case VK_ERROR_FEATURE_NOT_PRESENT:
        case VK_ERROR_LAYER_NOT_PRESENT:
        case VK_ERROR_FORMAT_NOT_SUPPORTED:
            return ErrorCode::kUnsupported;
        case VK_ERROR_INCOMPATIBLE_DRIVER:
            return ErrorCode::kNoDevice;
        case VK_TIMEOUT:
            return ErrorCode::kTimeout;
        default:
            return ErrorCode::kVulkan;
    }
}

void throwVkError(VkResult result, const char* call, const char* file, int line) {
    std::string message =
        std::string(call) + " failed with " + resultName(result) + " (" + file + ":" + std::to_string(line) + ")";
    switch (errorCodeOf(result)) {
        case ErrorCode::kOutOfMemory:
            message += "; free memory or lower the memory budget";
            break;
        case ErrorCode::kDeviceLost:
            message += "; the GPU was reset or the driver crashed: recreate the device";
            break;
        default:
            break;
    }
    throw Error(errorCodeOf(result), message);
}

}  // namespace vki::vk
