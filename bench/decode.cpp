// vkinfer_bench_decode: prompt (prefill) and decode speed of one model file on one
// device at batch 1, against the device's measured arithmetic rate and memory
// bandwidth; optionally beside llama.cpp's Vulkan backend on the same file
// (bench/llamacpp/decode.mjs).
//   vkinfer_bench_decode -m model.gguf [--device D] [-n 128] [--prompt-tokens 512]
//                        [--bandwidth GB/s] [--json FILE] [--llamacpp DIR]
// Decoding reads every weight matrix once per token, so at batch 1 it is bound by
// memory bandwidth: weight bytes per token / seconds per token is the bandwidth the
// decoder achieves, and its share of the probe's copy bandwidth is how much is left.
// A prompt is bound by arithmetic: its FLOPs (2 per weight per token, plus attention)
// per second against the probe's fp32 and fp16 rates.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/gguf.hpp"
#include "runtime/executor.hpp"
#include "runtime/probe.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/instance.hpp"
#include "tools/progress.hpp"

extern char** environ;

namespace {

using namespace vki;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

struct Options {
    std::string model;
    std::string device = "auto";
    uint32_t n = 128;
    uint32_t prompt_tokens = 512;
    uint32_t ctx = 0;
    double bandwidth = 0;  // GB/s; 0: run the probe
    std::string json_path;
    std::string llamacpp_dir;
    bool profile = false;
    uint32_t attention_chunk = 0;
    std::string kv_type = "f16";  // ExecutorOptions::kv_type by name
};

struct Summary {
    double mean = 0, p50 = 0, p99 = 0;
};

// Nearest-rank percentiles.
Summary summarize(std::vector<double> v) {
    Summary s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (double x : v) sum += x;
    s.mean = sum / double(v.size());
    auto rank = [&](double p) { return v[std::max<size_t>(1, size_t(std::ceil(p * double(v.size())))) - 1]; };
    s.p50 = rank(0.50);
    s.p99 = rank(0.99);
    return s;
}

// BOS (when the model has one), then ids spread over the vocabulary above the
// byte/control range. Keep in sync with promptIds() in bench/llamacpp/decode.mjs
// (which is given these ids, but uses its own copy when run by hand).
std::vector<uint32_t> promptIds(uint32_t count, uint32_t n_vocab, std::optional<uint32_t> bos) {
    const uint32_t first = std::min<uint32_t>(1000, n_vocab / 2);
    std::vector<uint32_t> ids(count);
    for (uint32_t i = 0; i < count; ++i) ids[i] = first + uint32_t((uint64_t{i} * 7919) % (n_vocab - first));
    if (count > 0 && bos && *bos < n_vocab) ids[0] = *bos;
    return ids;
}

struct DeviceInfo {
    uint32_t index = 0;
    std::string name, type, driver, driver_version, driver_info, api;
};

struct ModelInfo {
    std::string path, name, arch;
    uint32_t n_layer = 0, n_embd = 0, n_vocab = 0;
    uint64_t file_bytes = 0, weight_bytes = 0;
    std::map<std::string, uint64_t> tensor_types;  // bytes of tensors per storage type
};

struct Measurement {
    DeviceInfo device;
    ModelInfo model;
    double bandwidth_gb_per_s = 0;
    bool bandwidth_probed = false;
    // The probe's arithmetic rates (0: not probed, or not on this device).
    double fp32_gflops = 0, fp16_gflops = 0, coopmat_gflops = 0;
    double prefill_flops = 0;  // FLOPs the prompt needs (see prefillFlops)
    std::string kv_type;       // the KV cache's element type
    uint64_t kv_bytes = 0;     // the KV cache's pool
    uint32_t kv_tokens = 0;    // positions it holds

