#include "runtime/perplexity.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <system_error>

#include <unistd.h>

#include "common/error.hpp"
#include "runtime/executor.hpp"

namespace vki {

static_assert(std::endian::native == std::endian::little, "saved logits files are little endian");

ChunkPlan planChunks(uint64_t n_tokens, uint32_t n_ctx, uint32_t max_chunks) {
    // From 8 on, every chunk scores at least 3 tokens (the error needs two in all).
    if (n_ctx < 8) {
        throw Error(ErrorCode::kInvalidArgument,
                    "a context of " + std::to_string(n_ctx) + " tokens is too short: use --ctx 8 or more");
    }
    if (n_tokens < 2 * uint64_t{n_ctx}) {
        throw Error(ErrorCode::kInvalidArgument, "the text has " + std::to_string(n_tokens) +
                                                     " tokens; perplexity with a context of " + std::to_string(n_ctx) +
                                                     " needs at least " + std::to_string(2 * uint64_t{n_ctx}) +
                                                     " (two chunks): give a longer text or a smaller --ctx");
    }
    const uint64_t available = n_tokens / n_ctx;
    const uint64_t chunks = max_chunks ? std::min<uint64_t>(available, max_chunks) : available;
    if (chunks > UINT32_MAX) throw Error(ErrorCode::kInvalidArgument, "the text has too many chunks: use --chunks");
    return {n_ctx, static_cast<uint32_t>(chunks)};
}

std::vector<uint32_t> chunkTokens(std::span<const uint32_t> tokens, const ChunkPlan& plan, uint32_t chunk,
                                  std::optional<uint32_t> bos) {
    VKI_ASSERT(chunk < plan.n_chunks && tokens.size() >= plan.coveredTokens());
    const auto begin = tokens.begin() + size_t{chunk} * plan.n_ctx;
    std::vector<uint32_t> out(begin, begin + plan.n_ctx);
    if (bos) out[0] = *bos;
    return out;
}

ChunkEvaluator executorEvaluator(Executor& executor) {
    return [&executor](std::span<const uint32_t> chunk, uint32_t first, std::span<float> out_logits) {
        const uint32_t n_ctx = static_cast<uint32_t>(chunk.size());
        const uint32_t n_vocab = executor.vocabSize();
        const uint32_t max_n = executor.maxStepTokens();
        VKI_ASSERT(first >= 1 && first < n_ctx && out_logits.size() == size_t{n_ctx - 1 - first} * n_vocab);
        std::vector<uint32_t> positions(max_n), slots(max_n, 0);
        // Tokens 0 .. n_ctx - 2: the logits after the last token score nothing.
        for (uint32_t at = 0; at < n_ctx - 1;) {
            const uint32_t n = std::min(max_n, n_ctx - 1 - at);
            std::iota(positions.begin(), positions.begin() + n, at);
            const bool scored = at + n > first;
            executor.step(chunk.subspan(at, n), std::span(positions).first(n), std::span(slots).first(n),
                          {.tail = scored ? StepOutputs::kAll : 1, .logits = scored});
            for (uint32_t c = 0; scored && c < n; ++c) {
                if (at + c < first) continue;
                const auto row = executor.logits(c);
                std::copy(row.begin(), row.end(), out_logits.begin() + size_t{at + c - first} * n_vocab);
            }
            at += n;
        }
    };
}

namespace {

// log sum exp(x), around the largest element.
double logSumExp(std::span<const float> x, float max) {
    double sum = 0;
    for (float v : x) sum += std::exp(double(v) - double(max));
    return double(max) + std::log(sum);
}

uint32_t argMax(std::span<const float> x) {
    return static_cast<uint32_t>(std::max_element(x.begin(), x.end()) - x.begin());
}

// Standard error of the mean of `count` values with sums `sum` and `sum2`.
double standardError(double sum, double sum2, uint64_t count) {
    if (count < 2) return 0;
    const double mean = sum / double(count);
    const double var = sum2 / double(count) - mean * mean;
    return var > 0 ? std::sqrt(var / double(count - 1)) : 0;
}

// Linear interpolation between the closest ranks of sorted values (numpy's default).
double percentile(const std::vector<float>& sorted, double q) {
    const double at = q * double(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(at);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return double(sorted[lo]) + (at - double(lo)) * (double(sorted[hi]) - double(sorted[lo]));
}

}  // namespace

double logProb(std::span<const float> logits, uint32_t target) {
    VKI_ASSERT(target < logits.size());
    const float max = *std::max_element(logits.begin(), logits.end());
    return double(logits[target]) - logSumExp(logits, max);
}

TokenComparison compareLogits(std::span<const float> base, std::span<const float> model, uint32_t target) {
    VKI_ASSERT(base.size() == model.size() && target < base.size());
    const uint32_t top_base = argMax(base), top_model = argMax(model);
    const double lse_base = logSumExp(base, base[top_base]);
    const double lse_model = logSumExp(model, model[top_model]);
    // KL = sum p_base (log p_base - log p_model); the normalizers' difference is
    // folded in per term so identical rows give exactly 0.
    double kl = 0;
    for (size_t i = 0; i < base.size(); ++i) {
        const double lp_base = double(base[i]) - lse_base;
        const double lp_model = double(model[i]) - lse_model;
        kl += std::exp(lp_base) * (lp_base - lp_model);
    }
    return {kl, top_base == top_model, lse_base - double(base[target]), lse_model - double(model[target])};
}

PerplexityAccumulator::PerplexityAccumulator(uint32_t n_vocab) : n_vocab_(n_vocab) {
    VKI_ASSERT(n_vocab > 0);
}

void PerplexityAccumulator::addChunk(std::span<const float> logits, std::span<const uint32_t> targets,
                                     std::span<const float> base_logits) {
    VKI_ASSERT(logits.size() == targets.size() * size_t{n_vocab_});
    VKI_ASSERT(base_logits.empty() || base_logits.size() == logits.size());
    const bool with_base = !base_logits.empty();
    VKI_ASSERT_MSG(count_ == 0 || with_base == with_base_, "every chunk has base logits or none");
    with_base_ = with_base;
    for (size_t i = 0; i < targets.size(); ++i) {
        if (targets[i] >= n_vocab_) {
            throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(targets[i]) +
                                                         " is outside the vocabulary of " + std::to_string(n_vocab_));
        }
        const auto row = logits.subspan(i * n_vocab_, n_vocab_);
        double nll = 0;
        if (with_base) {
            const TokenComparison t = compareLogits(base_logits.subspan(i * n_vocab_, n_vocab_), row, targets[i]);
            nll = t.nll_model;
            base_nll_ += t.nll_base;
            base_nll2_ += t.nll_base * t.nll_base;
            cross_ += t.nll_base * t.nll_model;
            kl_ += t.kl;
            kl2_ += t.kl * t.kl;
            same_top1_ += t.same_top1;
            kls_.push_back(static_cast<float>(t.kl));
        } else {
            nll = -logProb(row, targets[i]);
        }
        nll_ += nll;
        nll2_ += nll * nll;
        ++count_;
    }
    running_.push_back(currentPpl());
}

double PerplexityAccumulator::currentPpl() const {
    return count_ ? std::exp(nll_ / double(count_)) : 0.0;
}

PerplexityResult PerplexityAccumulator::result() const {
    VKI_ASSERT_MSG(count_ >= 2, "perplexity needs at least two scored tokens");
    const double n = double(count_);
    PerplexityResult r;
    r.chunks = static_cast<uint32_t>(running_.size());
    r.scored_tokens = count_;
    r.running_ppl = running_;
    const double ppl = std::exp(nll_ / n);
    r.ppl = {ppl, ppl * standardError(nll_, nll2_, count_)};
    if (!with_base_) return r;

    KlResult k;
    const double ppl_base = std::exp(base_nll_ / n);
    k.ppl_base = {ppl_base, ppl_base * standardError(base_nll_, base_nll2_, count_)};
    // Delta method on exp(mean NLL) of both, with the covariance of the two NLLs: the
    // models score the same tokens, so their errors are strongly correlated.
    const double mean = nll_ / n, mean_base = base_nll_ / n;
    const double var = nll2_ / n - mean * mean, var_base = base_nll2_ / n - mean_base * mean_base;
    const double cov = cross_ / n - mean * mean_base;
    const double var_delta = (ppl * ppl * var + ppl_base * ppl_base * var_base - 2 * ppl * ppl_base * cov) / (n - 1);
    k.delta_ppl = {ppl - ppl_base, var_delta > 0 ? std::sqrt(var_delta) : 0};
    k.ppl_ratio = std::exp(mean - mean_base);
    k.kl = {kl_ / n, standardError(kl_, kl2_, count_)};
    std::vector<float> sorted = kls_;
    std::sort(sorted.begin(), sorted.end());
    k.kl_median = percentile(sorted, 0.5);
    k.kl_p99 = percentile(sorted, 0.99);
    k.kl_max = sorted.back();
    const double p = double(same_top1_) / n;
    k.top1 = {p, std::sqrt(p * (1 - p) / (n - 1))};
    r.kl = k;
    return r;
}

PerplexityResult computePerplexity(std::span<const uint32_t> tokens, const ChunkPlan& plan, uint32_t n_vocab,
                                   std::optional<uint32_t> bos, const ChunkEvaluator& evaluate,
                                   const std::function<void(uint32_t, std::span<float>)>& base,
                                   const std::function<void(uint32_t, double)>& on_chunk) {
    const uint32_t first = plan.first(), scored = plan.scoredPerChunk();
    PerplexityAccumulator acc(n_vocab);
    // (scored, n_vocab) each
    std::vector<float> logits(size_t{scored} * n_vocab), base_logits(base ? logits.size() : 0);
    for (uint32_t chunk = 0; chunk < plan.n_chunks; ++chunk) {
        const std::vector<uint32_t> input = chunkTokens(tokens, plan, chunk, bos);
        evaluate(input, first, logits);
        if (base) base(chunk, base_logits);
        // Row i predicts the chunk's token first + 1 + i, taken from the text (not BOS).
        const auto targets = tokens.subspan(size_t{chunk} * plan.n_ctx + first + 1, scored);
        acc.addChunk(logits, targets, base_logits);
        if (on_chunk) on_chunk(chunk + 1, acc.currentPpl());
    }
    return acc.result();
}

LogitsWriter::LogitsWriter(std::filesystem::path path, const ChunkPlan& plan, uint32_t n_vocab,
                           std::span<const uint32_t> tokens)
    : path_(std::move(path)), plan_(plan), n_vocab_(n_vocab) {
    VKI_ASSERT(tokens.size() >= plan.coveredTokens() && n_vocab > 0);
    temp_ = path_;
    temp_ += ".tmp" + std::to_string(::getpid());
    file_ = std::fopen(temp_.c_str(), "wb");
    if (!file_) {
        throw Error(ErrorCode::kIo, "cannot create " + temp_.string() + ": " + std::strerror(errno));
    }
    const uint32_t header[4] = {kVersion, n_vocab, plan.n_ctx, plan.n_chunks};
    const uint64_t n_tokens = plan.coveredTokens();
    write(kMagic, sizeof(kMagic));
    write(header, sizeof(header));
    write(&n_tokens, sizeof(n_tokens));
    write(tokens.data(), n_tokens * sizeof(uint32_t));
}

LogitsWriter::~LogitsWriter() {
    if (!file_) return;
    std::fclose(file_);
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
}

void LogitsWriter::write(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, file_) != bytes) {
        throw Error(ErrorCode::kIo, "cannot write " + temp_.string() + ": " + std::strerror(errno));
    }
}

