// `vkinfer perplexity -m model.gguf -f text.txt [--kl-divergence BASE]`: perplexity of
// one or more models on a text, as llama.cpp's perplexity tool measures it, and with a
// base (a reference model, or its logits saved by --save-logits) the KL divergence and
// top-1 agreement of each model against it: the quality guard for quantizations.
//
// Models run one after another, each loaded alone. A base model runs first and its
// logits stream into a file (--save-logits, or a temporary one); each model then reads
// them back chunk by chunk, so memory holds one model and one chunk of logits.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/vocab_io.hpp"
#include "runtime/perplexity.hpp"
#include "tools/commands.hpp"
#include "tools/progress.hpp"
#include "tools/session.hpp"

namespace vki::tools {

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::vector<std::string> models;
    std::string text, base, save_logits, device = "auto";
    uint32_t ctx = 512, chunks = 0;
    bool json = false;
    bool int8_activations = false;              // for the models, not the base
    quant::DType kv_type = quant::DType::kF16;  // likewise
};

// What the table says about a model file, read before anything is loaded.
struct ModelInfo {
    std::string path;
    std::string type;  // "Q4_K_M", "F16", ...
    double size_mib = 0;
    uint32_t n_ctx_train = 0;
    uint32_t n_vocab = 0;  // logits per position
    model::Vocab vocab;
};

struct ModelRun {
    PerplexityResult result;
    double seconds = 0;  // evaluating chunks, loading aside
};

std::string fileName(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

// llama.cpp's names of its llama_ftype values (general.file_type).
const char* fileTypeName(int64_t file_type) {
    static const std::map<int64_t, const char*> kNames = {
        {0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},
        {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
        {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {32, "BF16"}};
    const auto it = kNames.find(file_type);
    return it == kNames.end() ? nullptr : it->second;
}

// The file type, else the type holding most bytes of the matrices.
std::string modelType(const model::GgufFile& file) {
    if (const char* name = fileTypeName(file.getIntOr("general.file_type", -1))) return name;
    std::map<std::string, uint64_t> bytes;
    for (const auto& t : file.tensors()) {
        if (t.shape.size() >= 2) bytes[quant::traits(t.type).name] += t.size;
    }
    if (bytes.empty()) return "?";
    std::string name =
        std::max_element(bytes.begin(), bytes.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    return name;
}

ModelInfo inspectModel(const std::string& path) {
    const auto file = model::GgufFile::open(path);
    const model::ModelConfig config = model::readConfig(file);
    return {path,         modelType(file), double(file.fileSize()) / 1048576.0,
            config.n_ctx, config.n_vocab,  model::readVocab(file)};
}

void checkSameVocabulary(const ModelInfo& a, const ModelInfo& b, const char* what) {
    std::string why;
    if (a.n_vocab != b.n_vocab) {
        why = std::to_string(b.n_vocab) + " vs " + std::to_string(a.n_vocab) + " logits";
    } else if (a.vocab.tokens.size() != b.vocab.tokens.size()) {
        why = std::to_string(b.vocab.tokens.size()) + " vs " + std::to_string(a.vocab.tokens.size()) + " tokens";
    } else {
        for (size_t i = 0; i < a.vocab.tokens.size() && why.empty(); ++i) {
            if (a.vocab.tokens[i] != b.vocab.tokens[i]) {
                why = "token " + std::to_string(i) + " is '" + b.vocab.tokens[i] + "' vs '" + a.vocab.tokens[i] + "'";
            }
        }
    }
    if (!why.empty()) {
        throw Error(ErrorCode::kInvalidArgument, fileName(b.path) + " has a different vocabulary from " + what + " " +
                                                     fileName(a.path) + " (" + why +
                                                     "): models are compared on the same tokens");
    }
}

bool isGguf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw Error(ErrorCode::kIo, "cannot read the text file " + path + ": " + std::strerror(errno));
    return text.str();
}

std::string formatSeconds(double s) {
    char buf[32];
    if (s < 60) {
        std::snprintf(buf, sizeof(buf), "%.0fs", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof(buf), "%dm%02ds", int(s) / 60, int(s) % 60);
    } else {
        std::snprintf(buf, sizeof(buf), "%dh%02dm", int(s) / 3600, int(s) / 60 % 60);
    }
    return buf;
}

// Loads the model, scores every chunk (progress bar with the running estimate and the
// time left), optionally against base logits or saving its own. The base runs without
// the models' int8 activations and KV type (`tested` false).
ModelRun runModel(const ModelInfo& info, const Options& o, std::span<const uint32_t> tokens, const ChunkPlan& plan,
                  std::optional<uint32_t> bos, const LogitsReader* base, LogitsWriter* save, bool tested) {
    const auto session = openSession({.model = info.path,
                                      .device = o.device,
                                      .ctx = o.ctx,
                                      .int8_activations = tested && o.int8_activations,
                                      .kv_type = tested ? o.kv_type : quant::DType::kF16});
    Executor& executor = *session->executor;
    const ChunkEvaluator run_chunk = executorEvaluator(executor);
    ModelRun r;
    const ChunkEvaluator evaluate = [&](std::span<const uint32_t> chunk, uint32_t first, std::span<float> out) {
        const auto start = Clock::now();
        run_chunk(chunk, first, out);
        r.seconds += std::chrono::duration<double>(Clock::now() - start).count();
        if (save) save->writeChunk(out);
    };
    std::function<void(uint32_t, std::span<float>)> base_chunk;
    if (base) base_chunk = [base](uint32_t chunk, std::span<float> out) { base->readChunk(chunk, out); };
    ProgressBar bar("perplexity " + fileName(info.path));
    const auto start = Clock::now();
    bar.update(0, "chunk 0/" + std::to_string(plan.n_chunks));
    r.result = computePerplexity(
        tokens, plan, executor.vocabSize(), bos, evaluate, base_chunk, [&](uint32_t done, double ppl) {
            const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
            char step[96];
            std::snprintf(step, sizeof(step), "chunk %u/%u, ppl %.4f, ETA %s", done, plan.n_chunks, ppl,
                          formatSeconds(elapsed / done * (plan.n_chunks - done)).c_str());
            bar.update(double(done) / plan.n_chunks, step);
        });
    bar.finish();
    if (save) save->finish();
    return r;
}

// A file the run writes and removes (the base model's logits when not saved).
struct TempFile {
    std::filesystem::path path;
    ~TempFile() {
        std::error_code ignored;
        if (!path.empty()) std::filesystem::remove(path, ignored);
    }
};

std::string pm(const Estimate& e, const char* format, const char* error_format = nullptr) {
    char a[64], b[64];
    std::snprintf(a, sizeof(a), format, e.value);
    std::snprintf(b, sizeof(b), error_format ? error_format : format, e.error);
    return std::string(a) + " ± " + b;
}

std::string num(double v, const char* format) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), format, v);
    return buf;
}