    uint32_t prompt_tokens = 0;
    double prefill_seconds = 0;  // the prompt's steps up to its argmax (best of several): time to first token
    uint32_t decode_tokens = 0;
    double decode_seconds = 0;  // wall clock over the whole decode loop
    Summary host_us, device_us;
    uint32_t dispatches = 0;
    uint64_t weight_bytes_per_token = 0;
    // Greedy ids: the prompt's argmax, then one per decode step.
    std::vector<uint32_t> prompt, generated;
    // --profile: mean GPU microseconds per decode token of each op kind ("matmul q4_K").
    std::map<std::string, double> op_us;
    // --profile: GPU microseconds of each op kind over the whole prompt.
    std::map<std::string, double> prefill_op_us;

    double prefillTokPerS() const { return prompt_tokens / prefill_seconds; }
    double prefillGflops() const { return prefill_flops / prefill_seconds / 1e9; }
    double decodeTokPerS() const { return decode_tokens / decode_seconds; }
    double weightGbPerS() const { return double(weight_bytes_per_token) * decodeTokPerS() / 1e9; }
    double bandwidthShare() const { return weightGbPerS() / bandwidth_gb_per_s; }
};

ModelInfo describeModel(const std::string& path, const model::GgufFile& file, const Executor& executor) {
    const auto& c = executor.graph().config;
    ModelInfo m;
    m.path = path;
    m.name = c.name.empty() ? std::filesystem::path(path).stem().string() : c.name;
    m.arch = model::archName(c.arch);
    m.n_layer = c.n_layer;
    m.n_embd = c.n_embd;
    m.n_vocab = c.n_vocab;
    m.file_bytes = file.fileSize();
    m.weight_bytes = executor.weightBytes();
    for (const auto& t : file.tensors()) m.tensor_types[quant::traits(t.type).name] += t.size;
    return m;
}

// FLOPs a prompt of n tokens needs from position 0: every matrix of the layers once
// per token (2 per weight: multiply and add), the output matrix for the last token
// only (the one whose logits are used), and causal attention (QK^T and PV: 4 *
// head_dim per query head per key, n (n + 1) / 2 keys in all, per layer).
double prefillFlops(const graph::Graph& g, uint32_t n) {
    double layer_weights = 0, output_weights = 0;
    for (const graph::Op& op : g.ops) {
        if (op.kind != graph::OpKind::kMatMul) continue;
        double elements = double(g.weights[op.w].rows) * g.weights[op.w].cols;
        if (op.up != graph::kNone) elements *= 2;
        (op.out == g.logits ? output_weights : layer_weights) += elements;
    }
    const auto& a = g.attention;
    const double attention = 4.0 * a.head_dim * a.n_head * (double(n) * (n + 1) / 2) * g.config.n_layer;
    return 2 * layer_weights * n + 2 * output_weights + attention;
}

// Runs the prompt in steps of up to maxStepTokens() from position 0 of slot 0, then
// `n` greedy decode steps, each feeding the previous argmax. Positions restart at 0
// on every call: the K/V written before is overwritten, nothing is reused.
void runSequence(Executor& executor, std::span<const uint32_t> prompt, uint32_t n, Measurement* out,
                 tools::ProgressBar* bar) {
    std::vector<uint32_t> positions, slots;
    positions.reserve(executor.maxStepTokens());
    slots.reserve(executor.maxStepTokens());
    const auto start = Clock::now();
    uint32_t next = 0;
    for (uint32_t at = 0; at < prompt.size();) {
        const uint32_t step = std::min<uint32_t>(executor.maxStepTokens(), uint32_t(prompt.size()) - at);
        positions.resize(step);
        slots.assign(step, 0);
        for (uint32_t i = 0; i < step; ++i) positions[i] = at + i;
        next = executor.step(prompt.subspan(at, step), positions, slots).back();
        if (out) {
            for (const OpTime& t : executor.lastOpTimes())
                out->prefill_op_us[t.detail.empty() ? t.op : t.op + " " + t.detail] += t.us;
        }
        at += step;
    }
    const auto prompted = Clock::now();

    std::vector<double> host_us, device_us;
    host_us.reserve(n);
    device_us.reserve(n);
    std::vector<uint32_t> generated;
    generated.reserve(n + 1);
    generated.push_back(next);
    auto last_update = prompted;
    const uint32_t slot = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t token = next;
        const uint32_t position = uint32_t(prompt.size()) + i;
        next = executor.step(std::span(&token, 1), std::span(&position, 1), std::span(&slot, 1))[0];
        generated.push_back(next);
        host_us.push_back(executor.lastTiming().host_us);
        device_us.push_back(executor.lastTiming().device_us);
        if (out) {
            for (const OpTime& t : executor.lastOpTimes()) {
                out->op_us[t.detail.empty() ? t.op : t.op + " " + t.detail] += t.us / n;
            }
        }
        // Redraw at most every 200 ms: the bar's own cost stays out of the numbers.
        if (bar && seconds(Clock::now() - last_update) > 0.2) {
            bar->update(double(i + 1) / n, "decode");
            last_update = Clock::now();
        }
    }
    const auto end = Clock::now();
    if (!out) return;
    out->prompt_tokens = uint32_t(prompt.size());
    out->prefill_seconds = seconds(prompted - start);
    out->decode_tokens = n;
    out->decode_seconds = seconds(end - prompted);
    out->host_us = summarize(std::move(host_us));
    out->device_us = summarize(std::move(device_us));
    out->prompt.assign(prompt.begin(), prompt.end());
    out->generated = std::move(generated);
}

