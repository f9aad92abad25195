#include "runtime/probe.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "registry.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/matmul.hpp"
#include "runtime/ops/reduce.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/memory.hpp"
#include "shaders/common/params.h"

namespace vki {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Records `body` between two timestamps, runs it, returns seconds (GPU timestamps
// where the queue has them, host time around submit + wait otherwise).
template <typename Body>
double timeOnGpu(vk::CommandBuffer& cmd, vk::TimestampPool& timestamps, const Body& body) {
    cmd.begin();
    cmd.resetTimestamps(timestamps);
    cmd.timestamp(timestamps, 0);
    body();
    cmd.timestamp(timestamps, 1);
    cmd.end();
    const auto start = Clock::now();
    cmd.submitAndWait();
    const double host_s = msSince(start) / 1e3;
    return timestamps.supported() ? timestamps.elapsedNs(0, 1) / 1e9 : host_s;
}

// Every kernel the device can run, each created once with the given cache.
double createAllPipelines(vk::Device& device, VkPipelineCache cache, uint32_t* out_count) {
    const vk::DeviceCaps& caps = device.caps();
    const uint32_t wg = ops::streamingWorkgroupSize(caps);
    const auto start = Clock::now();
    uint32_t count = 0;
    for (uint32_t i = 0; i < shaders::kShaderCount; ++i) {
        const auto id = static_cast<shaders::ShaderId>(i);
        if (id == shaders::ShaderId::peak_f16 && !caps.shader_fp16) continue;
        if ((id == shaders::ShaderId::sum_f32 || id == shaders::ShaderId::max_f32) && !ops::reduceSupported(caps))
            continue;
        if (std::string_view(shaders::blob(id).name).ends_with("_coopmat") && !ops::matMulCoopMatShape(caps)) continue;
        const vk::SpecConstant spec[] = {{0, wg}};
        vk::Kernel kernel(device, shaders::blob(id), spec, cache);
        ++count;
    }
    *out_count = count;
    return msSince(start);
}

// Best GFLOP/s of a peak kernel doing `flops` per invocation per iteration (spec
// constant 0: the workgroup size); iterations double until one run takes >= 40 ms.
double measurePeak(ops::OpContext& ctx, vk::CommandBuffer& cmd, vk::TimestampPool& ts, shaders::ShaderId id,
                   std::vector<vk::SpecConstant> spec, double flops_per_iteration, const vk::Buffer& out,
                   uint32_t groups) {
    const uint32_t wg = spec.at(0).value;
    const auto& kernel = ctx.kernels.get(id, std::move(spec));
    ctx.arena.reset();
    const vk::BufferRange bindings[] = {vk::wholeRange(out)};
    const VkDescriptorSet set = ctx.arena.bind(kernel, bindings);
    auto run = [&](uint32_t iterations) {
        return timeOnGpu(cmd, ts, [&] { cmd.dispatch(kernel, set, shader::PeakParams{iterations, 0.25f}, groups); });
    };
    uint32_t iterations = 8;
    double seconds = run(iterations);
    while (seconds < 0.04 && iterations < (1u << 24)) {
        iterations *= 2;
        seconds = run(iterations);
    }
    for (int trial = 0; trial < 2; ++trial) seconds = std::min(seconds, run(iterations));
    const double flops = flops_per_iteration * iterations * double(groups) * wg;
    return flops / seconds / 1e9;
}

}  // namespace

ProbeResult runProbe(vk::Device& device, const ProbeProgress& progress) {
    auto report = [&](std::string_view step, double fraction) {
        if (progress) progress(step, fraction);
    };
    const vk::DeviceCaps& caps = device.caps();
    ProbeResult result;
    result.gpu_timestamps = caps.timestamps;

    // 1. Pipeline cache: cold, then warm from the cold pass's data.
    report("pipelines (cold)", 0.0);
    vk::PipelineCache disk(device);
    result.disk_cache_bytes = disk.loadedBytes();
    std::vector<uint8_t> warm_data;
    {
        vk::PipelineCache cold(device, false);
        result.pipelines_cold_ms = createAllPipelines(device, cold.handle(), &result.pipelines);
        warm_data = cold.serialize();
    }
    report("pipelines (warm)", 0.15);
    {
        vk::PipelineCache warm(device, std::span<const uint8_t>(warm_data));
        result.pipelines_warm_ms = createAllPipelines(device, warm.handle(), &result.pipelines);
    }

    vk::MemoryAllocator memory(device);
    vk::DescriptorArena arena(device, 16, 32);
    ops::KernelCache kernels(device, disk.handle());
    ops::OpContext ctx{device, kernels, arena};
    vk::CommandBuffer cmd(device, vk::QueueKind::kCompute);
    vk::TimestampPool ts(device, 2);

    // 2. Bandwidth: copy between two buffers of up to 256 MiB, repeated until a
    // run takes >= 100 ms; best of three.
    report("memory bandwidth", 0.3);
    uint64_t bytes = std::min<uint64_t>({256ull << 20, caps.max_storage_buffer_range, caps.device_local_bytes / 8});
    bytes &= ~uint64_t{0xFFFF};
    result.copy_buffer_bytes = bytes;
    {
        vk::Buffer src = memory.createBuffer(bytes, vk::MemoryKind::kDevice, "probe copy source");
        vk::Buffer dst = memory.createBuffer(bytes, vk::MemoryKind::kDevice, "probe copy destination");
        auto run = [&](uint32_t reps) {
            arena.reset();
            return timeOnGpu(cmd, ts, [&] {
                for (uint32_t r = 0; r < reps; ++r) {
                    if (r) cmd.barrier();
                    ops::recordCopy(ctx, cmd, vk::wholeRange(src), vk::wholeRange(dst), bytes / 16, true);
                }
            });
        };
        // A first fill so the source pages exist (CPU drivers map memory lazily).
        cmd.begin();
        cmd.fill(vk::wholeRange(src), 0x3F800000u);
        cmd.end();
        cmd.submitAndWait();
        const double once = run(1);
        const uint32_t reps = static_cast<uint32_t>(std::clamp(0.1 / std::max(once, 1e-6), 1.0, 10.0));
        double best = once;
        for (int trial = 0; trial < 3; ++trial) {
            report("memory bandwidth", 0.35 + 0.08 * trial);
            best = std::min(best, run(reps) / reps);
        }
        result.copy_gb_per_s = 2.0 * double(bytes) / best / 1e9;
    }

    // 3. Arithmetic throughput.
    const uint32_t groups = 1024;
    vk::Buffer out = memory.createBuffer(uint64_t{groups} * ops::streamingWorkgroupSize(caps) * 4,
                                         vk::MemoryKind::kDevice, "probe peak output");
    report("fp32 throughput", 0.6);
    const uint32_t wg = ops::streamingWorkgroupSize(caps);
    // peak.comp: 8 chains of 4-wide FMAs per iteration.
    result.fp32_gflops = measurePeak(ctx, cmd, ts, shaders::ShaderId::peak_f32, {{0, wg}}, 64.0, out, groups);
    if (caps.shader_fp16) {
        report("fp16 throughput", 0.75);
        result.fp16_gflops = measurePeak(ctx, cmd, ts, shaders::ShaderId::peak_f16, {{0, wg}}, 64.0, out, groups);
    }
    if (const auto shape = ops::matMulCoopMatShape(caps)) {
        // One subgroup per workgroup, 4 multiply-add chains per iteration.
        report("cooperative matrix throughput", 0.9);
        const uint32_t sg = caps.subgroup_size;
        const uint32_t cm_groups = 4096;
        vk::Buffer cm_out = memory.createBuffer(uint64_t{cm_groups} * 4 * shape->m * shape->n * 4,
                                                vk::MemoryKind::kDevice, "probe cooperative matrix output");
        result.coopmat_gflops = measurePeak(ctx, cmd, ts, shaders::ShaderId::peak_coopmat,
                                            {{0, sg}, {1, shape->m}, {2, shape->n}, {3, shape->k}},
                                            4.0 * 2 * shape->m * shape->n * shape->k / sg, cm_out, cm_groups);
    }
    report("done", 1.0);
    return result;
}

nlohmann::json toJson(const ProbeResult& r) {
    nlohmann::json j = {
        {"pipelines",
         {{"count", r.pipelines},
          {"cold_ms", r.pipelines_cold_ms},
          {"warm_ms", r.pipelines_warm_ms},
          {"disk_cache_bytes_at_start", r.disk_cache_bytes}}},
        {"copy", {{"buffer_bytes", r.copy_buffer_bytes}, {"gb_per_s", r.copy_gb_per_s}}},
        {"fp32_gflops", r.fp32_gflops},
        {"fp16_gflops", r.fp16_gflops ? nlohmann::json(*r.fp16_gflops) : nlohmann::json(nullptr)},
        {"coopmat_gflops", r.coopmat_gflops ? nlohmann::json(*r.coopmat_gflops) : nlohmann::json(nullptr)},
        {"gpu_timestamps", r.gpu_timestamps},
    };
    return j;
}

}  // namespace vki
