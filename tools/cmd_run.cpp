// `vkinfer run -m model.gguf -p "..."`: generates text from a prompt, streaming it to
// stdout, and ends with the speed figures on stderr. With `-f prompts.txt` (one prompt
// per line) or `--json` the prompts run through vki::Engine instead: continuously
// batched, `--parallel` sequences at once, results printed in input order.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/gguf.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "runtime/generate.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"
#include "tools/session.hpp"
#include "vkinfer/vkinfer.hpp"

namespace vki::tools {

namespace {

using Clock = std::chrono::steady_clock;

struct RunOptions {
    ModelOptions model;
    std::string prompt, tokens, logits_out, file;
    GenerateOptions gen;
    uint32_t logits_top_k = 10;
    uint32_t parallel = 4;
    uint32_t samples = 1;
    uint64_t kv_budget_mib = 0;
    double kv_fraction = 0;
    bool no_bos = false, quiet = false, json = false, no_prefix_cache = false;
};

// One prompt for the engine: text, or token ids when given as ids (--tokens) or
// tokenized here (--no-bos).
struct EnginePrompt {
    std::string text;
    std::vector<uint32_t> ids;
    bool as_ids = false;
};

std::vector<uint32_t> parseIds(const std::string& text) {
    std::vector<uint32_t> ids;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            size_t used = 0;
            const unsigned long v = std::stoul(item, &used);
            if (used != item.size() || v > UINT32_MAX) throw std::invalid_argument(item);
            ids.push_back(static_cast<uint32_t>(v));
        } catch (const std::exception&) {
            throw Error(ErrorCode::kInvalidArgument, "--tokens: '" + item + "' is not a token id");
        }
    }
    return ids;
}

// One prompt per line; blank lines (whitespace only) are skipped, a trailing CR is dropped.
std::vector<std::string> readPromptFile(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(ErrorCode::kIo, "the prompt file " + path + " does not exist");
    if (std::filesystem::is_directory(path, ec))
        throw Error(ErrorCode::kIo, "the prompt file " + path + " is a directory; give a text file, one prompt a line");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kIo, "cannot open the prompt file " + path + ": check its permissions");
    std::vector<std::string> prompts;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const bool blank = std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); });
        if (!blank) prompts.push_back(line);
    }
    if (in.bad()) throw Error(ErrorCode::kIo, "cannot read the prompt file " + path);
    if (prompts.empty()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "the prompt file " + path + " has no prompts: write one prompt a line (blank lines are skipped)");
    }
    return prompts;
}

// `run -p` without --json: the Generator on a session of its own, text streamed as it comes.
int runStreaming(RunOptions& o, bool ids_given) {
    auto session = openSession(o.model);
    std::vector<uint32_t> ids;
    if (ids_given) {
        ids = parseIds(o.tokens);
    } else {
        for (int32_t id : session->tokenizer->encode(o.prompt, !o.no_bos, true)) {
            ids.push_back(static_cast<uint32_t>(id));
        }
    }
    if (!o.logits_out.empty()) o.gen.logits_top_k = o.logits_top_k;
    if (!o.quiet && !ids_given) std::fputs(o.prompt.c_str(), stdout);
    Generator generator(*session->executor, *session->tokenizer);
    const GenerateResult r = generator.generate(ids, o.gen, [](std::string_view text) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
    });
    std::fputs("\n", stdout);
    std::fflush(stdout);  // the figures go to stderr: keep the order in a shared log
    if (!o.logits_out.empty()) {
        nlohmann::json j = {{"model", o.model.model},
                            {"prompt_tokens", ids},
                            {"generated_tokens", r.tokens},
                            {"positions", nlohmann::json::array()}};
        for (const PositionLogits& p : r.logits) {
            nlohmann::json top = nlohmann::json::array();
            for (const auto& [id, logit] : p.top) top.push_back({{"id", id}, {"logit", logit}});
            j["positions"].push_back({{"position", p.position}, {"token", p.token}, {"top", top}});
        }
        std::ofstream out(o.logits_out);
        out << j.dump(1) << "\n";
        if (!out) throw Error(ErrorCode::kIo, "cannot write " + o.logits_out);
    }
    if (!o.quiet) {
        const Executor& ex = *session->executor;
        std::fprintf(stderr,
                     "prompt: %u tokens in %.3f s (%.1f tok/s) | generation: %zu tokens in %.3f s "
                     "(%.1f tok/s) | time to first token %.3f s\n"
                     "decode: %.1f us host time per step, %u dispatches per token | stop: %s\n",
                     r.prompt_tokens, r.prompt_seconds, r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0,
                     r.tokens.size(), r.generate_seconds,
                     r.generate_seconds > 0 ? r.decode_steps / r.generate_seconds : 0.0, r.ttft_seconds,
                     r.host_us_per_step, ex.dispatches(1), r.stop_reason.c_str());
        const auto& plan = ex.memoryPlan(ex.maxStepTokens());
        const kv::KvCache& kv = session->executor->kvCache();
        std::fprintf(stderr,
                     "memory: weights %.1f MiB, KV cache %.1f MiB %s (%u of %u pages in use), activations "
                     "%.1f KiB for %u tokens per step (%.1f KiB without reuse)\n",
                     ex.weightBytes() / 1048576.0, kv.bytes() / 1048576.0, quant::traits(kv.shape().type).name,
                     kv.stats().used, kv.pages(), plan.bytes / 1024.0, ex.maxStepTokens(),
                     plan.unshared_bytes / 1024.0);
    }
    return 0;
}

