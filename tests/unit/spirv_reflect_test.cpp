#include <gtest/gtest.h>

#include "common/error.hpp"
#include "registry.hpp"
#include "runtime/vk/spirv_reflect.hpp"
#include "shaders/common/params.h"

namespace vki::vk {
namespace {

using shaders::ShaderId;

struct Expected {
    ShaderId id;
    uint32_t bindings;
    uint32_t push_size;  // the C++ struct the host pushes
};

// The shared params.h structs must have exactly the size the shaders declare.
const Expected kExpected[] = {
    {ShaderId::copy_f32, 2, sizeof(shader::CopyParams)},  {ShaderId::copy_vec4, 2, sizeof(shader::CopyParams)},
    {ShaderId::add_f32, 3, sizeof(shader::BinaryParams)}, {ShaderId::mul_f32, 3, sizeof(shader::BinaryParams)},
    {ShaderId::sum_f32, 2, sizeof(shader::ReduceParams)}, {ShaderId::max_f32, 2, sizeof(shader::ReduceParams)},
    {ShaderId::peak_f32, 1, sizeof(shader::PeakParams)},  {ShaderId::peak_f16, 1, sizeof(shader::PeakParams)},
};
static_assert(std::size(kExpected) == shaders::kShaderCount, "every shader variant is checked");

TEST(SpirvReflect, EveryEmbeddedShaderMatchesItsHostStruct) {
    for (const auto& e : kExpected) {
        const auto& blob = shaders::blob(e.id);
        SCOPED_TRACE(blob.name);
        const SpirvInfo info = reflectSpirv(blob.words);
        ASSERT_EQ(info.storage_bindings.size(), e.bindings);
        for (uint32_t i = 0; i < e.bindings; ++i) EXPECT_EQ(info.storage_bindings[i], i);
        EXPECT_EQ(info.push_constant_size, e.push_size);
        EXPECT_EQ(info.local_size_spec_ids[0], 0u) << "local size x is specialization constant 0";
        ASSERT_FALSE(info.spec_constants.empty());
        EXPECT_EQ(info.spec_constants[0].id, 0u);
    }
}

TEST(SpirvReflect, RejectsGarbage) {
    const uint32_t not_spirv[] = {1, 2, 3, 4, 5, 6};
    EXPECT_THROW(reflectSpirv(not_spirv), Error);
    const auto& blob = shaders::blob(ShaderId::copy_f32);
    std::vector<uint32_t> truncated(blob.words.begin(), blob.words.end());
    truncated.push_back(0xFFFF0000u | 71);  // a last instruction claiming 65535 words
    EXPECT_THROW(reflectSpirv(truncated), Error);
}

}  // namespace
}  // namespace vki::vk