Measurement measure(const Options& o) {
    // The file first: a missing or corrupt model fails before the slow probe.
    model::GgufFile file = model::GgufFile::open(o.model);
    vk::Instance instance;
    vk::Device device(instance, o.device);
    const auto& caps = device.caps();
    Measurement m;
    m.device = {caps.index,
                caps.name,
                vk::deviceTypeName(caps.device_type),
                caps.driver_name,
                caps.driver_version_text,
                caps.driver_info,
                vk::apiVersionText(caps.api_version)};
    std::fprintf(stderr, "device %u: %s (%s %s)\n", caps.index, caps.name.c_str(), caps.driver_name.c_str(),
                 caps.driver_version_text.c_str());

    m.bandwidth_gb_per_s = o.bandwidth;
    if (o.bandwidth <= 0) {
        tools::ProgressBar bar("probe");
        const ProbeResult probe = runProbe(device, [&](std::string_view step, double f) { bar.update(f, step); });
        m.bandwidth_gb_per_s = probe.copy_gb_per_s;
        m.fp32_gflops = probe.fp32_gflops;
        m.fp16_gflops = probe.fp16_gflops.value_or(0);
        m.coopmat_gflops = probe.coopmat_gflops.value_or(0);
        m.bandwidth_probed = true;
    }

    std::unique_ptr<Executor> executor;
    {
        tools::ProgressBar bar("loading " + std::filesystem::path(o.model).filename().string());
        executor = std::make_unique<Executor>(
            device, file,
            ExecutorOptions{.n_ctx = o.ctx,
                            .kv_type = *quant::dtypeFromName(o.kv_type),
                            .attention_chunk = o.attention_chunk,
                            .profile = o.profile},
            [&](uint64_t done, uint64_t total) { bar.update(total ? double(done) / double(total) : 1.0, "weights"); });
    }
    m.model = describeModel(o.model, file, *executor);
    const kv::KvCache& kv = executor->kvCache();
    m.kv_type = quant::traits(kv.shape().type).name;
    m.kv_bytes = kv.bytes();
    m.kv_tokens = kv.pages() * kv.shape().page_tokens;
    if (uint64_t{o.prompt_tokens} + o.n > executor->contextLength()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(o.prompt_tokens) + " prompt + " + std::to_string(o.n) +
                                                     " decode tokens do not fit the context of " +
                                                     std::to_string(executor->contextLength()) +
                                                     " tokens (lower -n or --prompt-tokens, or raise --ctx)");
    }
    const auto bos = file.getIntOr("tokenizer.ggml.bos_token_id", -1);
    const std::vector<uint32_t> prompt =
        promptIds(o.prompt_tokens, executor->vocabSize(), bos >= 0 ? std::optional(uint32_t(bos)) : std::nullopt);
    m.dispatches = executor->dispatches(1);
    m.prefill_flops = prefillFlops(executor->graph(), o.prompt_tokens);
    m.weight_bytes_per_token = executor->weightBytesPerStep();

    {
        tools::ProgressBar bar("decode");
        // Warm-up, not timed: first submissions of each plan, first page reservations,
        // and the GPU's clocks, which idle low and take a moment to rise (measured on an
        // H100: a 512-token prompt right after idling ran ~6x slower than warm).
        bar.update(0, "warm-up");
        const auto warm_start = Clock::now();
        do {
            runSequence(*executor, prompt, 2, nullptr, nullptr);
        } while (seconds(Clock::now() - warm_start) < 0.5);
        // The prompt alone, repeated for about a second: its best time is the TTFT.
        bar.update(0, "prompt");
        double best_prefill = INFINITY;
        const auto reps_start = Clock::now();
        for (int rep = 0; rep < 20 && (rep == 0 || seconds(Clock::now() - reps_start) < 1.0); ++rep) {
            Measurement once;
            runSequence(*executor, prompt, 0, &once, nullptr);
            best_prefill = std::min(best_prefill, once.prefill_seconds);
        }
        bar.update(0, "decode");
        runSequence(*executor, prompt, o.n, &m, &bar);
        m.prefill_seconds = std::min(m.prefill_seconds, best_prefill);
    }
    return m;
}