// Columns sized to their widest cell; "±" counts as one column.
void printTable(const std::vector<std::vector<std::string>>& rows) {
    auto width = [](const std::string& s) {
        return std::count_if(s.begin(), s.end(), [](unsigned char c) { return (c & 0xC0) != 0x80; });
    };
    std::vector<long> widths(rows[0].size(), 0);
    for (const auto& row : rows)
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], long(width(row[i])));
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            const std::string pad(size_t(widths[i] - width(row[i])), ' ');
            // The model and type columns align left, numbers right.
            line += i < 2 ? row[i] + pad : pad + row[i];
            if (i + 1 < row.size()) line += "  ";
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::printf("%s\n", line.c_str());
    }
}

nlohmann::json modelJson(const ModelInfo& info, const ModelRun& run, const ChunkPlan& plan) {
    const PerplexityResult& r = run.result;
    nlohmann::json j = {
        {"model", info.path},        {"type", info.type},
        {"size_mib", info.size_mib}, {"ppl", r.ppl.value},
        {"ppl_error", r.ppl.error},  {"running_ppl", r.running_ppl},
        {"seconds", run.seconds},    {"tok_per_s", run.seconds > 0 ? double(plan.coveredTokens()) / run.seconds : 0.0}};
    if (r.kl) {
        const KlResult& k = *r.kl;
        j.update({{"delta_ppl", k.delta_ppl.value},
                  {"delta_ppl_error", k.delta_ppl.error},
                  {"ppl_ratio", k.ppl_ratio},
                  {"kl_mean", k.kl.value},
                  {"kl_error", k.kl.error},
                  {"kl_median", k.kl_median},
                  {"kl_p99", k.kl_p99},
                  {"kl_max", k.kl_max},
                  {"top1_agreement", 100 * k.top1.value},
                  {"top1_agreement_error", 100 * k.top1.error}});
    }
    return j;
}

