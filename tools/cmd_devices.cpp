// `vkinfer devices [--json]`: every Vulkan device and its capabilities.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "tools/commands.hpp"

namespace vki::tools {

namespace {

const char* yesNo(bool b) {
    return b ? "yes" : "no";
}

void row(const char* key, const std::string& value) {
    std::printf("  %-16s %s\n", key, value.c_str());
}

std::string hex(uint32_t v) {
    char text[16];
    std::snprintf(text, sizeof(text), "0x%04x", v);
    return text;
}

void printTable(const vk::DeviceCaps& c, bool is_auto) {
    std::printf("Device %u: %s%s\n", c.index, c.name.c_str(), is_auto ? "  [auto]" : "");
    row("type", vk::deviceTypeName(c.device_type));
    row("vendor", c.vendor + " (" + hex(c.vendor_id) + "), device " + hex(c.device_id));
    row("driver",
        c.driver_name + " " + c.driver_version_text + (c.driver_info.empty() ? "" : " (" + c.driver_info + ")"));
    row("api", vk::apiVersionText(c.api_version));
    row("uuid", c.uuidText());
    row("subgroup", "size " + std::to_string(c.subgroup_size) + " (range " + std::to_string(c.subgroup_min_size) + "-" +
                        std::to_string(c.subgroup_max_size) + ", size control " + yesNo(c.subgroup_size_control) +
                        "), in compute " + yesNo(c.subgroup_in_compute));
    row("subgroup ops", vk::subgroupOpsText(c.subgroup_ops));
    row("arithmetic", std::string("fp16 ") + yesNo(c.shader_fp16) + ", int8 " + yesNo(c.shader_int8) + ", int16 " +
                          yesNo(c.shader_int16) + ", int64 " + yesNo(c.shader_int64));
    row("storage", std::string("8-bit ") + yesNo(c.storage_buffer_8bit) + ", 16-bit " + yesNo(c.storage_buffer_16bit));
    row("int dot product", std::string(yesNo(c.integer_dot_product)) + " (4x8 packed accelerated " +
                               yesNo(c.integer_dot_4x8_packed_accelerated) + ")");
    auto coopText = [](bool present, const std::vector<vk::CoopMatShape>& shapes) {
        std::string text = yesNo(present);
        for (const auto& s : shapes)
            text += "; " + std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k) + " " +
                    s.a_type + "*" + s.b_type + "+" + s.c_type + "->" + s.result_type + " (" + s.scope + ")";
        return text;
    };
    row("coop matrix", coopText(c.cooperative_matrix, c.cooperative_matrix_shapes));
    row("coop matrix NV", coopText(c.cooperative_matrix_nv, c.cooperative_matrix_nv_shapes));
    row("shared memory", formatBytes(c.max_shared_memory));
    row("workgroup", "size " + std::to_string(c.max_workgroup_size[0]) + "x" + std::to_string(c.max_workgroup_size[1]) +
                         "x" + std::to_string(c.max_workgroup_size[2]) + ", invocations " +
                         std::to_string(c.max_workgroup_invocations) + ", count " +
                         std::to_string(c.max_workgroup_count[0]) + "x" + std::to_string(c.max_workgroup_count[1]) +
                         "x" + std::to_string(c.max_workgroup_count[2]));
    row("buffers", "binding range " + formatBytes(c.max_storage_buffer_range) + ", allocation " +
                       formatBytes(c.max_memory_allocation_size) +
                       (c.max_buffer_size ? ", buffer " + formatBytes(c.max_buffer_size) : std::string()) +
                       ", push constants " + std::to_string(c.max_push_constants_size) + " B");
    for (size_t i = 0; i < c.memory_heaps.size(); ++i) {
        const auto& h = c.memory_heaps[i];
        std::string types;
        for (size_t t = 0; t < c.memory_types.size(); ++t)
            if (c.memory_types[t].heap == i)
                types += "\n" + std::string(19, ' ') + "type " + std::to_string(t) + ": " +
                         vk::memoryFlagsText(c.memory_types[t].flags);
        row(("heap " + std::to_string(i)).c_str(),
            formatBytes(h.size) + (h.device_local ? " device-local" : " host") +
                (h.budget ? ", budget " + formatBytes(h.budget) : std::string()) + types);
    }
    row("unified memory", yesNo(c.uma));
    char period[64];
    std::snprintf(period, sizeof(period), "%s, period %.3g ns, %u valid bits", yesNo(c.timestamps),
                  c.timestamp_period_ns, c.timestamp_valid_bits);
    row("timestamps", period);
    for (size_t i = 0; i < c.queue_families.size(); ++i) {
        const auto& q = c.queue_families[i];
        std::string flags;
        if (q.flags & VK_QUEUE_GRAPHICS_BIT) flags += "graphics ";
        if (q.flags & VK_QUEUE_COMPUTE_BIT) flags += "compute ";
        if (q.flags & VK_QUEUE_TRANSFER_BIT) flags += "transfer ";
        row(("queue family " + std::to_string(i)).c_str(), flags + "x" + std::to_string(q.count));
    }
    std::printf("\n");
}

}  // namespace

Subcommand addDevicesCommand(CLI::App& app) {
    auto* sub = app.add_subcommand("devices", "list Vulkan devices and their capabilities");
    auto json = std::make_shared<bool>(false);
    sub->add_flag("--json", *json, "print a JSON array with every capability field");
    return {sub, [json] {
                vk::Instance instance;
                const auto devices = vk::probeAllDevices(instance);
                const uint32_t best = vk::selectDevice(devices, "auto");
                if (*json) {
                    nlohmann::json out = nlohmann::json::array();
                    for (const auto& d : devices) {
                        auto j = vk::toJson(d);
                        j["auto_selected"] = d.index == best;
                        out.push_back(std::move(j));
                    }
                    std::cout << out.dump(2) << "\n";
                } else {
                    for (const auto& d : devices) printTable(d, d.index == best);
                }
                return 0;
            }};
}

}  // namespace vki::tools