void printOurs(const Measurement& m) {
    const ModelInfo& md = m.model;
    std::printf("vkinfer decode benchmark\n");
    std::printf("  model        %s (%s, %u layers, dim %u, vocab %u): file %s, weights %s\n", md.name.c_str(),
                md.arch.c_str(), md.n_layer, md.n_embd, md.n_vocab, formatBytes(md.file_bytes).c_str(),
                formatBytes(md.weight_bytes).c_str());
    std::printf("  device       %u: %s (%s, Vulkan %s, %s %s, %s)\n", m.device.index, m.device.name.c_str(),
                m.device.type.c_str(), m.device.api.c_str(), m.device.driver.c_str(), m.device.driver_version.c_str(),
                m.device.driver_info.c_str());
    std::printf("  bandwidth    %.2f GB/s (%s)\n", m.bandwidth_gb_per_s,
                m.bandwidth_probed ? "probe: copy kernel, bytes read + written" : "given with --bandwidth");
    std::printf("  prefill      %u tokens: %.2f tok/s, time to first token %.2f ms\n", m.prompt_tokens,
                m.prefillTokPerS(), m.prefill_seconds * 1e3);
    std::printf("  prefill rate %.2f GFLOP/s", m.prefillGflops());
    // Shares of the probe's rates (GFLOP/s), where it ran.
    if (m.fp32_gflops > 0)
        std::printf(", %.1f%% of the probe's fp32 %.1f", 100 * m.prefillGflops() / m.fp32_gflops, m.fp32_gflops);
    if (m.fp16_gflops > 0)
        std::printf(", %.1f%% of its fp16 %.1f", 100 * m.prefillGflops() / m.fp16_gflops, m.fp16_gflops);
    if (m.coopmat_gflops > 0)
        std::printf(", %.1f%% of its cooperative-matrix fp16 %.1f", 100 * m.prefillGflops() / m.coopmat_gflops,
                    m.coopmat_gflops);
    std::printf("\n");
    std::printf("  decode       %u tokens at batch 1 (greedy): %.2f tok/s, %.3f ms/token\n", m.decode_tokens,
                m.decodeTokPerS(), m.decode_seconds * 1e3 / m.decode_tokens);
    std::printf("  host/step    mean %.1f us, p50 %.1f us, p99 %.1f us (waiting for the device: mean %.3f ms)\n",
                m.host_us.mean, m.host_us.p50, m.host_us.p99, m.device_us.mean / 1e3);
    std::printf("  dispatches   %u per token\n", m.dispatches);
    std::printf("  KV cache     %s, %s for %u positions (%.0f bytes per position)\n", m.kv_type.c_str(),
                formatBytes(m.kv_bytes).c_str(), m.kv_tokens, double(m.kv_bytes) / m.kv_tokens);
    std::printf("  weights      %s read per token: %.2f GB/s, %.1f%% of %.2f GB/s\n",
                formatBytes(m.weight_bytes_per_token).c_str(), m.weightGbPerS(), 100 * m.bandwidthShare(),
                m.bandwidth_gb_per_s);
    auto printOps = [](const char* title, const std::map<std::string, double>& by_op) {
        if (by_op.empty()) return;
        std::vector<std::pair<std::string, double>> ops(by_op.begin(), by_op.end());
        std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        double total = 0;
        for (const auto& [name, us] : ops) total += us;
        std::printf("  GPU time %s by op (timestamps after every op; %.1f us in all):\n", title, total);
        for (const auto& [name, us] : ops)
            std::printf("    %-16s %9.1f us  %5.1f%%\n", name.c_str(), us, 100 * us / total);
    };
    printOps("of the prompt", m.prefill_op_us);
    printOps("per decode token", m.op_us);
    std::fflush(stdout);
}

