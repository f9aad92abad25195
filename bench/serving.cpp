// vkinfer_bench_serving: what vki::Engine (continuous batching, paged prefix-sharing
// KV cache) delivers to many requests at once, and what a cached shared prefix saves.
//   vkinfer_bench_serving -m model.gguf [--device D] [--concurrency 1,4,16,64] [-n 64]
//                         [--prompt-tokens 32] [--prefix-tokens 1000] [--ctx N]
//                         [--kv-budget MiB] [--samples 4] [--json]
// 1. Throughput: for each concurrency C a fresh Engine with parallel = C (nothing cached
//    and no plan warmed by another C's run), one short warm-up request, then C requests
//    submitted at once, each a different random prompt, each generating exactly n tokens
//    (greedy, end-of-generation ignored). Wall clock runs from the first submit to the
//    last completion, so the prompts' prefill is included.
// 2. Prefix cache: on a fresh Engine (parallel = 1), the time to first token of a prompt
//    of a random prefix and a short suffix when nothing of it is cached (cold), then of
//    the same prefix with another suffix once the first has finished (cached); after
//    the same pair on another prefix as the warm-up.
// 3. Samples: S samples (temperature 0.8, seeds 1..S) of one prompt of --prefix-tokens
//    ids, n tokens each, on a fresh Engine (parallel = S): submitted as S independent
//    requests, then as one request and S - 1 forks of it (Engine::fork), which share
//    its prompt's KV pages; positions computed and wall clock of each.
// Times are taken on the calling side: from Engine::submit to the first on_token call
// and to wait()'s return. The engine's own Completion times are reported beside them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "model/arch.hpp"
#include "model/gguf.hpp"
#include "tools/progress.hpp"
#include "vkinfer/vkinfer.hpp"

namespace {

using namespace vki;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint32_t kSuffixTokens = 16;  // distinct tail after the shared prefix
constexpr uint32_t kWarmupPromptTokens = 8;
constexpr uint32_t kWarmupTokens = 2;

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

struct Options {
    std::string model;
    std::string device = "auto";
    std::vector<uint32_t> concurrency = {1, 4, 16, 64};
    uint32_t n = 64;
    uint32_t prompt_tokens = 32;
    uint32_t prefix_tokens = 1000;  // 0: skip the prefix-cache measurement
    uint32_t ctx = 0;               // 0: what each measurement needs
    uint64_t kv_budget_mib = 0;     // 0: the engine's default (every slot's full context)
    uint32_t samples = 4;           // 0: skip the samples measurement
    uint64_t seed = 1;
    bool json = false;
};

// Random prompts: BOS (when the model has one), then ids drawn uniformly above the
// byte/control range of the vocabulary. Seeded: every run (with the same standard
// library) gets the same prompts.
class PromptMaker {
public:
    PromptMaker(const std::string& model_path, uint64_t seed) : rng_(seed) {
        const model::GgufFile file = model::GgufFile::open(model_path);
        n_vocab_ = model::readConfig(file).n_vocab;
        const int64_t bos = file.getIntOr("tokenizer.ggml.bos_token_id", -1);
        if (bos >= 0 && bos < int64_t{n_vocab_}) bos_ = uint32_t(bos);
        first_ = std::min<uint32_t>(1000, n_vocab_ / 2);
    }

    std::vector<uint32_t> prompt(uint32_t count) {
        std::vector<uint32_t> ids = tokens(count);
        if (!ids.empty() && bos_) ids[0] = *bos_;
        return ids;
    }

