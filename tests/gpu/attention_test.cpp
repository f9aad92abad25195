// RoPE + KV store, split attention and argmax against the CPU reference, on fresh
// random data, poisoned outputs, a small page size so sequences cross pages, two
// sequences whose pages interleave in the pool, and chunks smaller than the context
// so attention really splits; for an f16 and a q8_0 cache. The re-rotation of cached
// K by a context shift.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>

#include "common/error.hpp"
#include "graph/reference_ops.hpp"
#include "quant/quant.hpp"
#include "runtime/kv/kv_cache.hpp"
#include "runtime/ops/attention.hpp"
#include "support/gpu.hpp"
#include "support/kv_layout.hpp"

namespace vki::test {
namespace {

bool isPoison(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits == kPoison;
}

struct Shape {
    uint32_t q_heads, kv_heads, head_dim;
    bool neox;
    quant::DType kv = quant::DType::kF16;
};

// Checks one row of q8_0 blocks the device wrote against the row it was made from
// (`ref`, whose elements may be off the device's by up to `slack`): each block's
// scale is fp16(amax / 127) and each code is x / d rounded, to within the rounding
// of fp16 and of the device's division (1e-3 of a step) and the slack; an all-zero
// block has scale 0 and codes 0.
void expectQ8Row(const KvLayerView& view, uint32_t page, uint32_t which, uint32_t h, uint32_t tok,
                 std::span<const float> ref, float slack) {
    for (uint32_t b = 0; b < ref.size() / 32; ++b) {
        float amax = 0.0f;
        for (uint32_t e = 0; e < 32; ++e) amax = std::max(amax, std::abs(ref[32 * b + e]));
        const float d = amax / 127.0f;
        if (d == 0.0f) {
            ASSERT_EQ(view.scale(page, which, h, tok, b), 0.0f) << "block " << b;
            for (uint32_t e = 0; e < 32; ++e) ASSERT_EQ(view.code(page, which, h, tok, 32 * b + e), 0);
            continue;
        }
        ASSERT_NEAR(view.scale(page, which, h, tok, b), d, d * 0x1p-11f + slack / 127.0f) << "block " << b;
        for (uint32_t e = 0; e < 32; ++e) {
            const int code = view.code(page, which, h, tok, 32 * b + e);
            ASSERT_LE(std::abs(code), 127);
            ASSERT_NEAR(float(code), ref[32 * b + e] / d, 0.5f + 1e-3f + slack / d) << "element " << 32 * b + e;
        }
    }
}

class Attention : public GpuTest, public ::testing::WithParamInterface<Shape> {};

TEST_P(Attention, RopeKvThenAttentionMatchReference) {
    const Shape s = GetParam();
    graph::AttentionConfig a;
    a.n_head = s.q_heads;
    a.n_head_kv = s.kv_heads;
    a.head_dim = s.head_dim;
    a.scale = 1.0f / std::sqrt(float(s.head_dim));
    a.rope = s.neox ? graph::RopeKind::kNeox : graph::RopeKind::kNormal;
    for (uint32_t i = 0; i < s.head_dim / 2; ++i) a.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / s.head_dim));
    const uint32_t q_dim = s.q_heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim, width = q_dim + 2 * kv_dim;

    // Two sequences of 37 and 21 positions; pages of 4 tokens taken in turns.
    const uint32_t max_tokens = 40, lens[2] = {37, 21};
    kv::KvCache cache(memory(), {1, s.kv_heads, s.head_dim, 4, s.kv}, 20, 2, max_tokens);
    for (uint32_t t = 4; t <= max_tokens; t += 4) {
        for (uint32_t slot = 0; slot < 2; ++slot) cache.reserve(slot, std::min(t, lens[slot]));
    }
    // Every token of both sequences, interleaved; steps of 8 tokens.
    std::vector<uint32_t> all_pos, all_slot;
    for (uint32_t p = 0; p < max_tokens; ++p) {
        for (uint32_t slot = 0; slot < 2; ++slot) {
            if (p < lens[slot]) {
                all_pos.push_back(p);
                all_slot.push_back(slot);
            }
        }
    }
    const uint32_t n_max = 8;
    vk::Buffer positions = memory().createBuffer(n_max * 4, vk::MemoryKind::kUpload, "positions");
    vk::Buffer slots = memory().createBuffer(n_max * 4, vk::MemoryKind::kUpload, "slots");
    vk::Buffer table = memory().createBuffer(cache.pageTables().size_bytes(), vk::MemoryKind::kUpload, "page table");
    std::memcpy(table.mapped(), cache.pageTables().data(), cache.pageTables().size_bytes());
    vk::Buffer freq = upload(a.inv_freq, "inv_freq");
    const ops::TokenPlacement placement{vk::wholeRange(positions), vk::wholeRange(slots), vk::wholeRange(table),
                                        cache.maxPages(), 4};
    const ops::HeadShape heads{s.q_heads, s.kv_heads, s.head_dim};