json toJson(const Measurement& m) {
    const ModelInfo& md = m.model;
    return {
        {"device",
         {{"index", m.device.index},
          {"name", m.device.name},
          {"type", m.device.type},
          {"driver", m.device.driver},
          {"driver_version", m.device.driver_version},
          {"driver_info", m.device.driver_info},
          {"api", m.device.api}}},
        {"model",
         {{"path", md.path},
          {"name", md.name},
          {"arch", md.arch},
          {"n_layer", md.n_layer},
          {"n_embd", md.n_embd},
          {"n_vocab", md.n_vocab},
          {"file_bytes", md.file_bytes},
          {"weight_bytes", md.weight_bytes},
          {"tensor_type_bytes", md.tensor_types}}},
        {"bandwidth_gb_per_s", m.bandwidth_gb_per_s},
        {"bandwidth_source", m.bandwidth_probed ? "probe" : "option"},
        {"prefill",
         {{"tokens", m.prompt_tokens},
          {"seconds", m.prefill_seconds},
          {"tok_per_s", m.prefillTokPerS()},
          {"flops", m.prefill_flops},
          {"gflop_per_s", m.prefillGflops()},
          {"probe_fp32_gflop_per_s", m.fp32_gflops},
          {"probe_fp16_gflop_per_s", m.fp16_gflops},
          {"probe_coopmat_gflop_per_s", m.coopmat_gflops},
          {"ttft_ms", m.prefill_seconds * 1e3}}},
        {"decode",
         {{"tokens", m.decode_tokens},
          {"seconds", m.decode_seconds},
          {"tok_per_s", m.decodeTokPerS()},
          {"ms_per_token", m.decode_seconds * 1e3 / m.decode_tokens},
          {"host_us", {{"mean", m.host_us.mean}, {"p50", m.host_us.p50}, {"p99", m.host_us.p99}}},
          {"device_wait_us", {{"mean", m.device_us.mean}, {"p50", m.device_us.p50}, {"p99", m.device_us.p99}}},
          {"dispatches_per_token", m.dispatches},
          {"kv_cache", {{"type", m.kv_type}, {"bytes", m.kv_bytes}, {"positions", m.kv_tokens}}},
          {"weight_bytes_per_token", m.weight_bytes_per_token},
          {"weight_gb_per_s", m.weightGbPerS()},
          {"bandwidth_fraction", m.bandwidthShare()},
          {"gpu_us_per_token_by_op", m.op_us}}},
        {"prefill_gpu_us_by_op", m.prefill_op_us},
        {"prompt_ids", m.prompt},
        {"generated_ids", m.generated},
    };
}