    // Ids without BOS: a suffix to append.
    std::vector<uint32_t> tokens(uint32_t count) {
        std::uniform_int_distribution<uint32_t> pick(first_, n_vocab_ - 1);
        std::vector<uint32_t> ids(count);
        for (uint32_t& id : ids) id = pick(rng_);
        return ids;
    }

private:
    std::mt19937_64 rng_;
    uint32_t n_vocab_ = 0;
    uint32_t first_ = 0;
    std::optional<uint32_t> bos_;
};

// One request as the caller saw it, and as the engine reported it.
struct Timed {
    Completion completion;
    double ttft = 0;   // submit() to the first on_token
    double total = 0;  // submit() to wait()'s return
};

struct BatchRun {
    std::vector<Timed> requests;
    double wall = 0;  // the first submit() to the last wait()'s return
};

// How runRequests submits: greedy requests of their own, or samples of one prompt
// (temperature 0.8, request i seeded i + 1), independent or forked from the first.
enum class Submit { kGreedy, kSamples, kForkedSamples };

// Submits every prompt at once (max_tokens each, end-of-generation ignored) and waits
// for all. Fails when a request ends in an error or short of max_tokens.
BatchRun runRequests(Engine& engine, const std::vector<std::vector<uint32_t>>& prompts, uint32_t max_tokens,
                     tools::ProgressBar* bar, Submit how = Submit::kGreedy) {
    struct Watch {
        Clock::time_point submitted, first;
        uint32_t tokens = 0;
    };
    // Written by the engine's thread in on_token, read here after wait(): the engine's
    // lock, taken when the request finishes and in wait(), orders the two.
    std::vector<Watch> watches(prompts.size());
    const uint64_t expected = uint64_t{max_tokens} * prompts.size();
    uint64_t generated = 0;  // engine thread only
    auto last_update = Clock::now();

    std::vector<uint64_t> ids;
    const auto start = Clock::now();
    for (size_t i = 0; i < prompts.size(); ++i) {
        GenerationRequest r;
        r.tokens = prompts[i];
        r.max_tokens = max_tokens;
        r.sampling.temperature = how == Submit::kGreedy ? 0.0f : 0.8f;
        r.sampling.seed = i + 1;
        r.stop_at_eog = false;
        Watch* w = &watches[i];
        r.on_token = [w, bar, expected, &generated, &last_update](uint32_t) {
            if (w->tokens++ == 0) w->first = Clock::now();
            ++generated;
            // Redraw at most every 200 ms; the step names tenths, so a log (not a
            // terminal) gets a line per 10%.
            if (bar && seconds(Clock::now() - last_update) > 0.2) {
                const double f = double(generated) / double(expected);
                bar->update(f, std::to_string(int(f * 10) * 10) + "% of the tokens");
                last_update = Clock::now();
            }
        };
        w->submitted = Clock::now();
        if (how == Submit::kForkedSamples && i > 0) {
            r.tokens.clear();
            ids.push_back(engine.fork(ids[0], std::move(r)));
        } else {
            ids.push_back(engine.submit(std::move(r)));
        }
    }
    BatchRun run;
    for (size_t i = 0; i < ids.size(); ++i) {
        Timed t;
        t.completion = engine.wait(ids[i]);
        t.total = seconds(Clock::now() - watches[i].submitted);
        const Completion& c = t.completion;
        if (c.stop_reason == "error") throw Error(c.error_code, "request " + std::to_string(i) + " failed: " + c.error);
        if (c.tokens.size() != max_tokens || watches[i].tokens != max_tokens) {
            throw Error(ErrorCode::kInternal, "request " + std::to_string(i) + " generated " +
                                                  std::to_string(c.tokens.size()) + " of " +
                                                  std::to_string(max_tokens) + " tokens (stop: " + c.stop_reason + ")");
        }
        t.ttft = seconds(watches[i].first - watches[i].submitted);
        run.requests.push_back(std::move(t));
    }
    run.wall = seconds(Clock::now() - start);
    return run;
}

std::unique_ptr<Engine> openEngine(const Options& o, uint32_t parallel, uint32_t context) {
    tools::ProgressBar bar("loading " + std::filesystem::path(o.model).filename().string());
    EngineOptions e;
    e.model = o.model;
    e.device = o.device;
    e.context = context;
    e.parallel = parallel;
    e.kv_budget_bytes = o.kv_budget_mib << 20;
    e.prefix_cache = true;
    e.progress = [&](double f) { bar.update(f, "weights"); };
    return std::make_unique<Engine>(e);
}

// One warm-up request, untimed: first submissions of the step plans, first page
// reservations, and a GPU's clocks, which idle low.
void warmUp(Engine& engine, PromptMaker& prompts, uint32_t prompt_tokens, uint32_t max_tokens) {
    runRequests(engine, {prompts.prompt(prompt_tokens)}, max_tokens, nullptr);
}

struct ThroughputRow {
    uint32_t concurrency = 0;
    double wall = 0;
    uint64_t generated = 0;
    double ttft_mean = 0, ttft_max = 0;  // caller's view
    double engine_ttft_mean = 0;         // Completion::ttft_seconds
    double request_tok_per_s = 0;        // mean over requests of n / (submit to completion)
    EngineStats stats;                   // of the timed requests alone (warm-up subtracted)