std::unique_ptr<Engine> openEngine(const RunOptions& o, uint32_t parallel) {
    constexpr uint64_t kMiB = 1ull << 20;
    if (o.kv_budget_mib > UINT64_MAX / kMiB) throw Error(ErrorCode::kInvalidArgument, "--kv-budget is too large");
    const auto start = Clock::now();
    std::optional<ProgressBar> bar;
    if (!o.quiet) bar.emplace("loading " + std::filesystem::path(o.model.model).filename().string());
    EngineOptions options;
    options.model = o.model.model;
    options.device = o.model.device;
    options.context = o.model.ctx;
    options.parallel = parallel;
    options.kv_budget_bytes = o.kv_budget_mib * kMiB;
    options.kv_budget_fraction = o.kv_fraction;
    options.prefix_cache = !o.no_prefix_cache;
    options.int8_activations = o.model.int8_activations;
    options.kv_type = o.model.kv_type == quant::DType::kQ8_0 ? KvType::kQ8_0 : KvType::kF16;
    options.progress = [&bar](double fraction) {
        if (bar) bar->update(fraction, "weights");
    };
    auto engine = std::make_unique<Engine>(options);
    if (bar) bar->finish();
    if (!o.quiet) {
        const std::string name = engine->modelName();
        std::fprintf(stderr, "%s on %s, context %u, KV cache %s, %u sequence%s at once, loaded in %.2f s\n",
                     name.empty() ? o.model.model.c_str() : name.c_str(), engine->deviceName().c_str(),
                     engine->contextLength(), quant::traits(o.model.kv_type).name, parallel, parallel == 1 ? "" : "s",
                     std::chrono::duration<double>(Clock::now() - start).count());
    }
    return engine;
}

// "12/40 done" on stderr: redrawn in place on a terminal, a line every tenth or so otherwise.
class BatchProgress {
public:
    BatchProgress(size_t total, bool quiet) : total_(total), quiet_(quiet), terminal_(::isatty(STDERR_FILENO) == 1) {}

    // Before stdout output: a terminal's progress line is cleared, so the two do not mix.
    void clear() {
        if (!quiet_ && terminal_ && shown_) std::fputs("\r\033[2K", stderr);
        shown_ = false;
    }
    void show(size_t done) {
        if (quiet_) return;
        if (terminal_) {
            std::fprintf(stderr, "\r%zu/%zu done", done, total_);
            shown_ = true;
        } else if (done == total_ || done * 10 / total_ != (done - 1) * 10 / total_) {
            std::fprintf(stderr, "%zu/%zu done\n", done, total_);
        }
        std::fflush(stderr);
    }

private:
    size_t total_;
    bool quiet_, terminal_;
    bool shown_ = false;
};