void LogitsWriter::writeChunk(std::span<const float> rows) {
    VKI_ASSERT(written_ < plan_.n_chunks && rows.size() == size_t{plan_.scoredPerChunk()} * n_vocab_);
    write(rows.data(), rows.size_bytes());
    ++written_;
}

void LogitsWriter::finish() {
    VKI_ASSERT(file_ && written_ == plan_.n_chunks);
    const bool closed = std::fflush(file_) == 0 && std::fclose(file_) == 0;
    file_ = nullptr;
    std::error_code ec;
    if (closed) std::filesystem::rename(temp_, path_, ec);
    if (!closed || ec) {
        std::filesystem::remove(temp_, ec);
        throw Error(ErrorCode::kIo, "cannot write " + path_.string());
    }
}

bool LogitsReader::isLogitsFile(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    char magic[sizeof(LogitsWriter::kMagic)];
    const bool ok = std::fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
                    std::memcmp(magic, LogitsWriter::kMagic, sizeof(magic)) == 0;
    std::fclose(f);
    return ok;
}

LogitsReader::LogitsReader(std::filesystem::path path) : path_(std::move(path)) {
    const std::string name = path_.string();
    file_ = std::fopen(path_.c_str(), "rb");
    if (!file_) throw Error(ErrorCode::kIo, "cannot open " + name + ": " + std::strerror(errno));
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path_, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot read the size of " + name + ": " + ec.message());

    char magic[sizeof(LogitsWriter::kMagic)];
    uint32_t header[4];
    uint64_t n_tokens = 0;
    const size_t header_bytes = sizeof(magic) + sizeof(header) + sizeof(n_tokens);
    if (size < header_bytes || std::fread(magic, 1, sizeof(magic), file_) != sizeof(magic) ||
        std::fread(header, 1, sizeof(header), file_) != sizeof(header) ||
        std::fread(&n_tokens, 1, sizeof(n_tokens), file_) != sizeof(n_tokens)) {
        throw Error(ErrorCode::kBadFile, name + " is too short for a saved-logits header (" + std::to_string(size) +
                                             " bytes): truncated, or not written by --save-logits");
    }
    if (std::memcmp(magic, LogitsWriter::kMagic, sizeof(magic)) != 0) {
        throw Error(ErrorCode::kBadFile, name + " is not a logits file saved by `vkinfer perplexity --save-logits`");
    }
    if (header[0] != LogitsWriter::kVersion) {
        throw Error(ErrorCode::kBadFile, name + " has saved-logits version " + std::to_string(header[0]) +
                                             "; this vkinfer reads version " + std::to_string(LogitsWriter::kVersion) +
                                             ": save it again");
    }
    n_vocab_ = header[1];
    plan_ = {header[2], header[3]};
    // Bounds that keep every size below 2^62 bytes: a vocabulary of up to 2^24 tokens.
    if (n_vocab_ == 0 || n_vocab_ > (1u << 24) || plan_.n_ctx < 8 || plan_.n_chunks == 0) {
        throw Error(ErrorCode::kBadFile, name + " is corrupt: vocabulary " + std::to_string(n_vocab_) + ", context " +
                                             std::to_string(plan_.n_ctx) + ", chunks " +
                                             std::to_string(plan_.n_chunks));
    }
    if (n_tokens != plan_.coveredTokens()) {
        throw Error(ErrorCode::kBadFile, name + " is corrupt: " + std::to_string(n_tokens) + " tokens for " +
                                             std::to_string(plan_.n_chunks) + " chunks of " +
                                             std::to_string(plan_.n_ctx));
    }
    // Sizes as counts (tokens, rows) rather than bytes, so a corrupt header cannot overflow them.
    if (n_tokens > (size - header_bytes) / sizeof(uint32_t)) {
        throw Error(ErrorCode::kBadFile, name + " is truncated: its header says " + std::to_string(n_tokens) +
                                             " tokens, the file has " + std::to_string(size) + " bytes");
    }
    data_offset_ = header_bytes + n_tokens * sizeof(uint32_t);
    const uint64_t row_bytes = uint64_t{n_vocab_} * sizeof(float);
    const uint64_t rows = (size - data_offset_) / row_bytes;
    if (rows != plan_.scoredTokens() || (size - data_offset_) % row_bytes != 0) {
        throw Error(ErrorCode::kBadFile,
                    name + " holds " + std::to_string(size - data_offset_) + " bytes of logits; its header says " +
                        std::to_string(plan_.scoredTokens()) + " rows of " + std::to_string(row_bytes) +
                        (rows < plan_.scoredTokens() ? " (truncated)" : "") + ": save it again with --save-logits");
    }
    tokens_.resize(n_tokens);
    if (std::fread(tokens_.data(), sizeof(uint32_t), n_tokens, file_) != n_tokens) {
        throw Error(ErrorCode::kIo, "cannot read " + name);
    }
}