    double tokPerS() const { return double(generated) / wall; }
};

EngineStats statsSince(const EngineStats& before, const EngineStats& after) {
    EngineStats d = after;
    d.prefix_hit_tokens -= before.prefix_hit_tokens;
    d.computed_tokens -= before.computed_tokens;
    d.generated_tokens -= before.generated_tokens;
    d.steps -= before.steps;
    d.preemptions -= before.preemptions;
    d.busy_seconds -= before.busy_seconds;
    d.tokens_per_second = d.busy_seconds > 0 ? double(d.generated_tokens) / d.busy_seconds : 0.0;
    return d;
}

ThroughputRow measureThroughput(const Options& o, uint32_t c, PromptMaker& prompts, std::string& out_device,
                                std::string& out_model) {
    std::fprintf(stderr, "concurrency %u: opening an engine (parallel %u)\n", c, c);
    // Room for the timed requests and the warm-up.
    const uint32_t context = o.ctx ? o.ctx : std::max(o.prompt_tokens + o.n, kWarmupPromptTokens + kWarmupTokens);
    auto engine = openEngine(o, c, context);
    out_device = engine->deviceName();
    out_model = engine->modelName();
    if (uint64_t{o.prompt_tokens} + o.n > engine->contextLength()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(o.prompt_tokens) + " prompt + " + std::to_string(o.n) +
                                                     " generated tokens do not fit the context of " +
                                                     std::to_string(engine->contextLength()) +
                                                     " tokens (lower -n or --prompt-tokens, or raise --ctx)");
    }
    std::fprintf(stderr, "concurrency %u: warm-up\n", c);
    warmUp(*engine, prompts, std::min(kWarmupPromptTokens, o.prompt_tokens), kWarmupTokens);
    const EngineStats before = engine->stats();

    std::vector<std::vector<uint32_t>> batch;
    for (uint32_t i = 0; i < c; ++i) batch.push_back(prompts.prompt(o.prompt_tokens));
    std::fprintf(stderr, "concurrency %u: %u requests of %u prompt + %u generated tokens\n", c, c, o.prompt_tokens,
                 o.n);
    BatchRun run;
    {
        tools::ProgressBar bar("concurrency " + std::to_string(c));
        bar.update(0, "0% of the tokens");
        run = runRequests(*engine, batch, o.n, &bar);
    }

    ThroughputRow row;
    row.concurrency = c;
    row.wall = run.wall;
    row.stats = statsSince(before, engine->stats());
    for (const Timed& t : run.requests) {
        row.generated += t.completion.tokens.size();
        row.ttft_mean += t.ttft / c;
        row.ttft_max = std::max(row.ttft_max, t.ttft);
        row.engine_ttft_mean += t.completion.ttft_seconds / c;
        row.request_tok_per_s += double(t.completion.tokens.size()) / t.total / c;
    }
    return row;
}

struct PrefixResult {
    uint32_t prefix_tokens = 0, suffix_tokens = 0;
    Timed cold, cached;
};

// A request of a random prefix and suffix, then one of the same prefix and another
// suffix, submitted once the first has finished.
PrefixResult runPrefixPair(Engine& engine, PromptMaker& prompts, uint32_t prefix_tokens) {
    const std::vector<uint32_t> prefix = prompts.prompt(prefix_tokens);
    auto withSuffix = [&] {
        std::vector<uint32_t> ids = prefix;
        const std::vector<uint32_t> suffix = prompts.tokens(kSuffixTokens);
        ids.insert(ids.end(), suffix.begin(), suffix.end());
        return ids;
    };
    PrefixResult r;
    std::fprintf(stderr, "prefix cache: cold request (%u tokens)\n", prefix_tokens + kSuffixTokens);
    r.cold = runRequests(engine, {withSuffix()}, 1, nullptr).requests[0];
    std::fprintf(stderr, "prefix cache: cached request (the same prefix, another suffix)\n");
    r.cached = runRequests(engine, {withSuffix()}, 1, nullptr).requests[0];
    return r;
}