    // Reference cache contents (before rounding to the cache's type), per slot and position.
    std::vector<std::vector<float>> ref_k(2, std::vector<float>(size_t{max_tokens} * kv_dim)), ref_v = ref_k;
    for (size_t at = 0; at < all_pos.size(); at += n_max) {
        const uint32_t n = static_cast<uint32_t>(std::min<size_t>(n_max, all_pos.size() - at));
        std::memcpy(positions.mapped(), &all_pos[at], n * 4);
        std::memcpy(slots.mapped(), &all_slot[at], n * 4);
        // q, k, v side by side in one activation row, at offsets (the stacked QKV form).
        std::vector<float> qkv = randomFloats(size_t{n} * width);
        // The first token's first 32 V values zero: an all-zero block of kv head 0 in
        // the q8_0 cases (a zero scale, whose codes must be 0 rather than x * (1 / 0)).
        if (at == 0) std::fill_n(qkv.begin() + q_dim + kv_dim, 32, 0.0f);
        vk::Buffer qkv_buf = upload(qkv, "qkv");
        vk::Buffer out = poisoned(size_t{n} * q_dim, "q roped");
        runRecorded([&](vk::CommandBuffer& cmd) {
            ops::recordRopeKv(ctx(), cmd,
                              {.n = n,
                               .heads = heads,
                               .neox = s.neox,
                               .inv_freq = vk::wholeRange(freq),
                               .q = {vk::wholeRange(qkv_buf), width, 0},
                               .k = {vk::wholeRange(qkv_buf), width, q_dim},
                               .v = {vk::wholeRange(qkv_buf), width, q_dim + kv_dim},
                               .out = {vk::wholeRange(out), q_dim, 0},
                               .tokens = placement,
                               .cache = vk::wholeRange(cache.layer(0)),
                               .cache_type = s.kv});
        });
        const auto got = download(out, size_t{n} * q_dim);
        for (uint32_t c = 0; c < n; ++c) {
            std::vector<float> q(qkv.begin() + size_t{c} * width, qkv.begin() + size_t{c} * width + q_dim);
            std::vector<float> k(qkv.begin() + size_t{c} * width + q_dim,
                                 qkv.begin() + size_t{c} * width + q_dim + kv_dim);
            graph::ref::rope(q, s.q_heads, a, all_pos[at + c]);
            graph::ref::rope(k, s.kv_heads, a, all_pos[at + c]);
            for (uint32_t i = 0; i < q_dim; ++i) {
                ASSERT_FALSE(isPoison(got[size_t{c} * q_dim + i])) << "q element " << i << " not written";
                // fp32 rotation; the device's cos/sin of |theta| <= 40 within 1e-5.
                ASSERT_NEAR(got[size_t{c} * q_dim + i], q[i], 2e-5f) << "token " << at + c << " element " << i;
            }
            for (uint32_t i = 0; i < kv_dim; ++i) {
                const size_t at_ref = size_t{all_pos[at + c]} * kv_dim + i;
                ref_k[all_slot[at + c]][at_ref] = k[i];
                ref_v[all_slot[at + c]][at_ref] = qkv[size_t{c} * width + q_dim + kv_dim + i];
            }
        }
    }
    // The cache, read back through the page tables. f16: K within one fp16 step of
    // the reference's rotation (the rotations may round to neighbouring halves), V
    // exact. q8_0: GGML's blocks of the reference's rows (K's rotation off by up to
    // 2e-5, as q's above). The attention reference reads what the device stored.
    std::vector<std::byte> raw(cache.layer(0).size());
    transfer().download(cache.layer(0), 0, std::span(raw));
    const KvLayerView view(cache.shape(), raw);
    std::vector<std::vector<float>> dev_k = ref_k, dev_v = ref_v;
    for (uint32_t slot = 0; slot < 2; ++slot) {
        for (uint32_t p = 0; p < lens[slot]; ++p) {
            SCOPED_TRACE("slot " + std::to_string(slot) + " position " + std::to_string(p));
            const uint32_t page = cache.pageTables()[slot * cache.maxPages() + p / 4];
            for (uint32_t h = 0; h < s.kv_heads; ++h) {
                const size_t row = size_t{p} * kv_dim + h * s.head_dim;
                if (s.kv == quant::DType::kQ8_0) {
                    expectQ8Row(view, page, 0, h, p % 4, std::span(ref_k[slot]).subspan(row, s.head_dim), 2e-5f);
                    expectQ8Row(view, page, 1, h, p % 4, std::span(ref_v[slot]).subspan(row, s.head_dim), 0.0f);
                }
                for (uint32_t d = 0; d < s.head_dim; ++d) {
                    const size_t r = row + d;
                    dev_k[slot][r] = view.value(page, 0, h, p % 4, d);
                    dev_v[slot][r] = view.value(page, 1, h, p % 4, d);
                    if (s.kv == quant::DType::kF16) {
                        ASSERT_NEAR(dev_k[slot][r], ref_k[slot][r], 2e-3f * std::max(1.0f, std::abs(ref_k[slot][r])));
                        ASSERT_EQ(dev_v[slot][r], graph::ref::roundFp16(ref_v[slot][r]));
                    }
                }
            }
        }
    }