std::vector<std::string> modelRow(const std::string& name, const std::string& type, double size_mib,
                                  const Estimate& ppl, double tok_per_s, const KlResult* kl, bool with_base) {
    std::vector<std::string> row = {name, type, num(size_mib, "%.1f"), pm(ppl, "%.4f")};
    if (with_base) {
        if (kl) {
            row.insert(row.end(), {pm(kl->delta_ppl, "%.4f"), num(kl->ppl_ratio, "%.4f"), pm(kl->kl, "%.4g", "%.2g"),
                                   num(kl->kl_median, "%.4g"), num(kl->kl_p99, "%.4g"),
                                   pm({100 * kl->top1.value, 100 * kl->top1.error}, "%.2f")});
        } else {
            row.insert(row.end(), 6, "-");
        }
    }
    row.push_back(tok_per_s > 0 ? num(tok_per_s, "%.1f") : "-");
    return row;
}

// The table (or with --json, the JSON object) on stdout. base_model and base_run are
// null unless the base is a model; the models' runs are in the order of `models`.
void printReport(const Options& o, const ChunkPlan& plan, size_t n_tokens, const ModelInfo* base_model,
                 const ModelRun* base_run, const std::vector<ModelInfo>& models, const std::vector<ModelRun>& runs) {
    const bool with_base = !o.base.empty();
    const auto tokPerS = [&](const ModelRun& r) { return r.seconds > 0 ? plan.coveredTokens() / r.seconds : 0.0; };
    if (o.json) {
        nlohmann::json out = {
            {"text", o.text},
            {"text_tokens", n_tokens},
            {"ctx", plan.n_ctx},
            {"chunks", plan.n_chunks},
            {"scored_tokens", plan.scoredTokens()},
            {"base", nullptr},
            {"saved_logits", o.save_logits.empty() ? nlohmann::json() : nlohmann::json(o.save_logits)},
            {"models", nlohmann::json::array()}};
        if (base_run) {
            out["base"] = modelJson(*base_model, *base_run, plan);
            out["base"]["kind"] = "model";
        } else if (with_base) {
            const KlResult& k = *runs.front().result.kl;
            out["base"] = {
                {"model", o.base}, {"kind", "logits"}, {"ppl", k.ppl_base.value}, {"ppl_error", k.ppl_base.error}};
        }
        for (size_t i = 0; i < models.size(); ++i) out["models"].push_back(modelJson(models[i], runs[i], plan));
        std::cout << out.dump(2) << "\n";
        return;
    }
    std::vector<std::vector<std::string>> rows = {{"model", "type", "size MiB", "ppl ± err"}};
    if (with_base) {
        rows[0].insert(rows[0].end(), {"Δppl ± err", "ppl ratio", "mean KL ± err", "KL median", "KL p99", "top-1 %"});
    }
    rows[0].push_back("tok/s");
    if (base_run) {
        rows.push_back(modelRow(fileName(base_model->path) + " (base)", base_model->type, base_model->size_mib,
                                base_run->result.ppl, tokPerS(*base_run), nullptr, true));
    } else if (with_base) {
        rows.push_back(modelRow(fileName(o.base) + " (base)", "logits",
                                double(std::filesystem::file_size(o.base)) / 1048576.0,
                                runs.front().result.kl->ppl_base, 0, nullptr, true));
    }
    for (size_t i = 0; i < models.size(); ++i) {
        const PerplexityResult& r = runs[i].result;
        rows.push_back(modelRow(fileName(models[i].path), models[i].type, models[i].size_mib, r.ppl, tokPerS(runs[i]),
                                r.kl ? &*r.kl : nullptr, with_base));
    }
    std::fflush(stderr);
    std::printf("perplexity on %s: %zu tokens, %u chunks of %u, %llu tokens scored\n", fileName(o.text).c_str(),
                n_tokens, plan.n_chunks, plan.n_ctx, static_cast<unsigned long long>(plan.scoredTokens()));
    printTable(rows);
    if (!o.save_logits.empty()) std::printf("base logits saved to %s\n", o.save_logits.c_str());
}