PrefixResult measurePrefix(const Options& o, PromptMaker& prompts) {
    const uint32_t prompt_tokens = o.prefix_tokens + kSuffixTokens;
    const uint32_t context = o.ctx ? o.ctx : prompt_tokens + 64;
    std::fprintf(stderr, "prefix cache: opening an engine (parallel 1, context %u)\n", context);
    auto engine = openEngine(o, 1, context);
    if (prompt_tokens + 1 > engine->contextLength()) {
        throw Error(ErrorCode::kInvalidArgument,
                    std::to_string(o.prefix_tokens) + " prefix + " + std::to_string(kSuffixTokens) +
                        " suffix tokens do not fit the context of " + std::to_string(engine->contextLength()) +
                        " tokens (lower --prefix-tokens or raise --ctx)");
    }
    // The warm-up is the same pair on another prefix: the measured pair then finds the
    // engine past the first uses of its step shapes and a GPU's clocks raised.
    std::fprintf(stderr, "prefix cache: warm-up (the same pair on another prefix)\n");
    runPrefixPair(*engine, prompts, o.prefix_tokens);
    PrefixResult r = runPrefixPair(*engine, prompts, o.prefix_tokens);
    r.prefix_tokens = o.prefix_tokens;
    r.suffix_tokens = kSuffixTokens;
    return r;
}

struct SamplesRow {
    double wall = 0;
    double ttft_mean = 0;
    EngineStats stats;  // of these requests alone
};

struct SamplesResult {
    uint32_t samples = 0, prompt_tokens = 0;
    SamplesRow independent, forked;
};

SamplesResult measureSamples(const Options& o, PromptMaker& prompts) {
    const uint32_t context = o.ctx ? o.ctx : o.prefix_tokens + o.n + 1;
    std::fprintf(stderr, "samples: opening an engine (parallel %u, context %u)\n", o.samples, context);
    auto engine = openEngine(o, o.samples, context);
    if (uint64_t{o.prefix_tokens} + o.n > engine->contextLength()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(o.prefix_tokens) + " prompt + " + std::to_string(o.n) +
                                                     " generated tokens do not fit the context "
                                                     "(lower --prefix-tokens or -n, or raise --ctx)");
    }
    warmUp(*engine, prompts, std::min(kWarmupPromptTokens, o.prefix_tokens), kWarmupTokens);
    SamplesResult r;
    r.samples = o.samples;
    r.prompt_tokens = o.prefix_tokens;
    for (const auto& [how, row] :
         {std::pair{Submit::kSamples, &r.independent}, std::pair{Submit::kForkedSamples, &r.forked}}) {
        // A new prompt each time: the prefix cache holds the first one's pages.
        const std::vector<std::vector<uint32_t>> batch(o.samples, prompts.prompt(o.prefix_tokens));
        std::fprintf(stderr, "samples: %u of a %u-token prompt, %s\n", o.samples, o.prefix_tokens,
                     how == Submit::kSamples ? "independent requests" : "forks of the first");
        const EngineStats before = engine->stats();
        const BatchRun run = runRequests(*engine, batch, o.n, nullptr, how);
        row->wall = run.wall;
        row->stats = statsSince(before, engine->stats());
        for (const Timed& t : run.requests) row->ttft_mean += t.ttft / o.samples;
    }
    return r;
}

struct Report {
    std::string model_path, model_name, device;
    Options options;
    std::vector<ThroughputRow> rows;
    std::optional<PrefixResult> prefix;
    std::optional<SamplesResult> samples;
};

json timedJson(const Timed& t) {
    const Completion& c = t.completion;
    return {{"ttft_s", t.ttft},
            {"total_s", t.total},
            {"engine_ttft_s", c.ttft_seconds},
            {"engine_queue_s", c.queue_seconds},
            {"engine_total_s", c.total_seconds},
            {"prompt_tokens", c.prompt_tokens},
            {"cached_tokens", c.cached_tokens},
            {"computed_tokens", c.computed_tokens}};
}