void printCompletion(const RunOptions& o, size_t index, size_t total, uint32_t sample, const std::string& prompt,
                     const Completion& c) {
    if (o.json) {
        nlohmann::ordered_json j = {{"index", index},
                                    {"sample", sample},
                                    {"prompt", prompt},
                                    {"prompt_tokens", c.prompt_tokens},
                                    {"cached_tokens", c.cached_tokens},
                                    {"tokens", c.tokens},
                                    {"text", c.text},
                                    {"stop_reason", c.stop_reason},
                                    {"preemptions", c.preemptions},
                                    {"context_shifts", c.context_shifts}};
        if (c.stop_reason == "error") j["error"] = c.error;
        j["timings"] = {{"queue_s", c.queue_seconds}, {"ttft_s", c.ttft_seconds}, {"total_s", c.total_seconds}};
        // Prompts from a file and text cut at -n may hold invalid UTF-8: replaced, not thrown.
        const std::string line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        std::fprintf(stdout, "%s\n", line.c_str());
    } else {
        if (sample == 0) std::fprintf(stdout, "=== prompt %zu/%zu ===\n%s\n", index + 1, total, prompt.c_str());
        const std::string which = o.samples > 1 ? " sample " + std::to_string(sample + 1) : "";
        if (c.stop_reason == "error") {
            std::fprintf(stdout, "=== output %zu/%zu%s: error (see stderr) ===\n\n", index + 1, total, which.c_str());
        } else {
            std::fprintf(stdout, "=== output %zu/%zu%s: %zu tokens, stop: %s ===\n%s\n\n", index + 1, total,
                         which.c_str(), c.tokens.size(), c.stop_reason.c_str(), c.text.c_str());
        }
    }
    std::fflush(stdout);
}

// -f and --json: every prompt submitted at once, results waited for and printed in
// input order. Exit code 1 when any prompt ended in an error.
int runEngine(const RunOptions& o, std::vector<EnginePrompt> prompts, uint32_t parallel) {
    auto engine = openEngine(o, parallel);
    if (o.no_bos) {
        for (EnginePrompt& p : prompts) {
            if (p.as_ids) continue;
            p.ids = engine->tokenize(p.text, false);
            p.as_ids = true;
        }
    }
    const auto start = Clock::now();
    std::vector<std::vector<uint64_t>> ids;  // per prompt, per sample
    for (EnginePrompt& p : prompts) {
        GenerationRequest r;
        if (p.as_ids)
            r.tokens = p.ids;
        else
            r.prompt = p.text;
        r.max_tokens = o.gen.max_tokens;
        r.sampling = o.gen.sampling;
        r.stop = o.gen.stop;
        r.stop_at_eog = o.gen.stop_at_eog;
        r.context_shift = o.gen.context_shift;
        // More samples fork the first: they share its prompt's KV pages, each with its own seed.
        GenerationRequest fork = r;
        fork.tokens.clear();
        fork.prompt.clear();
        ids.push_back({engine->submit(std::move(r))});
        for (uint32_t k = 1; k < o.samples; ++k) {
            fork.sampling.seed = o.gen.sampling.seed + k;
            ids.back().push_back(engine->fork(ids.back()[0], fork));
        }
        if (p.text.empty()) p.text = engine->detokenize(p.ids);  // --tokens: the prompt as text
    }
    BatchProgress progress(prompts.size(), o.quiet || prompts.size() == 1);
    uint64_t generated = 0;
    size_t errors = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
        for (uint32_t k = 0; k < o.samples; ++k) {
            const Completion c = engine->wait(ids[i][k]);
            generated += c.tokens.size();
            progress.clear();
            printCompletion(o, i, prompts.size(), k, prompts[i].text, c);
            if (c.stop_reason == "error") {
                ++errors;
                if (!o.json) std::fprintf(stderr, "vkinfer: error: prompt %zu: %s\n", i + 1, c.error.c_str());
            }
        }
        progress.show(i + 1);
    }
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    progress.clear();
    if (!o.quiet) {
        const EngineStats s = engine->stats();
        std::fprintf(stderr,
                     "%zu prompt%s (%zu failed) | %llu tokens generated in %.2f s: %.1f tok/s | prefix cache hits: "
                     "%llu tokens | preemptions: %llu\n",
                     prompts.size(), prompts.size() == 1 ? "" : "s", errors, static_cast<unsigned long long>(generated),
                     wall, wall > 0 ? double(generated) / wall : 0.0,
                     static_cast<unsigned long long>(s.prefix_hit_tokens),
                     static_cast<unsigned long long>(s.preemptions));
    }
    return errors ? 1 : 0;
}

}  // namespace