    // Attention of tokens at chosen positions of both sequences (first, page edges,
    // last), chunks of 16 keys so up to 3 splits combine.
    const std::vector<uint32_t> q_pos = {0, 3, 4, 16, 36, 20, 7, 17}, q_slot = {0, 0, 0, 0, 0, 1, 1, 1};
    const uint32_t n = static_cast<uint32_t>(q_pos.size());
    std::memcpy(positions.mapped(), q_pos.data(), n * 4);
    std::memcpy(slots.mapped(), q_slot.data(), n * 4);
    const ops::AttentionSplit split{16, 3};
    const std::vector<float> q = randomFloats(size_t{n} * q_dim, -2.0f, 2.0f);
    vk::Buffer q_buf = upload(q, "q");
    vk::Buffer out = poisoned(size_t{n} * q_dim, "attention out");
    vk::Buffer partials =
        memory().createBuffer(ops::attentionPartialFloats(heads, split, n) * 4, vk::MemoryKind::kDevice, "partials");
    runRecorded([&](vk::CommandBuffer& cmd) {
        ops::recordAttention(ctx(), cmd,
                             {.n = n,
                              .heads = heads,
                              .scale = a.scale,
                              .split = split,
                              .q = {vk::wholeRange(q_buf), q_dim, 0},
                              .out = {vk::wholeRange(out), q_dim, 0},
                              .tokens = placement,
                              .cache = vk::wholeRange(cache.layer(0)),
                              .cache_type = s.kv,
                              .partials = vk::wholeRange(partials)});
    });
    const auto got = download(out, size_t{n} * q_dim);
    for (uint32_t c = 0; c < n; ++c) {
        std::vector<float> expect(q_dim);
        graph::ref::attention(a, std::span(q).subspan(size_t{c} * q_dim, q_dim), dev_k[q_slot[c]], dev_v[q_slot[c]],
                              q_pos[c] + 1, expect);
        for (uint32_t i = 0; i < q_dim; ++i) {
            ASSERT_FALSE(isPoison(got[size_t{c} * q_dim + i]));
            // A convex combination of values in [-1, 1]: fp32 softmax and sums over
            // <= 37 keys stay well inside 1e-5.
            ASSERT_NEAR(got[size_t{c} * q_dim + i], expect[i], 1e-5f) << "token " << c << " element " << i;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention,
                         ::testing::Values(Shape{8, 2, 32, false}, Shape{8, 2, 32, true}, Shape{3, 3, 16, false},
                                           Shape{2, 1, 128, true}, Shape{8, 2, 32, false, quant::DType::kQ8_0},
                                           Shape{8, 2, 32, true, quant::DType::kQ8_0},
                                           Shape{3, 3, 64, false, quant::DType::kQ8_0},
                                           Shape{2, 1, 128, true, quant::DType::kQ8_0}),
                         [](const auto& param_info) {
                             const Shape& s = param_info.param;
                             return std::to_string(s.q_heads) + "q" + std::to_string(s.kv_heads) + "kv" +
                                    std::to_string(s.head_dim) + (s.neox ? "_neox_" : "_normal_") +
                                    quant::traits(s.kv).name;
                         });

class RopeShift : public GpuTest, public ::testing::WithParamInterface<std::tuple<bool, quant::DType>> {};

// A context shift's re-rotation: pages 1 and 3 of a random cache (pages of 4 tokens,
// 2 kv heads of 32) rotated by -37 positions. Rotated back by +37 (ref::rope), every K
// row is its old value again within the rounding of the stored result (f16: 1e-3 for
// values in [-1, 1]; q8_0: one code step of its block's new scale, plus that); V and
// the pages not listed keep their exact bytes.
TEST_P(RopeShift, RotatesTheListedPagesKOnly) {
    const auto [neox, kv_type] = GetParam();
    const uint32_t kv_heads = 2, head_dim = 32, page_tokens = 4, n_pages = 4;
    graph::AttentionConfig a;
    a.n_head = a.n_head_kv = kv_heads;
    a.head_dim = head_dim;
    a.rope = neox ? graph::RopeKind::kNeox : graph::RopeKind::kNormal;
    for (uint32_t i = 0; i < head_dim / 2; ++i) a.inv_freq.push_back(std::pow(10000.0f, -2.0f * i / head_dim));
    const kv::KvShape shape{1, kv_heads, head_dim, page_tokens, kv_type};
    kv::KvCache cache(memory(), shape, n_pages, 1, 16);
    const std::vector<std::byte> before = randomKvLayer(shape, cache.layer(0).size(), rng_);
    transfer().upload(cache.layer(0), 0, std::span(before));
    const std::vector<uint32_t> listed = {1, 3};
    vk::Buffer pages = memory().createBuffer(listed.size() * 4, vk::MemoryKind::kUpload, "pages");
    std::memcpy(pages.mapped(), listed.data(), listed.size() * 4);
    vk::Buffer freq = upload(a.inv_freq, "inv_freq");
    const int32_t delta = -37;
    runRecorded([&](vk::CommandBuffer& cmd) {
        ops::recordRopeShift(ctx(), cmd,
                             {.n_pages = 2,
                              .heads = {kv_heads, kv_heads, head_dim},
                              .page_tokens = page_tokens,
                              .neox = neox,
                              .delta = delta,
                              .inv_freq = vk::wholeRange(freq),
                              .pages = vk::wholeRange(pages),
                              .cache = vk::wholeRange(cache.layer(0)),
                              .cache_type = kv_type});
    });
    std::vector<std::byte> after(before.size());
    transfer().download(cache.layer(0), 0, std::span(after));
    const KvLayerView old_view(shape, before), new_view(shape, after);
    const size_t page_bytes = kv::pageBytesPerLayer(shape);
    for (uint32_t page = 0; page < n_pages; ++page) {
        if (page != 1 && page != 3) {
            ASSERT_TRUE(std::equal(before.begin() + page * page_bytes, before.begin() + (page + 1) * page_bytes,
                                   after.begin() + page * page_bytes))
                << "page " << page << " is not listed";
            continue;
        }
        for (uint32_t h = 0; h < kv_heads; ++h) {
            for (uint32_t tok = 0; tok < page_tokens; ++tok) {
                std::vector<float> row(head_dim);
                float step = 0;  // the stored result's rounding
                for (uint32_t d = 0; d < head_dim; ++d) {
                    row[d] = new_view.value(page, 0, h, tok, d);
                    ASSERT_EQ(new_view.value(page, 1, h, tok, d), old_view.value(page, 1, h, tok, d)) << "V changed";
                    if (kv_type == quant::DType::kQ8_0) {
                        ASSERT_EQ(new_view.code(page, 1, h, tok, d), old_view.code(page, 1, h, tok, d));
                        step = std::max(step, new_view.scale(page, 0, h, tok, d / 32));
                    }
                }
                graph::ref::rope(row, 1, a, static_cast<uint32_t>(-delta));
                bool changed = false;
                for (uint32_t d = 0; d < head_dim; ++d) {
                    const float was = old_view.value(page, 0, h, tok, d);
                    ASSERT_NEAR(row[d], was, 1e-3f + step)
                        << "page " << page << " head " << h << " token " << tok << " dim " << d;
                    changed |= new_view.value(page, 0, h, tok, d) != was;
                }
                ASSERT_TRUE(changed) << "page " << page << ": K not rotated";
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Pairs, RopeShift,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(quant::DType::kF16, quant::DType::kQ8_0)),
                         [](const auto& param_info) {
                             return std::string(std::get<0>(param_info.param) ? "neox_" : "normal_") +
                                    quant::traits(std::get<1>(param_info.param)).name;
                         });

// A q8_0 cache takes 17/32 of an f16 cache's bytes, and refuses head sizes its
// blocks of 32 do not divide, naming the size.
TEST(KvShape, Q8_0PagesAndHeadSize) {
    const kv::KvShape f16{4, 2, 64, 16};
    kv::KvShape q8 = f16;
    q8.type = quant::DType::kQ8_0;
    EXPECT_EQ(kv::pageBytesPerLayer(f16), 2u * 2 * 16 * 64 * 2);
    EXPECT_EQ(kv::pageBytesPerLayer(q8) * 32, kv::pageBytesPerLayer(f16) * 17);
    EXPECT_EQ(kv::pageBytes(q8), kv::pageBytesPerLayer(q8) * 4);
    q8.head_dim = 80;
    try {
        kv::pageBytesPerLayer(q8);
        FAIL() << "a q8_0 cache of head size 80 was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("80"), std::string::npos) << e.what();
    }
}

class KvCacheQ8 : public GpuTest {};

TEST_F(KvCacheQ8, RefusesHeadSizeNotMultipleOf32) {
    try {
        kv::KvCache cache(memory(), {1, 2, 48, 16, quant::DType::kQ8_0}, 4, 1, 64);
        FAIL() << "a q8_0 cache of head size 48 was created";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("48"), std::string::npos) << e.what();
    }
}

class ArgMax : public GpuTest {};

TEST_F(ArgMax, FirstLargestOfEachRow) {
    const uint32_t n = 5, width = 1001, stride = 1024;
    std::vector<float> logits = randomFloats(size_t{n} * stride, -10.0f, 10.0f);
    logits[3 * stride + 500] = 50.0f;  // a tie in row 3: the first index wins
    logits[3 * stride + 20] = 50.0f;
    logits[4 * stride + 1000] = 60.0f;  // the last element of a row
    logits[2 * stride + 1010] = 99.0f;  // beyond the width: ignored
    vk::Buffer in = upload(logits, "logits");
    vk::Buffer ids = poisoned(n, "ids");
    runRecorded([&](vk::CommandBuffer& cmd) {
        ops::recordArgMax(ctx(), cmd, vk::wholeRange(in), width, stride, n, vk::wholeRange(ids));
    });
    std::vector<uint32_t> got(n);
    transfer().download(ids, 0, std::as_writable_bytes(std::span(got)));
    for (uint32_t c = 0; c < n; ++c) {
        EXPECT_EQ(got[c], graph::ref::argMax(std::span(logits).subspan(size_t{c} * stride, width))) << "row " << c;
    }
    EXPECT_EQ(got[3], 20u);
    EXPECT_EQ(got[4], 1000u);
}

}  // namespace
}  // namespace vki::test