LogitsReader::~LogitsReader() {
    if (file_) std::fclose(file_);
}

void LogitsReader::checkMatches(const ChunkPlan& plan, uint32_t n_vocab, std::span<const uint32_t> tokens) const {
    const std::string name = path_.string();
    if (n_vocab != n_vocab_) {
        throw Error(ErrorCode::kInvalidArgument, name + " holds logits over a vocabulary of " +
                                                     std::to_string(n_vocab_) + " tokens; this model has " +
                                                     std::to_string(n_vocab) + ": compare models of one vocabulary");
    }
    if (plan.n_ctx != plan_.n_ctx) {
        throw Error(ErrorCode::kInvalidArgument, name + " was saved with --ctx " + std::to_string(plan_.n_ctx) +
                                                     "; use the same context (this run has --ctx " +
                                                     std::to_string(plan.n_ctx) + ")");
    }
    if (plan.n_chunks > plan_.n_chunks) {
        throw Error(ErrorCode::kInvalidArgument, name + " holds " + std::to_string(plan_.n_chunks) +
                                                     " chunks; this run has " + std::to_string(plan.n_chunks) +
                                                     ": pass --chunks " + std::to_string(plan_.n_chunks) + " or fewer");
    }
    VKI_ASSERT(tokens.size() >= plan.coveredTokens());
    for (uint64_t i = 0; i < plan.coveredTokens(); ++i) {
        if (tokens[i] != tokens_[i]) {
            throw Error(ErrorCode::kInvalidArgument, "the text differs from the one " + name +
                                                         " was saved for (first at token " + std::to_string(i) +
                                                         "): use the same text file and tokenizer");
        }
    }
}

void LogitsReader::readChunk(uint32_t chunk, std::span<float> out) const {
    const size_t rows = plan_.scoredPerChunk();
    VKI_ASSERT(chunk < plan_.n_chunks && out.size() == rows * n_vocab_);
    const uint64_t offset = data_offset_ + uint64_t{chunk} * rows * n_vocab_ * sizeof(float);
    if (fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0 ||
        std::fread(out.data(), sizeof(float), out.size(), file_) != out.size()) {
        throw Error(ErrorCode::kIo, "cannot read chunk " + std::to_string(chunk) + " of " + path_.string());
    }
}

}  // namespace vki
