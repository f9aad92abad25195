// Compute pipelines from embedded SPIR-V: layouts derived by reflection,
// specialization constants, an on-disk VkPipelineCache, and descriptor sets.
#pragma once

#include <volk.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "runtime/vk/command.hpp"
#include "runtime/vk/spirv_reflect.hpp"

namespace vki::vk {

class Device;

// A compiled shader embedded in the library (see shaders/registry.hpp).
struct ShaderBlob {
    const char* name;
    std::span<const uint32_t> words;
};

// A specialization constant value; every vkinfer spec constant is 32 bits.
struct SpecConstant {
    uint32_t id;
    uint32_t value;
};

// VkPipelineCache persisted in `$VKINFER_CACHE_DIR`, else `$XDG_CACHE_HOME/vkinfer`,
// else `~/.cache/vkinfer`, in a file keyed by the device's pipeline-cache UUID, vendor,
// device id and driver version. A file whose header does not match the device is
// ignored (drivers vary in how well they check), and a cache that cannot be written
// only costs speed next time: both are logged, never fatal.
class PipelineCache {
public:
    // `persist` false keeps the cache in memory only (for measurements).
    PipelineCache(Device& device, bool persist = true);
    // Starts from `data` (another cache's serialized contents).
    PipelineCache(Device& device, std::span<const uint8_t> data);
    ~PipelineCache();
    PipelineCache(const PipelineCache&) = delete;
    PipelineCache& operator=(const PipelineCache&) = delete;

    VkPipelineCache handle() const { return cache_; }
    bool loadedFromDisk() const { return loaded_bytes_ > 0; }
    uint64_t loadedBytes() const { return loaded_bytes_; }
    const std::filesystem::path& path() const { return path_; }

    std::vector<uint8_t> serialize() const;
    // Writes the cache file (atomically: temporary file, then rename). Called by the
    // destructor for persisted caches; returns false (and logs) on failure.
    bool save() const;

    static std::filesystem::path directory();

private:
    void create(std::span<const uint8_t> data);

    Device& device_;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    std::filesystem::path path_;  // empty when not persisted
    uint64_t loaded_bytes_ = 0;
};

// A compute pipeline with the layouts its SPIR-V declares. Move-only.
class Kernel {
public:
    Kernel(Device& device, const ShaderBlob& shader, std::span<const SpecConstant> spec, VkPipelineCache cache);
    ~Kernel();
    Kernel(Kernel&& other) noexcept;
    Kernel& operator=(Kernel&&) = delete;
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    const std::string& name() const { return name_; }
    VkPipeline pipeline() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout setLayout() const { return set_layout_; }
    const SpirvInfo& info() const { return info_; }
    uint32_t pushConstantSize() const { return info_.push_constant_size; }
    // Local size after specialization.
    const std::array<uint32_t, 3>& localSize() const { return local_size_; }
    uint32_t bindingCount() const { return static_cast<uint32_t>(info_.storage_bindings.size()); }

private:
    Device* device_;
    std::string name_;
    SpirvInfo info_;
    std::array<uint32_t, 3> local_size_{};
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

// Descriptor sets for recorded command buffers, from one pool; reset() frees them all.
class DescriptorArena {
public:
    DescriptorArena(Device& device, uint32_t max_sets, uint32_t max_buffers);
    ~DescriptorArena();
    DescriptorArena(const DescriptorArena&) = delete;
    DescriptorArena& operator=(const DescriptorArena&) = delete;

    // A set for `kernel` with `buffers[i]` at the kernel's i-th binding. Each range must
    // fit maxStorageBufferRange and be aligned to minStorageBufferOffsetAlignment.
    // Throws kOutOfMemory when the arena is full.
    VkDescriptorSet bind(const Kernel& kernel, std::span<const BufferRange> buffers);
    void reset();

private:
    Device& device_;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
};

}  // namespace vki::vk