json toJson(const Report& r) {
    const Options& o = r.options;
    json rows = json::array();
    for (const ThroughputRow& row : r.rows) {
        const EngineStats& s = row.stats;
        rows.push_back({{"concurrency", row.concurrency},
                        {"wall_s", row.wall},
                        {"generated_tokens", row.generated},
                        {"tok_per_s", row.tokPerS()},
                        {"ratio_to_first", row.tokPerS() / r.rows.front().tokPerS()},
                        {"ttft_mean_s", row.ttft_mean},
                        {"ttft_max_s", row.ttft_max},
                        {"engine_ttft_mean_s", row.engine_ttft_mean},
                        {"request_tok_per_s_mean", row.request_tok_per_s},
                        {"steps", s.steps},
                        {"computed_tokens", s.computed_tokens},
                        {"prefix_hit_tokens", s.prefix_hit_tokens},
                        {"preemptions", s.preemptions},
                        {"busy_s", s.busy_seconds},
                        {"kv_bytes", s.kv_bytes}});
    }
    json j = {{"model", {{"path", r.model_path}, {"name", r.model_name}}},
              {"device", r.device},
              {"options",
               {{"concurrency", o.concurrency},
                {"prompt_tokens", o.prompt_tokens},
                {"generated_tokens", o.n},
                {"prefix_tokens", o.prefix_tokens},
                {"ctx", o.ctx},
                {"kv_budget_mib", o.kv_budget_mib},
                {"seed", o.seed}}},
              {"throughput", rows}};
    if (r.prefix) {
        const PrefixResult& p = *r.prefix;
        j["prefix"] = {{"prefix_tokens", p.prefix_tokens},
                       {"suffix_tokens", p.suffix_tokens},
                       {"cold", timedJson(p.cold)},
                       {"cached", timedJson(p.cached)},
                       {"ttft_ratio", p.cached.ttft / p.cold.ttft}};
    }
    if (r.samples) {
        const SamplesResult& m = *r.samples;
        auto rowJson = [](const SamplesRow& row) {
            return json{{"wall_s", row.wall},
                        {"ttft_mean_s", row.ttft_mean},
                        {"computed_tokens", row.stats.computed_tokens},
                        {"steps", row.stats.steps}};
        };
        j["samples"] = {{"samples", m.samples},
                        {"prompt_tokens", m.prompt_tokens},
                        {"independent", rowJson(m.independent)},
                        {"forked", rowJson(m.forked)},
                        {"wall_ratio", m.forked.wall / m.independent.wall}};
    }
    return j;
}

