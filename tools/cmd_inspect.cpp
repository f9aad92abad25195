// `vkinfer inspect model.gguf [--json] [--full]`: metadata and tensor table.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "graph/build.hpp"
#include "graph/passes.hpp"
#include "model/gguf.hpp"
#include "tools/commands.hpp"

namespace vki::tools {

namespace {

std::string shapeText(const std::vector<uint64_t>& shape) {
    std::string text;
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? " x " : "") + std::to_string(shape[i]);
    return text;
}

nlohmann::json valueJson(const model::GgufValue& v, bool full) {
    using model::GgufType;
    if (const auto* s = v.asString()) return *s;
    if (const auto b = v.asBool()) return *b;
    if (const auto* a = v.asArray()) {
        const uint64_t n = a->size();
        if (!full && n > 16) return {{"type", model::ggufTypeName(a->element_type)}, {"count", n}};
        nlohmann::json out = nlohmann::json::array();
        for (uint64_t i = 0; i < n; ++i) {
            if (a->element_type == GgufType::kString) {
                out.push_back(a->strings[i]);
            } else if (a->element_type == GgufType::kArray) {
                out.push_back(valueJson(a->arrays[i], full));
            } else if (a->element_type == GgufType::kF32 || a->element_type == GgufType::kF64) {
                out.push_back(*a->floatAt(i));
            } else if (const auto x = a->intAt(i)) {
                out.push_back(*x);
            } else {
                out.push_back(static_cast<bool>(*a->floatAt(i)));
            }
        }
        return out;
    }
    if (v.type() == GgufType::kF32 || v.type() == GgufType::kF64) return *v.asFloat();
    if (const auto i = v.asInt()) return *i;
    return v.scalarBits();  // u64 beyond int64
}

}  // namespace

Subcommand addInspectCommand(CLI::App& app) {
    struct Options {
        std::string path;
        bool json = false;
        bool full = false;
        bool graph = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("inspect", "show a GGUF file's metadata and tensors");
    sub->add_option("model", opts->path, "GGUF file")->required();
    sub->add_flag("--json", opts->json, "print JSON");
    sub->add_flag("--full", opts->full, "print long arrays (vocabularies) in full");
    sub->add_flag("--graph", opts->graph, "print the op graph the model compiles to, before and after fusion");
    return {sub, [opts] {
                const auto file = model::GgufFile::open(opts->path);
                if (opts->graph) {
                    graph::Graph g = graph::buildGraph(file);
                    std::printf("plain graph: %s\n", g.summary().c_str());
                    graph::fuse(g);
                    std::printf("fused graph: %s\n\n%s\n", g.summary().c_str(), g.dump().c_str());
                    for (uint32_t n : {1u, 8u}) {
                        const graph::MemoryPlan plan = graph::planMemory(g, n, 256);
                        std::printf("activations for %u token(s) per step: %.1f KiB (%.1f KiB without reuse)\n", n,
                                    plan.bytes / 1024.0, plan.unshared_bytes / 1024.0);
                    }
                    return 0;
                }
                uint64_t params = 0, bytes = 0;
                std::map<std::string, uint64_t> by_type;
                for (const auto& t : file.tensors()) {
                    params += t.elements;
                    bytes += t.size;
                    by_type[quant::traits(t.type).name] += 1;
                }
                if (opts->json) {
                    nlohmann::json meta = nlohmann::json::object();
                    for (const auto& kv : file.metadata()) meta[kv.key] = valueJson(kv.value, opts->full);
                    nlohmann::json tensors = nlohmann::json::array();
                    for (const auto& t : file.tensors())
                        tensors.push_back({{"name", t.name},
                                           {"type", quant::traits(t.type).name},
                                           {"shape", t.shape},
                                           {"offset", t.offset},
                                           {"bytes", t.size}});
                    nlohmann::json out = {{"file", file.name()},
                                          {"version", file.version()},
                                          {"alignment", file.alignment()},
                                          {"file_bytes", file.fileSize()},
                                          {"parameters", params},
                                          {"tensor_bytes", bytes},
                                          {"metadata", meta},
                                          {"tensors", tensors}};
                    std::cout << out.dump(2) << "\n";
                    return 0;
                }
                std::printf("%s: GGUF v%u, %s, %zu metadata keys, %zu tensors, %.3g B parameters\n",
                            file.name().c_str(), file.version(), formatBytes(file.fileSize()).c_str(),
                            file.metadata().size(), file.tensors().size(), double(params) / 1e9);
                std::printf("\nmetadata\n");
                for (const auto& kv : file.metadata())
                    std::printf("  %-48s %-7s %s\n", kv.key.c_str(), model::ggufTypeName(kv.value.type()),
                                kv.value.summary(opts->full ? SIZE_MAX : 8).c_str());
                std::printf("\ntensors\n");
                std::printf("  %-36s %-6s %-24s %12s %14s\n", "name", "type", "shape", "bytes", "offset");
                for (const auto& t : file.tensors())
                    std::printf("  %-36s %-6s %-24s %12llu %14llu\n", t.name.c_str(), quant::traits(t.type).name,
                                shapeText(t.shape).c_str(), static_cast<unsigned long long>(t.size),
                                static_cast<unsigned long long>(t.offset));
                std::string types;
                for (const auto& [name, count] : by_type) types += " " + name + ":" + std::to_string(count);
                std::printf("\n%zu tensors (%s),%s\n", file.tensors().size(), formatBytes(bytes).c_str(),
                            types.c_str());
                return 0;
            }};
}

}  // namespace vki::tools
