// VK_KHR_cooperative_matrix, declared from the Vulkan registry because Debian 12's
// headers (1.3.239) predate it. Names carry a Vki prefix so they cannot clash with
// newer headers that do declare the real ones.
#pragma once

#include <volk.h>

namespace vki::vk::coopmat {

inline constexpr const char* kExtensionName = "VK_KHR_cooperative_matrix";

inline constexpr VkStructureType kStructPhysicalDeviceFeatures = static_cast<VkStructureType>(1000506000);
inline constexpr VkStructureType kStructProperties = static_cast<VkStructureType>(1000506001);
inline constexpr VkStructureType kStructPhysicalDeviceProperties = static_cast<VkStructureType>(1000506002);

// VkComponentTypeKHR
enum VkiComponentType : int32_t {
    kFloat16 = 0,
    kFloat32 = 1,
    kFloat64 = 2,
    kSint8 = 3,
    kSint16 = 4,
    kSint32 = 5,
    kSint64 = 6,
    kUint8 = 7,
    kUint16 = 8,
    kUint32 = 9,
    kUint64 = 10,
};

// VkScopeKHR
enum VkiScope : int32_t {
    kScopeDevice = 1,
    kScopeWorkgroup = 2,
    kScopeSubgroup = 3,
    kScopeQueueFamily = 5,
};

// VkCooperativeMatrixPropertiesKHR
struct VkiCooperativeMatrixProperties {
    VkStructureType sType;
    void* pNext;
    uint32_t MSize;
    uint32_t NSize;
    uint32_t KSize;
    VkiComponentType AType;
    VkiComponentType BType;
    VkiComponentType CType;
    VkiComponentType ResultType;
    VkBool32 saturatingAccumulation;
    VkiScope scope;
};

// VkPhysicalDeviceCooperativeMatrixFeaturesKHR
struct VkiPhysicalDeviceCooperativeMatrixFeatures {
    VkStructureType sType;
    void* pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
};

using PfnGetPhysicalDeviceCooperativeMatrixProperties = VkResult(VKAPI_PTR*)(VkPhysicalDevice, uint32_t*,
                                                                             VkiCooperativeMatrixProperties*);

inline constexpr const char* kGetPropertiesName = "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR";

}  // namespace vki::vk::coopmat