void printTable(const Report& r) {
    const Options& o = r.options;
    std::printf("vkinfer serving benchmark\n");
    std::printf("  model   %s (%s)\n", r.model_name.c_str(), r.model_path.c_str());
    std::printf("  device  %s\n", r.device.c_str());
    if (!r.rows.empty()) {
        const uint32_t base = r.rows.front().concurrency;
        std::printf(
            "\nthroughput: C requests at once, each %u random prompt ids + %u generated (greedy, EOG ignored);\n"
            "one engine per C with parallel = C, after one short warm-up request\n",
            o.prompt_tokens, o.n);
        std::printf("  %5s %9s %10s %8s %11s %11s %11s %7s %8s\n", "C", "wall s", "tok/s", "vs C=", "TTFT ms",
                    "engine ms", "req tok/s", "steps", "preempt");
        std::printf("  %5s %9s %10s %8u %11s %11s %11s %7s %8s\n", "", "", "", base, "(mean)", "(mean)", "(mean)", "",
                    "");
        for (const ThroughputRow& row : r.rows) {
            std::printf("  %5u %9.2f %10.2f %7.2fx %11.1f %11.1f %11.2f %7llu %8llu\n", row.concurrency, row.wall,
                        row.tokPerS(), row.tokPerS() / r.rows.front().tokPerS(), row.ttft_mean * 1e3,
                        row.engine_ttft_mean * 1e3, row.request_tok_per_s, (unsigned long long)row.stats.steps,
                        (unsigned long long)row.stats.preemptions);
        }
        std::printf(
            "  tok/s: C x %u generated tokens / wall clock from the first submit to the last completion\n"
            "  (the prompts' prefill included). TTFT: submit() to the first token, as the caller sees it;\n"
            "  engine: Completion::ttft_seconds. req tok/s: a request's tokens / its submit-to-completion "
            "time.\n",
            o.n);
    }
    if (r.prefix) {
        const PrefixResult& p = *r.prefix;
        const double ratio = p.cached.ttft / p.cold.ttft;
        std::printf("\nprefix cache: %u random prefix ids + %u distinct suffix ids, 1 generated token, parallel 1\n",
                    p.prefix_tokens, p.suffix_tokens);
        for (const auto& [name, t] : {std::pair{"cold", &p.cold}, std::pair{"cached", &p.cached}}) {
            std::printf("  %-7s TTFT %10.1f ms (engine %10.1f ms): %u cached + %u computed of %u prompt tokens\n", name,
                        t->ttft * 1e3, t->completion.ttft_seconds * 1e3, t->completion.cached_tokens,
                        t->completion.computed_tokens, t->completion.prompt_tokens);
        }
        std::printf("  cached / cold TTFT: %.1f%% (target <= 15%%: %s)\n", 100 * ratio,
                    ratio <= 0.15 ? "met" : "NOT met");
    }
    if (r.samples) {
        const SamplesResult& m = *r.samples;
        std::printf("\nsamples: %u samples of one %u-id prompt, %u tokens each (temperature 0.8), parallel %u\n",
                    m.samples, m.prompt_tokens, o.n, m.samples);
        for (const auto& [name, row] : {std::pair{"independent", &m.independent}, std::pair{"forked", &m.forked}}) {
            std::printf("  %-11s wall %8.2f s, TTFT %8.1f ms (mean), %llu positions computed in %llu steps\n", name,
                        row->wall, row->ttft_mean * 1e3, (unsigned long long)row->stats.computed_tokens,
                        (unsigned long long)row->stats.steps);
        }
        std::printf("  forked / independent wall clock: %.1f%%\n", 100 * m.forked.wall / m.independent.wall);
    }
    std::fflush(stdout);
}

int run(const Options& o) {
    // The file first: a missing or corrupt model fails before any engine opens.
    PromptMaker prompts(o.model, o.seed);
    Report report;
    report.options = o;
    report.model_path = o.model;
    for (uint32_t c : o.concurrency)
        report.rows.push_back(measureThroughput(o, c, prompts, report.device, report.model_name));
    if (o.prefix_tokens > 0) report.prefix = measurePrefix(o, prompts);
    if (o.prefix_tokens > 0 && o.samples > 1) report.samples = measureSamples(o, prompts);
    if (o.json)
        std::printf("%s\n", toJson(report).dump(2).c_str());
    else
        printTable(report);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "vkinfer serving benchmark: vki::Engine throughput at several concurrencies and the TTFT a cached "
        "prefix saves"};
    Options o;
    app.add_option("-m,--model", o.model, "GGUF model file")->required();
    app.add_option("--device", o.device, "Vulkan device: auto, an index or a name substring")->capture_default_str();
    app.add_option("--concurrency", o.concurrency, "requests at once, one measurement each (comma-separated)")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(1u, 4096u));
    app.add_option("-n,--decode-tokens", o.n, "tokens each request generates")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--prompt-tokens", o.prompt_tokens, "random prompt ids per request (BOS first)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 1u << 20));
    app.add_option("--prefix-tokens", o.prefix_tokens, "shared prefix of the prefix-cache measurement; 0 skips it")
        ->capture_default_str()
        ->check(CLI::Range(0u, 1u << 20));
    app.add_option("-c,--ctx", o.ctx,
                   "context per sequence (default: prompt + n for the throughput runs, prefix + 80 for the prefix "
                   "run)");
    app.add_option("--kv-budget", o.kv_budget_mib, "KV page pool in MiB (default: every sequence's full context)");
    app.add_option("--samples", o.samples,
                   "samples of one --prefix-tokens prompt, independent and forked; 0 or 1 skips it")
        ->capture_default_str()
        ->check(CLI::Range(0u, 256u));
    app.add_option("--seed", o.seed, "seed of the random prompt ids")->capture_default_str();
    app.add_flag("--json", o.json, "print the results as one JSON object instead of the table");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
