// `vkinfer probe [--device D] [--json]`: measured bandwidth and arithmetic
// throughput (the roofline), and pipeline-cache cold vs warm creation time.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/probe.hpp"
#include "runtime/vk/device.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"

namespace vki::tools {

Subcommand addProbeCommand(CLI::App& app) {
    struct Options {
        std::string device = "auto";
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("probe", "measure a device's bandwidth, FLOP/s and pipeline-cache effect");
    sub->add_option("-d,--device", opts->device, "device index, name substring, or auto")->capture_default_str();
    sub->add_flag("--json", opts->json, "print the results as JSON");
    return {sub, [opts] {
                vk::Instance instance;
                vk::Device device(instance, opts->device);
                const auto& caps = device.caps();
                if (!opts->json)
                    std::printf("Probing device %u: %s (%s %s)\n", caps.index, caps.name.c_str(),
                                caps.driver_name.c_str(), caps.driver_version_text.c_str());
                std::fflush(stdout);  // before the progress lines on stderr
                ProbeResult r;
                {
                    ProgressBar bar("probe");
                    r = runProbe(device, [&](std::string_view step, double f) { bar.update(f, step); });
                }
                if (opts->json) {
                    nlohmann::json out = {{"device", vk::toJson(caps)}, {"probe", toJson(r)}};
                    std::cout << out.dump(2) << "\n";
                    return 0;
                }
                std::printf("  pipelines    %u kernels: cold %.1f ms, warm %.1f ms (%.1fx); on-disk cache had %s\n",
                            r.pipelines, r.pipelines_cold_ms, r.pipelines_warm_ms,
                            r.pipelines_cold_ms / std::max(r.pipelines_warm_ms, 1e-3),
                            formatBytes(r.disk_cache_bytes).c_str());
                std::printf("  bandwidth    %.1f GB/s (copy of %s, bytes read + written)\n", r.copy_gb_per_s,
                            formatBytes(r.copy_buffer_bytes).c_str());
                std::printf("  fp32         %.1f GFLOP/s (FMA)\n", r.fp32_gflops);
                if (r.fp16_gflops) std::printf("  fp16         %.1f GFLOP/s (FMA)\n", *r.fp16_gflops);
                if (r.coopmat_gflops)
                    std::printf("  coop matrix  %.1f GFLOP/s (fp16 x fp16 + fp32)\n", *r.coopmat_gflops);
                else
                    std::printf("  fp16         not supported by the device\n");
                std::printf("  timing       %s\n", r.gpu_timestamps ? "GPU timestamps" : "host clock (no timestamps)");
                return 0;
            }};
}

}  // namespace vki::tools
