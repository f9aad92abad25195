#include <gtest/gtest.h>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"

namespace vki::vk {
namespace {

DeviceCaps fake(uint32_t index, const char* name, VkPhysicalDeviceType type, uint64_t memory) {
    DeviceCaps c;
    c.index = index;
    c.name = name;
    c.device_type = type;
    c.device_local_bytes = memory;
    return c;
}

std::vector<DeviceCaps> machine() {
    return {fake(0, "llvmpipe (LLVM 15.0.6, 256 bits)", VK_PHYSICAL_DEVICE_TYPE_CPU, 8ull << 30),
            fake(1, "Intel(R) UHD Graphics 770", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, 16ull << 30),
            fake(2, "NVIDIA GeForce RTX 4060", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 8ull << 30),
            fake(3, "NVIDIA GeForce RTX 4090", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, 24ull << 30)};
}

TEST(SelectDevice, AutoPrefersDiscreteThenMemory) {
    EXPECT_EQ(selectDevice(machine(), "auto"), 3u);
    EXPECT_EQ(selectDevice(machine(), ""), 3u);
    auto no_discrete = machine();
    no_discrete.resize(2);
    EXPECT_EQ(selectDevice(no_discrete, "auto"), 1u) << "integrated beats CPU";
    no_discrete.resize(1);
    EXPECT_EQ(selectDevice(no_discrete, "auto"), 0u) << "lavapipe when it is all there is";
}

TEST(SelectDevice, ByIndexAndByName) {
    EXPECT_EQ(selectDevice(machine(), "0"), 0u);
    EXPECT_EQ(selectDevice(machine(), "2"), 2u);
    EXPECT_EQ(selectDevice(machine(), "intel"), 1u) << "case-insensitive substring";
    EXPECT_EQ(selectDevice(machine(), "llvmpipe"), 0u);
    EXPECT_EQ(selectDevice(machine(), "RTX 40"), 2u) << "first match";
}

TEST(SelectDevice, NoMatchIsAClearError) {
    try {
        selectDevice(machine(), "7");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kNoDevice);
        EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("3: NVIDIA GeForce RTX 4090"), std::string::npos) << e.what();
    }
    try {
        selectDevice(machine(), "radeon");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kNoDevice);
        EXPECT_NE(std::string(e.what()).find("radeon"), std::string::npos) << e.what();
    }
    EXPECT_THROW(selectDevice({}, "auto"), Error);
}

}  // namespace
}  // namespace vki::vk
