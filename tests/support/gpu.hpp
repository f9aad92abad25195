// Shared GPU fixture: one validated instance and device per test process, random
// data with a printed seed, and a check that no validation error happened.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "common/error.hpp"
#include "runtime/ops/kernel_cache.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/memory.hpp"
#include "runtime/vk/transfer.hpp"

namespace vki::test {

// Validation is always on in tests: a missing layer is a test failure, not a skip.
vk::Instance& instance();
// VKINFER_TEST_DEVICE selects the device (default: auto).
vk::Device& device();

// A NaN with a recognizable payload: what output buffers hold before a kernel runs.
inline constexpr uint32_t kPoison = 0x7FC0DEADu;

class GpuTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // Fresh random floats in [lo, hi); the seed is different every run and printed
    // on failure.
    std::vector<float> randomFloats(size_t n, float lo = -1.0f, float hi = 1.0f);

    // Device-local buffer holding `data`.
    vk::Buffer upload(const std::vector<float>& data, const char* label);
    // Device-local buffer of n floats, every word set to kPoison.
    vk::Buffer poisoned(size_t n, const char* label);
    std::vector<float> download(const vk::Buffer& buffer, size_t n);
    // Records `record` into a command buffer, makes its writes visible to the host,
    // submits and waits; then frees the descriptor sets it bound.
    void runRecorded(const std::function<void(vk::CommandBuffer&)>& record);

    vk::MemoryAllocator& memory() { return *memory_; }
    vk::Transfer& transfer() { return *transfer_; }
    ops::OpContext& ctx() { return *ctx_; }

    uint32_t seed_ = 0;
    std::mt19937 rng_;

private:
    std::unique_ptr<vk::MemoryAllocator> memory_;
    std::unique_ptr<vk::Transfer> transfer_;
    std::unique_ptr<vk::PipelineCache> pipeline_cache_;
    std::unique_ptr<ops::KernelCache> kernels_;
    std::unique_ptr<vk::DescriptorArena> arena_;
    std::unique_ptr<ops::OpContext> ctx_;
};

}  // namespace vki::test
