// Reads what a compute shader declares from its SPIR-V: local size (and which
// specialization constants set it), storage-buffer bindings of set 0, push-constant
// block size and specialization constants. Descriptor and pipeline layouts are built
// from this, so they cannot drift from the shaders.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace vki::vk {

struct SpecConstantInfo {
    uint32_t id = 0;
    uint32_t default_value = 0;  // 32-bit pattern (bool as 0/1)
};

struct SpirvInfo {
    static constexpr uint32_t kNoSpecId = UINT32_MAX;
    std::array<uint32_t, 3> local_size{1, 1, 1};
    // SpecId that sets each local size dimension, or kNoSpecId.
    std::array<uint32_t, 3> local_size_spec_ids{kNoSpecId, kNoSpecId, kNoSpecId};
    std::vector<uint32_t> storage_bindings;  // set 0, ascending
    uint32_t push_constant_size = 0;         // bytes; 0 when there is no block
    std::vector<SpecConstantInfo> spec_constants;
};

// Throws vki::Error(kInternal) on SPIR-V it cannot read, or on a compute shader that
// uses a descriptor set other than 0 or a descriptor type other than storage buffer.
SpirvInfo reflectSpirv(std::span<const uint32_t> words);

}  // namespace vki::vk