// ---- llama.cpp side-by-side ------------------------------------------------

// DIR/node_modules or DIR itself, whichever holds node-llama-cpp.
std::optional<std::filesystem::path> findNodeModules(const std::filesystem::path& dir) {
    for (const auto& candidate : {dir / "node_modules", dir}) {
        if (std::filesystem::exists(candidate / "node-llama-cpp" / "package.json")) return candidate;
    }
    return std::nullopt;
}

struct ChildResult {
    int exit_code = -1;
    std::string out;  // stdout; stderr goes to ours
};

// Runs `argv` (looked up in PATH) with `extra_env` added to our environment.
// posix_spawn, not fork + setenv: the Vulkan driver's threads make a forked child
// unsafe for anything but exec.
ChildResult runChild(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp, args;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);

    int fds[2];
    if (::pipe(fds) != 0) throw Error(ErrorCode::kIo, "pipe() failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    ChildResult result;
    if (rc != 0) {
        ::close(fds[0]);
        throw Error(ErrorCode::kIo, "cannot run " + argv[0] + ": " + std::strerror(rc) + " (is Node.js installed?)");
    }
    char buffer[4096];
    for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        result.out.append(buffer, size_t(got));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

// The last line of `out` that parses as a JSON object.
std::optional<json> lastJsonLine(const std::string& out) {
    size_t end = out.size();
    while (end > 0) {
        const size_t begin = out.rfind('\n', end - 1);
        const size_t from = begin == std::string::npos ? 0 : begin + 1;
        json j = json::parse(out.substr(from, end - from), nullptr, false);
        if (!j.is_discarded() && j.is_object()) return j;
        if (begin == std::string::npos) break;
        end = begin;
    }
    return std::nullopt;
}

// llama.cpp's numbers as decode.mjs prints them, or {"error": ...}.
json runLlamaCpp(const Options& o, const Measurement& m) {
    const std::filesystem::path script = VKI_BENCH_LLAMACPP_SCRIPT;
    if (!std::filesystem::exists(script)) return {{"error", script.string() + " not found"}};
    const auto modules = findNodeModules(o.llamacpp_dir);
    if (!modules) {
        return {{"error", "node-llama-cpp is not installed in " + o.llamacpp_dir + " (run bench/llamacpp/install.sh " +
                              o.llamacpp_dir + ")"}};
    }
    std::string ids;
    for (uint32_t t : m.prompt) ids += (ids.empty() ? "" : ",") + std::to_string(t);
    // llama.cpp skips CPU Vulkan devices (lavapipe) unless named; name the one we ran on.
    std::vector<std::string> env;
    if (!std::getenv("GGML_VK_VISIBLE_DEVICES"))
        env.push_back("GGML_VK_VISIBLE_DEVICES=" + std::to_string(m.device.index));
    std::fprintf(stderr, "llama.cpp: running %s\n", script.c_str());
    ChildResult r;
    try {
        r = runChild({"node", script.string(), modules->string(), std::filesystem::absolute(o.model).string(),
                      std::to_string(m.prompt_tokens), std::to_string(m.decode_tokens), ids},
                     env);
    } catch (const Error& e) {
        return {{"error", e.what()}};
    }
    auto j = lastJsonLine(r.out);
    if (!j) j = json{{"error", "no result from decode.mjs (exit " + std::to_string(r.exit_code) + "): " + r.out}};
    if (r.exit_code != 0 && !j->contains("error"))
        (*j)["error"] = "decode.mjs exited with " + std::to_string(r.exit_code);
    return *j;
}

// Leading generated ids both agree on.
uint32_t agreeingPrefix(const std::vector<uint32_t>& ours, const json& theirs) {
    uint32_t k = 0;
    if (!theirs.is_array()) return 0;
    while (k < ours.size() && k < theirs.size() && theirs[k].is_number_unsigned() &&
           theirs[k].get<uint32_t>() == ours[k])
        ++k;
    return k;
}

void printSideBySide(const Measurement& m, json& llama) {
    if (llama.contains("error")) {
        std::printf("\nllama.cpp: failed: %s\n", llama["error"].get<std::string>().c_str());
        return;
    }
    const double prefill = llama.value("prompt_tok_per_s", 0.0);
    const double decode = llama.value("decode_tok_per_s", 0.0);
    const double ttft = llama.value("ttft_ms", 0.0);
    const uint32_t agree = agreeingPrefix(m.generated, llama.value("tokens", json::array()));
    llama["ratio_prefill"] = m.prefillTokPerS() / prefill;
    llama["ratio_decode"] = m.decodeTokPerS() / decode;
    llama["greedy_agreeing_prefix"] = agree;
    std::printf("\nllama.cpp side-by-side (%s, Vulkan on %s, %u/%u layers offloaded)\n",
                llama.value("llama_cpp", std::string("?")).c_str(), llama.value("device", std::string("?")).c_str(),
                llama.value("gpu_layers", 0u), llama.value("layers", 0u));
    std::printf("  %-20s %12s %12s %16s\n", "", "vkinfer", "llama.cpp", "vkinfer/llama");
    std::printf("  %-20s %12.2f %12.2f %15.2fx\n", "prefill tok/s", m.prefillTokPerS(), prefill,
                m.prefillTokPerS() / prefill);
    std::printf("  %-20s %12.2f %12.2f %16s\n", "time to first ms", m.prefill_seconds * 1e3, ttft, "");
    std::printf("  %-20s %12.2f %12.2f %15.2fx\n", "decode tok/s", m.decodeTokPerS(), decode,
                m.decodeTokPerS() / decode);
    std::printf("  greedy ids agree for the first %u of %zu generated tokens\n", agree, m.generated.size());
}

int run(const Options& o) {
    std::ofstream json_out;
    if (!o.json_path.empty()) {
        json_out.open(o.json_path);
        if (!json_out) throw Error(ErrorCode::kIo, "cannot write " + o.json_path);
    }
    // Scoped: the device and weights are freed before llama.cpp loads the same model.
    const Measurement m = measure(o);
    printOurs(m);
    json report = toJson(m);
    if (!o.llamacpp_dir.empty()) {
        json llama = runLlamaCpp(o, m);
        printSideBySide(m, llama);
        report["llamacpp"] = llama;
    }
    if (json_out.is_open()) {
        json_out << report.dump(2) << "\n";
        if (!json_out) throw Error(ErrorCode::kIo, "cannot write " + o.json_path);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"vkinfer decode benchmark: batch-1 decode speed of a GGUF model against the device's bandwidth"};
    Options o;
    app.add_option("-m,--model", o.model, "GGUF model file")->required();
    app.add_option("--device", o.device, "Vulkan device: auto, an index or a name substring")->capture_default_str();
    app.add_option("-n,--decode-tokens", o.n, "tokens to decode (timed)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--prompt-tokens", o.prompt_tokens, "prompt tokens run before decoding (timed separately)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("-c,--ctx", o.ctx, "context length in tokens (default: the model's, at most 4096)");
    app.add_option("--bandwidth", o.bandwidth, "memory bandwidth in GB/s to compare against (skips the probe)")
        ->check(CLI::PositiveNumber);
    app.add_option("--json", o.json_path, "also write the results as JSON to FILE");
    app.add_flag("--profile", o.profile, "time every op on the GPU and print where a decode token's time goes");
    app.add_option("--attention-chunk", o.attention_chunk, "keys per attention split (default: from the device caps)");
    app.add_option("--kv-type", o.kv_type, "KV cache element type")
        ->capture_default_str()
        ->check(CLI::IsMember({"f16", "q8_0"}));
    app.add_option("--llamacpp", o.llamacpp_dir,
                   "run llama.cpp's Vulkan backend on the same model too; DIR as given to bench/llamacpp/install.sh");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(o);
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