Subcommand addRunCommand(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    auto* sub = app.add_subcommand("run", "generate text from a prompt, or from a file of prompts (batched)");
    addModelOptions(sub, o->model);
    auto* prompt = sub->add_option("-p,--prompt", o->prompt, "the prompt text");
    auto* tokens = sub->add_option("--tokens", o->tokens, "the prompt as token ids: 1,2,3");
    auto* file = sub->add_option("-f,--file", o->file,
                                 "a file of prompts, one a line (blank lines skipped): run them all through the "
                                 "batching engine, results in input order");
    prompt->excludes(tokens);
    file->excludes(prompt)->excludes(tokens);
    auto* parallel = sub->add_option("--parallel", o->parallel, "with -f: sequences generated at once (at least 1)")
                         ->capture_default_str();
    auto* kv_budget = sub->add_option("--kv-budget", o->kv_budget_mib,
                                      "with -f or --json: the KV cache's page pool in MiB; 0 = room for every "
                                      "running sequence's full context");
    auto* kv_fraction = sub->add_option("--kv-fraction", o->kv_fraction,
                                        "with -f or --json, instead of --kv-budget: this fraction (0..1] of the "
                                        "device memory left after the weights");
    kv_fraction->excludes(kv_budget);
    auto* no_prefix_cache = sub->add_flag("--no-prefix-cache", o->no_prefix_cache,
                                          "with -f or --json: do not share the KV pages of common prompt prefixes");
    auto* context_shift =
        sub->add_flag("--context-shift", o->gen.context_shift,
                      "with -f or --json: at the context's end keep the first KV page, drop the oldest half of the "
                      "rest and go on (otherwise generation stops there)");
    auto* samples = sub->add_option("--samples", o->samples,
                                    "samples of each prompt (seeds --seed, --seed + 1, ...): the first computes the "
                                    "prompt, the others fork it and share its KV pages")
                        ->capture_default_str();
    auto* json = sub->add_flag("--json", o->json,
                               "one JSON object per prompt on stdout (JSON Lines): ids, text, stop reason, timings");
    sub->add_option("-n,--n-predict", o->gen.max_tokens, "tokens to generate at most")->capture_default_str();
    addSamplingOptions(sub, o->gen.sampling);
    sub->add_option("--stop", o->gen.stop, "stop when the text contains this (repeatable)");
    sub->add_flag(
        "--ignore-eos", [o](int64_t) { o->gen.stop_at_eog = false; }, "keep generating after EOS");
    sub->add_flag("--no-bos", o->no_bos, "do not add BOS even where the model does");
    auto* logits_out = sub->add_option("--logits-out", o->logits_out,
                                       "write JSON with the top logits at every position (prompt and generated)");
    logits_out->excludes(file)->excludes(json);
    sub->add_option("--logits-top-k", o->logits_top_k, "logits per position in --logits-out")->capture_default_str();
    sub->add_flag("-q,--quiet", o->quiet, "print only the generated text (with -f: no progress or summary)");
    return {sub, [o, prompt, tokens, file, parallel, kv_budget, kv_fraction, no_prefix_cache, context_shift, samples] {
                if (o->parallel == 0) throw Error(ErrorCode::kInvalidArgument, "--parallel must be at least 1");
                if (o->samples == 0) throw Error(ErrorCode::kInvalidArgument, "--samples must be at least 1");
                if (prompt->count() == 0 && tokens->count() == 0 && file->count() == 0) {
                    throw Error(ErrorCode::kInvalidArgument,
                                "give a prompt: -p \"text\", --tokens 1,2,3 or -f prompts.txt");
                }
                const bool engine = file->count() > 0 || o->json || o->samples > 1;
                if (!engine) {
                    if (parallel->count() || kv_budget->count() || kv_fraction->count() || no_prefix_cache->count() ||
                        context_shift->count()) {
                        throw Error(ErrorCode::kInvalidArgument,
                                    "--parallel, --kv-budget, --kv-fraction, --no-prefix-cache and --context-shift "
                                    "need -f prompts.txt, --json or --samples");
                    }
                    return runStreaming(*o, tokens->count() > 0);
                }
                std::vector<EnginePrompt> prompts;
                if (file->count()) {
                    for (std::string& line : readPromptFile(o->file)) prompts.push_back({.text = std::move(line)});
                    return runEngine(*o, std::move(prompts), o->parallel);
                }
                if (tokens->count())
                    prompts.push_back({.ids = parseIds(o->tokens), .as_ids = true});
                else
                    prompts.push_back({.text = o->prompt});
                // A single prompt takes the same path as a file, so the objects have one shape;
                // its samples run at once.
                return runEngine(*o, std::move(prompts), parallel->count() ? o->parallel : o->samples);
            }};
}

}  // namespace vki::tools
