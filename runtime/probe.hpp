// Device probe: the roofline ceilings later benchmarks are judged against
// (memory bandwidth, fp32/fp16 arithmetic throughput) and the pipeline cache's
// effect (cold vs warm pipeline creation).
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace vki::vk {
class Device;
}

namespace vki {

struct ProbeResult {
    // Pipeline creation for every embedded kernel the device supports.
    uint32_t pipelines = 0;
    double pipelines_cold_ms = 0;   // empty VkPipelineCache
    double pipelines_warm_ms = 0;   // cache filled by the cold pass
    uint64_t disk_cache_bytes = 0;  // what the on-disk cache held when the probe started

    // Copy kernel: bytes read + written per second.
    uint64_t copy_buffer_bytes = 0;
    double copy_gb_per_s = 0;

    double fp32_gflops = 0;
    std::optional<double> fp16_gflops;  // absent when the device has no fp16 arithmetic
    // fp16 x fp16 + fp32 cooperative matrices in the prompt matmul's shape; absent
    // where the matmul does not use them.
    std::optional<double> coopmat_gflops;

    bool gpu_timestamps = false;  // false: timed on the host around submit + wait
};

// step: what is being measured; fraction: overall progress in [0, 1].
using ProbeProgress = std::function<void(std::string_view step, double fraction)>;

// Runs the measurements; takes a few seconds (longer on CPU drivers).
ProbeResult runProbe(vk::Device& device, const ProbeProgress& progress = {});

nlohmann::json toJson(const ProbeResult& result);

}  // namespace vki
