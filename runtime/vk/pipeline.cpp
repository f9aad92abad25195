#include "runtime/vk/pipeline.hpp"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>

#include "common/log.hpp"
#include "runtime/vk/check.hpp"
#include "runtime/vk/device.hpp"

namespace vki::vk {

namespace {

// VkPipelineCacheHeaderVersionOne, checked before handing a file to the driver.
struct CacheHeader {
    uint32_t header_size;
    uint32_t header_version;
    uint32_t vendor_id;
    uint32_t device_id;
    uint8_t uuid[VK_UUID_SIZE];
};
static_assert(sizeof(CacheHeader) == 32);

bool headerMatches(std::span<const uint8_t> data, const DeviceCaps& caps) {
    if (data.size() < sizeof(CacheHeader)) return false;
    CacheHeader h;
    std::memcpy(&h, data.data(), sizeof(h));
    return h.header_size >= sizeof(CacheHeader) && h.header_size <= data.size() &&
           h.header_version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && h.vendor_id == caps.vendor_id &&
           h.device_id == caps.device_id && std::memcmp(h.uuid, caps.pipeline_cache_uuid.data(), VK_UUID_SIZE) == 0;
}

std::string cacheFileName(const DeviceCaps& caps) {
    std::string uuid;
    char hex[16];
    for (uint8_t b : caps.pipeline_cache_uuid) {
        std::snprintf(hex, sizeof(hex), "%02x", b);
        uuid += hex;
    }
    std::snprintf(hex, sizeof(hex), "%04x-%04x", caps.vendor_id, caps.device_id);
    return "pipelines-" + uuid + "-" + hex + "-" + std::to_string(caps.driver_version) + ".bin";
}

}  // namespace

std::filesystem::path PipelineCache::directory() {
    if (const char* dir = std::getenv("VKINFER_CACHE_DIR"); dir && *dir) return dir;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "vkinfer";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".cache" / "vkinfer";
    return {};
}

PipelineCache::PipelineCache(Device& device, bool persist) : device_(device) {
    std::vector<uint8_t> data;
    if (persist) {
        const auto dir = directory();
        if (!dir.empty()) path_ = dir / cacheFileName(device.caps());
    }
    if (!path_.empty()) {
        std::ifstream in(path_, std::ios::binary);
        if (in) {
            data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            if (!headerMatches(data, device.caps())) {
                VKI_LOG_WARN("pipeline cache {} does not match this device or is corrupt; starting empty",
                             path_.string());
                data.clear();
            }
        }
    }
    create(data);
    loaded_bytes_ = data.size();
    VKI_LOG_DEBUG("pipeline cache {}: loaded {} bytes", path_.empty() ? "(memory)" : path_.string(), loaded_bytes_);
}

PipelineCache::PipelineCache(Device& device, std::span<const uint8_t> data) : device_(device) {
    create(headerMatches(data, device.caps()) ? data : std::span<const uint8_t>{});
}

void PipelineCache::create(std::span<const uint8_t> data) {
    VkPipelineCacheCreateInfo info = {VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    info.initialDataSize = data.size();
    info.pInitialData = data.empty() ? nullptr : data.data();
    VKI_VK(device_.vk().vkCreatePipelineCache(device_.handle(), &info, nullptr, &cache_));
}

PipelineCache::~PipelineCache() {
    if (!path_.empty()) save();
    device_.vk().vkDestroyPipelineCache(device_.handle(), cache_, nullptr);
}

std::vector<uint8_t> PipelineCache::serialize() const {
    size_t size = 0;
    VKI_VK(device_.vk().vkGetPipelineCacheData(device_.handle(), cache_, &size, nullptr));
    std::vector<uint8_t> data(size);
    VKI_VK(device_.vk().vkGetPipelineCacheData(device_.handle(), cache_, &size, data.data()));
    data.resize(size);
    return data;
}

bool PipelineCache::save() const {
    if (path_.empty()) return false;
    try {
        const auto data = serialize();
        std::error_code ec;
        std::filesystem::create_directories(path_.parent_path(), ec);
        const auto tmp = path_.string() + ".tmp" + std::to_string(::getpid());
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
            if (!out) throw Error(ErrorCode::kIo, "cannot write " + tmp);
        }
        std::filesystem::rename(tmp, path_, ec);
        if (ec) {
            std::filesystem::remove(tmp, ec);
            throw Error(ErrorCode::kIo, "cannot rename to " + path_.string());
        }
        return true;
    } catch (const std::exception& e) {
        VKI_LOG_WARN("pipeline cache not saved: {}", e.what());
        return false;
    }
}

Kernel::Kernel(Device& device, const ShaderBlob& shader, std::span<const SpecConstant> spec, VkPipelineCache cache)
    : device_(&device), name_(shader.name), info_(reflectSpirv(shader.words)) {
    const auto& vk = device.vk();
    const DeviceCaps& caps = device.caps();

    std::vector<VkSpecializationMapEntry> entries;
    std::vector<uint32_t> values;
    for (const auto& s : spec) {
        bool declared = false;
        for (const auto& d : info_.spec_constants) declared |= d.id == s.id;
        VKI_ASSERT_MSG(declared, "specialization constant " + std::to_string(s.id) + " is not declared by " + name_);
        entries.push_back({s.id, static_cast<uint32_t>(values.size() * sizeof(uint32_t)), sizeof(uint32_t)});
        values.push_back(s.value);
    }
    local_size_ = info_.local_size;
    for (int i = 0; i < 3; ++i)
        for (const auto& s : spec)
            if (s.id == info_.local_size_spec_ids[i]) local_size_[i] = s.value;
    const uint64_t invocations = uint64_t{local_size_[0]} * local_size_[1] * local_size_[2];
    if (invocations > caps.max_workgroup_invocations || local_size_[0] > caps.max_workgroup_size[0] ||
        local_size_[1] > caps.max_workgroup_size[1] || local_size_[2] > caps.max_workgroup_size[2])
        throw Error(ErrorCode::kUnsupported, "kernel " + name_ + " needs a workgroup of " +
                                                 std::to_string(local_size_[0]) + "x" + std::to_string(local_size_[1]) +
                                                 "x" + std::to_string(local_size_[2]) +
                                                 ", more than the device allows");
    if (info_.push_constant_size > caps.max_push_constants_size)
        throw Error(ErrorCode::kUnsupported, "kernel " + name_ + " needs " + std::to_string(info_.push_constant_size) +
                                                 " bytes of push constants; the device has " +
                                                 std::to_string(caps.max_push_constants_size));

    std::vector<VkDescriptorSetLayoutBinding> bindings;
    for (uint32_t b : info_.storage_bindings)
        bindings.push_back({b, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr});
    VkDescriptorSetLayoutCreateInfo set_info = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    set_info.bindingCount = static_cast<uint32_t>(bindings.size());
    set_info.pBindings = bindings.data();

    VkShaderModule module = VK_NULL_HANDLE;
    try {
        VKI_VK(vk.vkCreateDescriptorSetLayout(device.handle(), &set_info, nullptr, &set_layout_));

        VkPushConstantRange push = {VK_SHADER_STAGE_COMPUTE_BIT, 0, info_.push_constant_size};
        VkPipelineLayoutCreateInfo layout_info = {VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        layout_info.setLayoutCount = 1;
        layout_info.pSetLayouts = &set_layout_;
        layout_info.pushConstantRangeCount = info_.push_constant_size ? 1 : 0;
        layout_info.pPushConstantRanges = &push;
        VKI_VK(vk.vkCreatePipelineLayout(device.handle(), &layout_info, nullptr, &layout_));

        VkShaderModuleCreateInfo module_info = {VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        module_info.codeSize = shader.words.size_bytes();
        module_info.pCode = shader.words.data();
        VKI_VK(vk.vkCreateShaderModule(device.handle(), &module_info, nullptr, &module));

        VkSpecializationInfo spec_info = {static_cast<uint32_t>(entries.size()), entries.data(),
                                          values.size() * sizeof(uint32_t), values.data()};
        VkComputePipelineCreateInfo info = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
        info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        info.stage.module = module;
        info.stage.pName = "main";
        info.stage.pSpecializationInfo = entries.empty() ? nullptr : &spec_info;
        info.layout = layout_;
        VKI_VK(vk.vkCreateComputePipelines(device.handle(), cache, 1, &info, nullptr, &pipeline_));
        vk.vkDestroyShaderModule(device.handle(), module, nullptr);
    } catch (...) {
        if (module) vk.vkDestroyShaderModule(device.handle(), module, nullptr);
        if (layout_) vk.vkDestroyPipelineLayout(device.handle(), layout_, nullptr);
        if (set_layout_) vk.vkDestroyDescriptorSetLayout(device.handle(), set_layout_, nullptr);
        throw;
    }
}

Kernel::~Kernel() {
    if (!pipeline_) return;
    const auto& vk = device_->vk();
    vk.vkDestroyPipeline(device_->handle(), pipeline_, nullptr);
    vk.vkDestroyPipelineLayout(device_->handle(), layout_, nullptr);
    vk.vkDestroyDescriptorSetLayout(device_->handle(), set_layout_, nullptr);
}

Kernel::Kernel(Kernel&& other) noexcept
    : device_(other.device_),
      name_(std::move(other.name_)),
      info_(std::move(other.info_)),
      local_size_(other.local_size_),
      set_layout_(std::exchange(other.set_layout_, VK_NULL_HANDLE)),
      layout_(std::exchange(other.layout_, VK_NULL_HANDLE)),
      pipeline_(std::exchange(other.pipeline_, VK_NULL_HANDLE)) {}

DescriptorArena::DescriptorArena(Device& device, uint32_t max_sets, uint32_t max_buffers) : device_(device) {
    VkDescriptorPoolSize size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_buffers};
    VkDescriptorPoolCreateInfo info = {VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    info.maxSets = max_sets;
    info.poolSizeCount = 1;
    info.pPoolSizes = &size;
    VKI_VK(device.vk().vkCreateDescriptorPool(device.handle(), &info, nullptr, &pool_));
}

DescriptorArena::~DescriptorArena() {
    device_.vk().vkDestroyDescriptorPool(device_.handle(), pool_, nullptr);
}

VkDescriptorSet DescriptorArena::bind(const Kernel& kernel, std::span<const BufferRange> buffers) {
    VKI_ASSERT_MSG(buffers.size() == kernel.bindingCount(), "wrong number of buffers for " + kernel.name());
    const DeviceCaps& caps = device_.caps();
    VkDescriptorSetLayout layout = kernel.setLayout();
    VkDescriptorSetAllocateInfo alloc = {VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    alloc.descriptorPool = pool_;
    alloc.descriptorSetCount = 1;
    alloc.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    const VkResult result = device_.vk().vkAllocateDescriptorSets(device_.handle(), &alloc, &set);
    if (result == VK_ERROR_OUT_OF_POOL_MEMORY || result == VK_ERROR_FRAGMENTED_POOL)
        throw Error(ErrorCode::kOutOfMemory, "descriptor arena is full (binding " + kernel.name() + ")");
    VKI_VK(result);

    std::vector<VkDescriptorBufferInfo> infos(buffers.size());
    std::vector<VkWriteDescriptorSet> writes(buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
        const BufferRange& r = buffers[i];
        VKI_ASSERT_MSG(r.size > 0 && r.size <= caps.max_storage_buffer_range,
                       "binding of " + kernel.name() + " exceeds maxStorageBufferRange: split it into slabs");
        VKI_ASSERT(r.offset % caps.min_storage_buffer_offset_alignment == 0);
        infos[i] = {r.buffer, r.offset, r.size};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = kernel.info().storage_bindings[i];
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
    }
    device_.vk().vkUpdateDescriptorSets(device_.handle(), static_cast<uint32_t>(writes.size()), writes.data(), 0,
                                        nullptr);
    return set;
}

void DescriptorArena::reset() {
    VKI_VK(device_.vk().vkResetDescriptorPool(device_.handle(), pool_, 0));
}

}  // namespace vki::vk
