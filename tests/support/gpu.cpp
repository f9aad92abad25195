#include "support/gpu.hpp"

#include "runtime/vk/command.hpp"

#include <cstdlib>
#include <cstring>

namespace vki::test {

vk::Instance& instance() {
    static vk::Instance instance(vk::InstanceOptions{.validation = true});
    return instance;
}

vk::Device& device() {
    static vk::Device device(instance(), [] {
        const char* spec = std::getenv("VKINFER_TEST_DEVICE");
        return std::string(spec ? spec : "auto");
    }());
    return device;
}

void GpuTest::SetUp() {
    device();
    instance().clearValidationMessages();
    seed_ = std::random_device{}();
    rng_.seed(seed_);
    RecordProperty("seed", std::to_string(seed_));
    memory_ = std::make_unique<vk::MemoryAllocator>(device());
    transfer_ = std::make_unique<vk::Transfer>(device(), *memory_, 4ull << 20);
    pipeline_cache_ = std::make_unique<vk::PipelineCache>(device());
    kernels_ = std::make_unique<ops::KernelCache>(device(), pipeline_cache_->handle());
    arena_ = std::make_unique<vk::DescriptorArena>(device(), 64, 256);
    ctx_ = std::make_unique<ops::OpContext>(ops::OpContext{device(), *kernels_, *arena_});
}

void GpuTest::TearDown() {
    device().waitIdle();
    ctx_.reset();
    arena_.reset();
    kernels_.reset();
    pipeline_cache_.reset();
    transfer_.reset();
    memory_.reset();
    const uint64_t errors = instance().validationErrorCount();
    std::string text;
    for (const auto& m : instance().validationMessages()) text += "\n  " + m;
    EXPECT_EQ(errors, 0u) << "validation errors (seed " << seed_ << "):" << text;
}

std::vector<float> GpuTest::randomFloats(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng_);
    return v;
}

vk::Buffer GpuTest::upload(const std::vector<float>& data, const char* label) {
    vk::Buffer b = memory_->createBuffer(data.size() * sizeof(float), vk::MemoryKind::kDevice, label);
    transfer_->upload(b, 0, std::as_bytes(std::span(data)));
    return b;
}

vk::Buffer GpuTest::poisoned(size_t n, const char* label) {
    vk::Buffer b = memory_->createBuffer(n * sizeof(float), vk::MemoryKind::kDevice, label);
    std::vector<uint32_t> poison(n, kPoison);
    transfer_->upload(b, 0, std::as_bytes(std::span(poison)));
    return b;
}

void GpuTest::runRecorded(const std::function<void(vk::CommandBuffer&)>& record) {
    vk::CommandBuffer cmd(device(), vk::QueueKind::kCompute);
    cmd.begin();
    record(cmd);
    cmd.barrierToHost();
    cmd.end();
    cmd.submitAndWait();
    ctx_->arena.reset();
}

std::vector<float> GpuTest::download(const vk::Buffer& buffer, size_t n) {
    std::vector<float> out(n);
    transfer_->download(buffer, 0, std::as_writable_bytes(std::span(out)));
    return out;
}

}  // namespace vki::test
