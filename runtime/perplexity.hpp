// Perplexity and KL divergence of a model on a text, the way llama.cpp's `perplexity`
// tool measures them, so the numbers compare with its published ones:
//  - the text's tokens are cut into chunks of n_ctx tokens (what is left over is not
//    used); each chunk is evaluated from an empty context with BOS in its first place;
//  - in each chunk the tokens of the second half are scored: the logits after position
//    p (first = n_ctx / 2 <= p < n_ctx - 1) predict the token at p + 1, so the model
//    always has at least n_ctx / 2 tokens of context;
//  - NLL = -log softmax(logits)[token] in double; ppl = exp(mean NLL) with the standard
//    error ppl * sqrt(var(NLL) / (count - 1)).
// With base logits for the same positions (a reference model, usually F16) it adds, per
// scored token, KL(P_base || P_model), whether the two argmaxes agree, and the base's NLL.
//
// The math here is separate from devices and files: a ChunkEvaluator produces logits
// (executorEvaluator adapts an Executor), LogitsWriter/LogitsReader keep base logits
// between runs. Nothing here is thread-safe; use one object per thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace vki {

class Executor;

struct ChunkPlan {
    uint32_t n_ctx = 0;
    uint32_t n_chunks = 0;

    // The first position whose logits are scored.
    uint32_t first() const { return n_ctx / 2; }
    // Scored tokens (logits rows) per chunk.
    uint32_t scoredPerChunk() const { return n_ctx - 1 - first(); }
    uint64_t scoredTokens() const { return uint64_t{n_chunks} * scoredPerChunk(); }
    // Text tokens the chunks cover.
    uint64_t coveredTokens() const { return uint64_t{n_chunks} * n_ctx; }
};

// Chunks for a text of n_tokens: n_tokens / n_ctx of them, at most max_chunks (0: no
// limit). Like llama.cpp, the text must have at least 2 * n_ctx tokens. Throws
// kInvalidArgument, saying how many tokens are needed, when the text is too short, and
// when n_ctx < 8.
ChunkPlan planChunks(uint64_t n_tokens, uint32_t n_ctx, uint32_t max_chunks = 0);

// Chunk `chunk` as the model sees it: its n_ctx tokens, the first replaced by `bos`
// when there is one.
std::vector<uint32_t> chunkTokens(std::span<const uint32_t> tokens, const ChunkPlan& plan, uint32_t chunk,
                                  std::optional<uint32_t> bos);

// Evaluates one chunk (n_ctx tokens) from an empty context and writes the logits after
// positions [first, n_ctx - 1) to out_logits: (n_ctx - 1 - first, n_vocab) floats.
// Throws what the evaluation throws.
using ChunkEvaluator =
    std::function<void(std::span<const uint32_t> chunk, uint32_t first, std::span<float> out_logits)>;

// An evaluator on sequence slot 0 of `executor` (which must outlive it), in steps of
// maxStepTokens(); logits are read back only for steps that hold scored positions. The
// last token of a chunk is not run: no scored logits follow it. A chunk overwrites the
// slot's cache from position 0, so each starts from an empty context.
ChunkEvaluator executorEvaluator(Executor& executor);

// log softmax(logits)[target], computed in double around the largest logit.
double logProb(std::span<const float> logits, uint32_t target);

// Per-token comparison of a model's logits row with the base's.
struct TokenComparison {
    double kl = 0;           // KL(P_base || P_model) in nats
    bool same_top1 = false;  // the argmaxes (first index among ties) agree
    double nll_base = 0;
    double nll_model = 0;
};
TokenComparison compareLogits(std::span<const float> base, std::span<const float> model, uint32_t target);

// A value with its standard error.
struct Estimate {
    double value = 0;
    double error = 0;
};

struct KlResult {
    Estimate ppl_base;
    Estimate delta_ppl;    // ppl(model) - ppl(base); the error accounts for their correlation
    double ppl_ratio = 0;  // ppl(model) / ppl(base) = exp(mean(NLL_model - NLL_base))
    Estimate kl;           // mean KL divergence, nats per token
    double kl_median = 0;
    double kl_p99 = 0;  // 99th percentile (linear between ranks)
    double kl_max = 0;
    Estimate top1;  // fraction of positions whose argmaxes agree, in [0, 1]
};

struct PerplexityResult {
    uint32_t chunks = 0;
    uint64_t scored_tokens = 0;
    Estimate ppl;
    std::vector<double> running_ppl;  // the estimate after each chunk
    std::optional<KlResult> kl;       // with base logits
};

// Accumulates scored tokens chunk by chunk.
class PerplexityAccumulator {
public:
    explicit PerplexityAccumulator(uint32_t n_vocab);

