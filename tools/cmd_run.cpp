// `vkinfer run -m model.gguf -p "..."`: generates text from a prompt, streaming it to
// stdout, and ends with the speed figures on stderr.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/generate.hpp"
#include "tools/commands.hpp"
#include "tools/session.hpp"

namespace vki::tools {

namespace {

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

}  // namespace

Subcommand addRunCommand(CLI::App& app) {
    struct Options {
        ModelOptions model;
        std::string prompt, tokens, logits_out;
        GenerateOptions gen;
        uint32_t logits_top_k = 10;
        bool no_bos = false, quiet = false;
    };
    auto o = std::make_shared<Options>();
    auto* sub = app.add_subcommand("run", "generate text from a prompt");
    addModelOptions(sub, o->model);
    auto* prompt = sub->add_option("-p,--prompt", o->prompt, "the prompt text");
    auto* tokens = sub->add_option("--tokens", o->tokens, "the prompt as token ids: 1,2,3");
    prompt->excludes(tokens);
    sub->add_option("-n,--n-predict", o->gen.max_tokens, "tokens to generate at most")->capture_default_str();
    addSamplingOptions(sub, o->gen.sampling);
    sub->add_option("--stop", o->gen.stop, "stop when the text contains this (repeatable)");
    sub->add_flag(
        "--ignore-eos", [o](int64_t) { o->gen.stop_at_eog = false; }, "keep generating after EOS");
    sub->add_flag("--no-bos", o->no_bos, "do not add BOS even where the model does");
    sub->add_option("--logits-out", o->logits_out,
                    "write JSON with the top logits at every position (prompt and generated)");
    sub->add_option("--logits-top-k", o->logits_top_k, "logits per position in --logits-out")->capture_default_str();
    sub->add_flag("-q,--quiet", o->quiet, "print only the generated text");
    return {sub, [o, prompt, tokens] {
                if (prompt->count() == 0 && tokens->count() == 0) {
                    throw Error(ErrorCode::kInvalidArgument, "give a prompt: -p \"text\" or --tokens 1,2,3");
                }
                auto session = openSession(o->model);
                std::vector<uint32_t> ids;
                if (tokens->count()) {
                    ids = parseIds(o->tokens);
                } else {
                    for (int32_t id : session->tokenizer->encode(o->prompt, !o->no_bos, true)) {
                        ids.push_back(static_cast<uint32_t>(id));
                    }
                }
                if (!o->logits_out.empty()) o->gen.logits_top_k = o->logits_top_k;
                if (!o->quiet && prompt->count()) std::fputs(o->prompt.c_str(), stdout);
                Generator generator(*session->executor, *session->tokenizer);
                const GenerateResult r = generator.generate(ids, o->gen, [](std::string_view text) {
                    std::fwrite(text.data(), 1, text.size(), stdout);
                    std::fflush(stdout);
                });
                std::fputs("\n", stdout);
                std::fflush(stdout);  // the figures go to stderr: keep the order in a shared log
                if (!o->logits_out.empty()) {
                    nlohmann::json j = {{"model", o->model.model},
                                        {"prompt_tokens", ids},
                                        {"generated_tokens", r.tokens},
                                        {"positions", nlohmann::json::array()}};
                    for (const PositionLogits& p : r.logits) {
                        nlohmann::json top = nlohmann::json::array();
                        for (const auto& [id, logit] : p.top) top.push_back({{"id", id}, {"logit", logit}});
                        j["positions"].push_back({{"position", p.position}, {"token", p.token}, {"top", top}});
                    }
                    std::ofstream out(o->logits_out);
                    out << j.dump(1) << "\n";
                    if (!out) throw Error(ErrorCode::kIo, "cannot write " + o->logits_out);
                }
                if (!o->quiet) {
                    const Executor& ex = *session->executor;
                    std::fprintf(stderr,
                                 "prompt: %u tokens in %.3f s (%.1f tok/s) | generation: %zu tokens in %.3f s "
                                 "(%.1f tok/s) | time to first token %.3f s\n"
                                 "decode: %.1f us host time per step, %u dispatches per token | stop: %s\n",
                                 r.prompt_tokens, r.prompt_seconds,
                                 r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0, r.tokens.size(),
                                 r.generate_seconds, r.generate_seconds > 0 ? r.decode_steps / r.generate_seconds : 0.0,
                                 r.ttft_seconds, r.host_us_per_step, ex.dispatches(1), r.stop_reason.c_str());
                    const auto& plan = ex.memoryPlan(ex.maxStepTokens());
                    const kv::KvCache& kv = session->executor->kvCache();
                    std::fprintf(stderr,
                                 "memory: weights %.1f MiB, KV cache %.1f MiB (%u of %u pages in use), activations "
                                 "%.1f KiB for %u tokens per step (%.1f KiB without reuse)\n",
                                 ex.weightBytes() / 1048576.0, kv.bytes() / 1048576.0, kv.stats().used, kv.pages(),
                                 plan.bytes / 1024.0, ex.maxStepTokens(), plan.unshared_bytes / 1024.0);
                }
                return 0;
            }};
}

}  // namespace vki::tools