int runPerplexity(const Options& o) {
    const std::string text = readText(o.text);
    std::optional<ModelInfo> base_model;
    std::unique_ptr<LogitsReader> base_file;
    if (!o.base.empty()) {
        if (LogitsReader::isLogitsFile(o.base)) {
            base_file = std::make_unique<LogitsReader>(o.base);
        } else if (isGguf(o.base)) {
            base_model = inspectModel(o.base);
        } else {
            throw Error(ErrorCode::kInvalidArgument, "--kl-divergence " + o.base +
                                                         " is neither a GGUF model nor a logits file saved with "
                                                         "--save-logits");
        }
    }
    if (!o.save_logits.empty()) {
        if (base_file) {
            throw Error(ErrorCode::kInvalidArgument,
                        "--save-logits with a saved logits file as the base: there are no new base logits to save");
        }
        if (!base_model && o.models.size() != 1) {
            throw Error(ErrorCode::kInvalidArgument,
                        "--save-logits saves the base's logits: give one -m (or the base with --kl-divergence)");
        }
    }
    std::vector<ModelInfo> models;
    for (const std::string& path : o.models) models.push_back(inspectModel(path));
    const ModelInfo& reference = base_model ? *base_model : models.front();
    for (const ModelInfo& m : models) checkSameVocabulary(reference, m, base_model ? "the base model" : "the model");
    std::vector<const ModelInfo*> all;
    if (base_model) all.push_back(&*base_model);
    for (const ModelInfo& m : models) all.push_back(&m);
    for (const ModelInfo* m : all) {
        if (o.ctx > m->n_ctx_train) {
            throw Error(ErrorCode::kInvalidArgument, "--ctx " + std::to_string(o.ctx) + " is above the context of " +
                                                         fileName(m->path) + " (" + std::to_string(m->n_ctx_train) +
                                                         " tokens)");
        }
    }

    const model::Tokenizer tokenizer(reference.vocab);
    std::vector<uint32_t> tokens;
    for (int32_t id : tokenizer.encode(text, true, false)) tokens.push_back(static_cast<uint32_t>(id));
    const std::optional<uint32_t> bos =
        reference.vocab.add_bos ? std::optional<uint32_t>(uint32_t(reference.vocab.bos_id)) : std::nullopt;
    const uint32_t max_chunks = o.chunks ? o.chunks : base_file ? base_file->plan().n_chunks : 0;
    const ChunkPlan plan = planChunks(tokens.size(), o.ctx, max_chunks);
    if (base_file) base_file->checkMatches(plan, reference.n_vocab, tokens);

    TempFile temp;
    std::optional<ModelRun> base_run;
    if (base_model) {
        std::filesystem::path path = o.save_logits;
        if (path.empty()) {
            temp.path = std::filesystem::temp_directory_path() /
                        ("vkinfer-perplexity-" + std::to_string(::getpid()) + ".logits");
            path = temp.path;
        }
        LogitsWriter writer(path, plan, base_model->n_vocab, tokens);
        base_run = runModel(*base_model, o, tokens, plan, bos, nullptr, &writer, false);
        base_file = std::make_unique<LogitsReader>(path);
    }
    std::vector<ModelRun> runs;
    for (const ModelInfo& m : models) {
        std::unique_ptr<LogitsWriter> writer;
        if (!base_model && !o.save_logits.empty())
            writer = std::make_unique<LogitsWriter>(o.save_logits, plan, m.n_vocab, tokens);
        runs.push_back(runModel(m, o, tokens, plan, bos, base_file.get(), writer.get(), true));
    }

    printReport(o, plan, tokens.size(), base_model ? &*base_model : nullptr, base_run ? &*base_run : nullptr, models,
                runs);
    return 0;
}

}  // namespace

Subcommand addPerplexityCommand(CLI::App& app) {
    auto o = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "perplexity", "perplexity of models on a text (llama.cpp's method); with a base, KL divergence against it");
    sub->add_option("-m,--model", o->models, "GGUF model file; repeat to evaluate several, one after another")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("-f,--file", o->text, "text file to score (UTF-8); needs at least 2 x --ctx tokens")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("-c,--ctx", o->ctx, "tokens per chunk; the second half of each chunk is scored")
        ->capture_default_str();
    sub->add_option("--chunks", o->chunks, "score at most this many chunks (default: all the text holds)");
    sub->add_flag("--int8-activations", o->int8_activations,
                  "run the models' (not the base's) Q4_0/Q8_0 prompt matmuls on int8 activations, to measure "
                  "what that costs");
    addKvTypeOption(sub, o->kv_type);
    sub->add_option("--kl-divergence", o->base,
                    "the base to compare with: a GGUF model (run first, in this run) or a logits file from "
                    "--save-logits; adds Δppl, KL divergence and top-1 agreement")
        ->check(CLI::ExistingFile);
    sub->add_option("--save-logits", o->save_logits,
                    "write the base's logits at every scored position to this file (f32: chunks x ctx/2 x "
                    "vocabulary x 4 bytes) for later --kl-divergence runs; the base is the --kl-divergence "
                    "model, else the one -m");
    sub->add_flag("--json", o->json, "print one JSON object instead of the table");
    sub->add_option("--device", o->device, "Vulkan device: auto, an index or a name substring (see `vkinfer devices`)")
        ->capture_default_str();
    return {sub, [o] { return runPerplexity(*o); }};
}

}  // namespace vki::tools
