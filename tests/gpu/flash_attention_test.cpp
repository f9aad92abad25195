// Prefill (flash) attention against the CPU reference and against the decode kernel
// on the same inputs: fresh random q and K/V (the cache is filled directly, so pages
// no sequence owns hold random values too), poisoned outputs with a gap after each
// token and a guard tail, pages of 4 tokens taken in turns by two sequences so their
// page ids interleave, chunks continuing after cached positions, tiles mixing
// sequences and tokens out of position order, and sliding windows over page-table
// rings that have wrapped (the pages before a window let go and their entries
// reused); each case over an f16 and a q8_0 cache.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <numeric>
#include <ostream>
#include <string>
#include <tuple>

#include "graph/reference_ops.hpp"
#include "quant/quant.hpp"
#include "runtime/kv/kv_cache.hpp"
#include "runtime/ops/attention.hpp"
#include "support/gpu.hpp"
#include "support/kv_layout.hpp"

namespace vki::test {
namespace {

// How the chunk's tokens are placed: one sequence, or two sequences of about n / 2
// tokens each whose tokens alternate, come one sequence after the other, or come in
// random order.
enum class Placement { kOne, kInterleaved, kHalves, kShuffled };

struct Case {
    const char* name;
    uint32_t q_heads, kv_heads, head_dim;
    uint32_t n;      // tokens in the chunk
    uint32_t start;  // positions of each sequence cached before the chunk
    Placement placement;
    uint32_t window = 0;  // sliding window (0: none)
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

// The device's tiles, the GPU table's (four invocations per token, subgroup
// shuffles), and small tiles that split a token's keys into many partial tiles.
const ops::FlashAttentionTiles kTiles[] = {{}, {32, 32, 4}, {8, 8, 2}};

constexpr uint32_t kPageTokens = 4;
constexpr uint32_t kQPad = 5;    // floats after each token's q (random, never read)
constexpr uint32_t kOutGap = 3;  // poisoned floats after each token's output
constexpr size_t kGuard = 61;    // poisoned floats after the output

// Both kernels and the reference compute softmax and sums in fp32 over the same
// keys and values (fp16, or q8_0 code * scale, exact in fp32; the kernels apply a
// block's scale to its partial dot), in different orders and with the device's exp
// (Vulkan allows 3 + 2|x| ulp; the scores here stay within |x| < 25). Each output is
// a convex combination of values in [-1, 1] over <= 140 keys: lavapipe stays below
// 4e-7, and 2e-5 covers a GPU's coarser exp (about 5e-6 relative at |x| = 25) plus
// the reordered sums.
constexpr float kTolerance = 2e-5f;

class FlashAttention : public GpuTest, public ::testing::WithParamInterface<std::tuple<Case, quant::DType>> {};

TEST_P(FlashAttention, MatchesReferenceAndDecodeKernel) {
    const Case cs = std::get<0>(GetParam());
    const quant::DType kv_type = std::get<1>(GetParam());
    graph::AttentionConfig a;
    a.n_head = cs.q_heads;
    a.n_head_kv = cs.kv_heads;
    a.head_dim = cs.head_dim;
    a.scale = 1.0f / std::sqrt(float(cs.head_dim));
    const uint32_t q_dim = cs.q_heads * cs.head_dim, kv_dim = cs.kv_heads * cs.head_dim;
    const uint32_t q_stride = q_dim + kQPad, out_stride = q_dim + kOutGap;

    // The chunk: token c is position pos[c] of sequence slot[c].
    const uint32_t counts[2] = {cs.placement == Placement::kOne ? cs.n : (cs.n + 1) / 2,
                                cs.placement == Placement::kOne ? 0 : cs.n / 2};
    std::vector<uint32_t> pos, slot;
    for (uint32_t i = 0; i < cs.n; ++i) {
        const uint32_t s = cs.placement == Placement::kInterleaved ? i % 2 : (i < counts[0] ? 0 : 1);
        const uint32_t nth = cs.placement == Placement::kInterleaved ? i / 2 : (s == 0 ? i : i - counts[0]);
        pos.push_back(cs.start + nth);
        slot.push_back(s);
    }
    if (cs.placement == Placement::kShuffled) {
        std::vector<uint32_t> order(cs.n);
        std::iota(order.begin(), order.end(), 0u);
        std::shuffle(order.begin(), order.end(), rng_);
        const std::vector<uint32_t> pos0 = pos, slot0 = slot;
        for (uint32_t i = 0; i < cs.n; ++i) {
            pos[i] = pos0[order[i]];
            slot[i] = slot0[order[i]];
        }
    }
    const uint32_t lens[2] = {cs.start + counts[0], counts[1] > 0 ? cs.start + counts[1] : 0};
    const uint32_t max_len = std::max(lens[0], lens[1]);

    // Pages of 4 tokens reserved in turns; every word of the pool random. With a
    // window each sequence keeps the pages a step of the chunk's size can read.
    a.window = cs.window;
    const kv::KvShape shape{1, cs.kv_heads, cs.head_dim, kPageTokens, kv_type};
    const kv::KvWindow window{cs.window, cs.n};
    const uint32_t page_count = 2 * kv::KvCache::sequencePages(shape, max_len, window) + 1;
    kv::KvCache cache(memory(), shape, page_count, 2, max_len, 1, window);
    for (uint32_t t = kPageTokens; t < max_len + kPageTokens; t += kPageTokens) {
        for (uint32_t s = 0; s < 2; ++s) {
            if (lens[s] > 0) cache.reserve(s, std::min(t, lens[s]));
        }
    }
    if (cs.window) {
        ASSERT_LT(cache.maxPages() * kPageTokens, max_len) << "the case should wrap the ring";
    }
    const std::vector<std::byte> raw = randomKvLayer(cache.shape(), cache.layer(0).size(), rng_);
    transfer().upload(cache.layer(0), 0, std::span(raw));
    const KvLayerView view(cache.shape(), raw);

    // Each sequence's keys and values [position][kv_dim], read through its page table
    // (positions before a window hold what their ring entry holds now, and are masked).
    std::vector<std::vector<float>> keys(2), values(2);
    for (uint32_t s = 0; s < 2; ++s) {
        keys[s].resize(size_t{lens[s]} * kv_dim);
        values[s].resize(size_t{lens[s]} * kv_dim);
        for (uint32_t p = 0; p < lens[s]; ++p) {
            const uint32_t page = cache.pageTables()[s * cache.maxPages() + (p / kPageTokens) % cache.maxPages()];
            for (uint32_t h = 0; h < cs.kv_heads; ++h) {
                for (uint32_t d = 0; d < cs.head_dim; ++d) {
                    keys[s][size_t{p} * kv_dim + h * cs.head_dim + d] = view.value(page, 0, h, p % kPageTokens, d);
                    values[s][size_t{p} * kv_dim + h * cs.head_dim + d] = view.value(page, 1, h, p % kPageTokens, d);
                }
            }
        }
    }

    vk::Buffer positions = memory().createBuffer(cs.n * 4, vk::MemoryKind::kUpload, "positions");
    vk::Buffer slots = memory().createBuffer(cs.n * 4, vk::MemoryKind::kUpload, "slots");
    vk::Buffer table = memory().createBuffer(cache.pageTables().size_bytes(), vk::MemoryKind::kUpload, "page table");
    std::memcpy(positions.mapped(), pos.data(), cs.n * 4);
    std::memcpy(slots.mapped(), slot.data(), cs.n * 4);
    std::memcpy(table.mapped(), cache.pageTables().data(), cache.pageTables().size_bytes());
    const ops::TokenPlacement placement{vk::wholeRange(positions), vk::wholeRange(slots), vk::wholeRange(table),
                                        cache.maxPages(),          kPageTokens,           cs.window};
    const ops::HeadShape heads{cs.q_heads, cs.kv_heads, cs.head_dim};

    const std::vector<float> q = randomFloats(size_t{cs.n} * q_stride, -2.0f, 2.0f);
    vk::Buffer q_buf = upload(q, "q");
    std::vector<vk::Buffer> outs;
    for (size_t i = 0; i < std::size(kTiles); ++i) outs.push_back(poisoned(size_t{cs.n} * out_stride + kGuard, "out"));
    vk::Buffer decode_out = poisoned(size_t{cs.n} * q_dim, "decode out");
    // Windows: splits of 8 keys counted from each token's first visible key.
    const ops::AttentionSplit split = cs.window ? ops::attentionSplit(device().caps(), std::min(max_len, cs.window), 8)
                                                : ops::attentionSplit(device().caps(), max_len);
    vk::Buffer partials =
        memory().createBuffer(ops::attentionPartialFloats(heads, split, cs.n) * 4, vk::MemoryKind::kDevice, "partials");
    runRecorded([&](vk::CommandBuffer& cmd) {
        for (size_t i = 0; i < std::size(kTiles); ++i) {
            ops::recordFlashAttention(ctx(), cmd,
                                      {.n = cs.n,
                                       .heads = heads,
                                       .scale = a.scale,
                                       .q = {vk::wholeRange(q_buf), q_stride, 0},
                                       .out = {vk::wholeRange(outs[i]), out_stride, 0},
                                       .tokens = placement,
                                       .cache = vk::wholeRange(cache.layer(0)),
                                       .cache_type = kv_type,
                                       .tiles = kTiles[i]});
        }
        ops::recordAttention(ctx(), cmd,
                             {.n = cs.n,
                              .heads = heads,
                              .scale = a.scale,
                              .split = split,
                              .q = {vk::wholeRange(q_buf), q_stride, 0},
                              .out = {vk::wholeRange(decode_out), q_dim, 0},
                              .tokens = placement,
                              .cache = vk::wholeRange(cache.layer(0)),
                              .cache_type = kv_type,
                              .partials = vk::wholeRange(partials)});
    });
    const auto decoded = download(decode_out, size_t{cs.n} * q_dim);
    std::vector<std::vector<float>> expect(cs.n, std::vector<float>(q_dim));
    for (uint32_t c = 0; c < cs.n; ++c) {
        graph::ref::attention(a, std::span(q).subspan(size_t{c} * q_stride, q_dim), keys[slot[c]], values[slot[c]],
                              pos[c] + 1, expect[c]);
    }
    for (size_t t = 0; t < std::size(kTiles); ++t) {
        SCOPED_TRACE("tiles " + std::to_string(t));
        const auto got = download(outs[t], size_t{cs.n} * out_stride + kGuard);
        for (uint32_t c = 0; c < cs.n; ++c) {
            for (uint32_t i = 0; i < q_dim; ++i) {
                const float x = got[size_t{c} * out_stride + i];
                ASSERT_NE(std::bit_cast<uint32_t>(x), kPoison) << "token " << c << " element " << i << " not written";
                ASSERT_NEAR(x, expect[c][i], kTolerance)
                    << "token " << c << " (slot " << slot[c] << ", position " << pos[c] << ") element " << i;
                ASSERT_NEAR(x, decoded[size_t{c} * q_dim + i], kTolerance) << "token " << c << " element " << i;
            }
            for (uint32_t i = q_dim; i < out_stride; ++i)
                ASSERT_EQ(std::bit_cast<uint32_t>(got[size_t{c} * out_stride + i]), kPoison) << "gap after token " << c;
        }
        for (size_t i = size_t{cs.n} * out_stride; i < got.size(); ++i)
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), kPoison) << "guard float " << i - size_t{cs.n} * out_stride;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Chunks, FlashAttention,
    ::testing::Combine(::testing::Values(Case{"n1", 8, 2, 64, 1, 0, Placement::kOne},
                                         Case{"n17", 8, 2, 32, 17, 0, Placement::kOne},
                                         Case{"n64", 8, 2, 128, 64, 0, Placement::kOne},
                                         Case{"n100_mha", 4, 4, 64, 100, 0, Placement::kOne},
                                         Case{"n100_gqa", 8, 2, 128, 100, 0, Placement::kOne},
                                         Case{"n1_after37", 8, 2, 128, 1, 37, Placement::kOne},
                                         Case{"n64_after37", 8, 2, 64, 64, 37, Placement::kOne},
                                         Case{"interleaved_after37", 8, 2, 64, 40, 37, Placement::kInterleaved},
                                         Case{"halves_after9", 8, 2, 32, 100, 9, Placement::kHalves},
                                         Case{"shuffled_after21", 8, 2, 128, 64, 21, Placement::kShuffled},
                                         Case{"window13_n64_after37", 8, 2, 64, 64, 37, Placement::kOne, 13},
                                         Case{"window7_halves_after60", 8, 2, 32, 40, 60, Placement::kHalves, 7},
                                         Case{"window30_shuffled_after70", 8, 2, 64, 48, 70, Placement::kShuffled, 30}),
                       ::testing::Values(quant::DType::kF16, quant::DType::kQ8_0)),
    [](const auto& param_info) {
        return std::string(std::get<0>(param_info.param).name) + "_" +
               quant::traits(std::get<1>(param_info.param)).name;
    });

}  // namespace
}  // namespace vki::test