    // One chunk: `logits` and (optionally) `base_logits` hold (targets.size(), n_vocab)
    // floats, row i predicting targets[i]. Either every chunk has base logits or none.
    // Throws kInvalidArgument for a target outside the vocabulary.
    void addChunk(std::span<const float> logits, std::span<const uint32_t> targets,
                  std::span<const float> base_logits = {});
    // The running perplexity (the last chunk's entry in running_ppl).
    double currentPpl() const;
    // VKI_ASSERTs that at least two tokens were scored.
    PerplexityResult result() const;

private:
    uint32_t n_vocab_;
    uint64_t count_ = 0;
    double nll_ = 0, nll2_ = 0;  // sums of NLL and NLL^2
    std::vector<double> running_;
    bool with_base_ = false;
    // With base logits: sums over tokens of the base's NLL, its square, the product
    // with the model's NLL, the KL and its square, and the agreeing argmaxes.
    double base_nll_ = 0, base_nll2_ = 0, cross_ = 0, kl_ = 0, kl2_ = 0;
    uint64_t same_top1_ = 0;
    std::vector<float> kls_;  // per token, for the median and percentiles
};

// Scores every chunk of `tokens` under `plan` with `evaluate`; with `base`, each chunk's
// base logits come from base(chunk, out) in the same layout. on_chunk(done, running
// ppl) is called after each chunk. The chunk's first token is replaced by `bos` when
// there is one.
PerplexityResult computePerplexity(std::span<const uint32_t> tokens, const ChunkPlan& plan, uint32_t n_vocab,
                                   std::optional<uint32_t> bos, const ChunkEvaluator& evaluate,
                                   const std::function<void(uint32_t chunk, std::span<float> out)>& base = {},
                                   const std::function<void(uint32_t done, double running_ppl)>& on_chunk = {});

// Saved base logits ("--save-logits"): the logits rows of every scored position of a
// run, so later runs can compare against them without the base model. Layout, little
// endian:
//   char[8] "VKIPPLLG", u32 version (1), u32 n_vocab, u32 n_ctx, u32 n_chunks,
//   u64 n_tokens (= n_chunks * n_ctx), u32 tokens[n_tokens] (the text's tokens, as in
//   the text: before BOS replacement), then per chunk scoredPerChunk() rows of n_vocab
//   f32.
// The rows are f32, not f16: then comparing with a saved file gives exactly the numbers
// of comparing with the base model in the same run. f16 would halve the file but round
// logits by up to 2^-11 of their size, and the KL between good quantizations (Q8_0 vs
// F16: ~1e-4 nats) is within a small factor of what such rounding alone adds.
class LogitsWriter {
public:
    static constexpr char kMagic[8] = {'V', 'K', 'I', 'P', 'P', 'L', 'L', 'G'};
    static constexpr uint32_t kVersion = 1;

    // Writes to a temporary file beside `path`, renamed to `path` by finish(), so an
    // interrupted run leaves no partial file under that name. `tokens` holds at least
    // plan.coveredTokens() ids. Throws kIo when the file cannot be created.
    LogitsWriter(std::filesystem::path path, const ChunkPlan& plan, uint32_t n_vocab, std::span<const uint32_t> tokens);
    ~LogitsWriter();  // removes the temporary file when finish() was not reached
    LogitsWriter(const LogitsWriter&) = delete;
    LogitsWriter& operator=(const LogitsWriter&) = delete;

    // The next chunk's rows: (scoredPerChunk(), n_vocab) floats. Throws kIo.
    void writeChunk(std::span<const float> rows);
    // After every chunk: flushes, closes and renames. Throws kIo.
    void finish();

private:
    void write(const void* data, size_t bytes);

    std::filesystem::path path_, temp_;
    std::FILE* file_ = nullptr;
    ChunkPlan plan_;
    uint32_t n_vocab_;
    uint32_t written_ = 0;
};

class LogitsReader {
public:
    // Whether the file starts with LogitsWriter::kMagic (false when it cannot be read).
    static bool isLogitsFile(const std::filesystem::path& path);

    // Reads and checks the header and that the file size is exactly what it implies.
    // Throws kIo when the file cannot be opened, kBadFile (naming what is wrong) for a
    // wrong magic or version, implausible sizes, or a truncated or overlong file.
    explicit LogitsReader(std::filesystem::path path);
    ~LogitsReader();
    LogitsReader(const LogitsReader&) = delete;
    LogitsReader& operator=(const LogitsReader&) = delete;

    uint32_t vocabSize() const { return n_vocab_; }
    const ChunkPlan& plan() const { return plan_; }
    const std::vector<uint32_t>& tokens() const { return tokens_; }

    // Throws kInvalidArgument, saying what differs and what to do, unless this file can
    // serve as the base of a run of `plan` over `tokens` with a model of n_vocab logits:
    // the same n_ctx and vocabulary size, at most the saved number of chunks, and the
    // same tokens for those chunks.
    void checkMatches(const ChunkPlan& plan, uint32_t n_vocab, std::span<const uint32_t> tokens) const;
    // Chunk `chunk`'s rows into out: (scoredPerChunk(), n_vocab) floats. Throws kIo.
    void readChunk(uint32_t chunk, std::span<float> out) const;

private:
    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
    ChunkPlan plan_;
    uint32_t n_vocab_ = 0;
    uint64_t data_offset_ = 0;
    std::vector<uint32_t> tokens_;
};

}  // namespace vki
