// The guard the whole suite relies on: a validation error is seen and counted.
#include "support/gpu.hpp"

namespace vki::test {
namespace {

TEST(Validation, LayerIsOnInTests) {
    EXPECT_TRUE(instance().validationEnabled());
}

TEST(Validation, PlantedErrorIsCaught) {
    instance().clearValidationMessages();
    // usage = 0 violates VUID-VkBufferCreateInfo-usage-requiredbitmask.
    VkBufferCreateInfo info = {VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = 256;
    info.usage = 0;
    VkBuffer buffer = VK_NULL_HANDLE;
    const VkResult result = device().vk().vkCreateBuffer(device().handle(), &info, nullptr, &buffer);
    if (result == VK_SUCCESS) device().vk().vkDestroyBuffer(device().handle(), buffer, nullptr);

    EXPECT_GE(instance().validationErrorCount(), 1u);
    bool named = false;
    for (const auto& m : instance().validationMessages())
        named |= m.find("VUID-VkBufferCreateInfo-usage") != std::string::npos;
    EXPECT_TRUE(named) << "the message names the violated rule";
    instance().clearValidationMessages();
    EXPECT_EQ(instance().validationErrorCount(), 0u);
}

}  // namespace
}  // namespace vki::test
