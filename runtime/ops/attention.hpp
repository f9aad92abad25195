// Attention ops over the paged KV cache: RoPE + KV store in one dispatch, decode
// attention split over the KV length with a reduce (flash-decoding), so long
// contexts keep every compute unit busy, and tiled prefill attention (flash attention)
// for chunks of many tokens.
#pragma once

#include <cstdint>

#include "quant/quant.hpp"
#include "runtime/ops/kernel_cache.hpp"

namespace vki::ops {

// Where a step's tokens live: per token c, its position and sequence slot; per slot,
// a ring of max_pages page ids (position t is in entry (t / page_tokens) % max_pages).
// All three are uint32 ranges of the step buffer. With a sliding window, token c
// attends to positions (positions[c] - window, positions[c]] only.
struct TokenPlacement {
    vk::BufferRange positions;
    vk::BufferRange slots;
    vk::BufferRange page_table;
    uint32_t max_pages = 0;
    uint32_t page_tokens = 0;
    uint32_t window = 0;  // 0: every position up to the token's own
};

struct HeadShape {
    uint32_t q_heads = 0;
    uint32_t kv_heads = 0;
    uint32_t head_dim = 0;
};

// A column slice of an activation: token c's vector starts at float c * stride + offset.
struct Strided {
    vk::BufferRange range;
    uint32_t stride = 0;
    uint32_t offset = 0;
};

struct RopeKvArgs {
    uint32_t n = 1;
    HeadShape heads;
    bool neox = false;
    float mscale = 1.0f;
    vk::BufferRange inv_freq;  // head_dim / 2 floats
    Strided q, k, v;
    Strided out;  // roped q; offset must be 0
    TokenPlacement tokens;
    vk::BufferRange cache;  // the layer's pages
    // The cache's elements (kv::KvShape::type): kF16, or kQ8_0 (quantized here, GGML's
    // rounding; head_dim a multiple of 32). The same in every op on one cache.
    quant::DType cache_type = quant::DType::kF16;
};
void recordRopeKv(OpContext& ctx, vk::CommandBuffer& cmd, const RopeKvArgs& args);

// Cached K moved by `delta` positions: every token's K in the listed pages rotated by
// delta more (a context shift moving pages down re-rotates them instead of computing
// them again). V is untouched.
struct RopeShiftArgs {
    uint32_t n_pages = 0;
    HeadShape heads;  // kv_heads and head_dim
    uint32_t page_tokens = 0;
    bool neox = false;
    int32_t delta = 0;
    vk::BufferRange inv_freq;  // head_dim / 2 floats
    vk::BufferRange pages;     // n_pages uint32 page ids
    vk::BufferRange cache;     // the layer's pages
    quant::DType cache_type = quant::DType::kF16;
};
void recordRopeShift(OpContext& ctx, vk::CommandBuffer& cmd, const RopeShiftArgs& args);

// Splits of `chunk` keys needed to cover max_context positions (the window, for a
// sliding-window model: splits count from a token's first visible key).
struct AttentionSplit {
    uint32_t chunk = 0;
    uint32_t splits = 0;
};
// `chunk` 0 picks the chunk from the caps.
AttentionSplit attentionSplit(const vk::DeviceCaps& caps, uint32_t max_context, uint32_t chunk = 0);
// Floats of partials a dispatch over n tokens needs.
uint64_t attentionPartialFloats(const HeadShape& heads, const AttentionSplit& split, uint32_t n);

struct AttentionArgs {
    uint32_t n = 1;
    HeadShape heads;
    float scale = 1.0f;
    AttentionSplit split;
    Strided q;    // offset must be 0
    Strided out;  // offset must be 0
    TokenPlacement tokens;
    vk::BufferRange cache;
    quant::DType cache_type = quant::DType::kF16;
    vk::BufferRange partials;  // attentionPartialFloats floats
};
// Two dispatches with a barrier between them.
void recordAttention(OpContext& ctx, vk::CommandBuffer& cmd, const AttentionArgs& args);

// Tile sizes of the prefill kernel on a device: a workgroup takes `rows` tokens of one
// q head with `threads` invocations per token and stages `cols` keys at a time.
struct FlashAttentionTiles {
    uint32_t rows = 0;
    uint32_t cols = 0;
    uint32_t threads = 0;
};
// The device's tiles for a cache of `cache_type` elements. Throws kUnsupported when
// the device lacks subgroup shuffles or the shared memory for 8 keys of head_dim.
FlashAttentionTiles flashAttentionTiles(const vk::DeviceCaps& caps, uint32_t head_dim,
                                        quant::DType cache_type = quant::DType::kF16);

// Prefill attention of a chunk of n tokens: the same result as recordAttention
// (token c attends to its sequence's cached keys 0..positions[c], which must already
// hold the chunk's own K/V) for any placement of the tokens, in one dispatch with no
// partials. Fastest when runs of consecutive tokens share a slot.
struct FlashAttentionArgs {
    uint32_t n = 1;
    HeadShape heads;
    float scale = 1.0f;
    Strided q;    // offset must be 0
    Strided out;  // offset must be 0
    TokenPlacement tokens;
    vk::BufferRange cache;
    quant::DType cache_type = quant::DType::kF16;
    // rows 0: flashAttentionTiles. Else threads must be a power of two within the
    // subgroup size that splits head_dim / 2, and the tiles must fit the device.
    FlashAttentionTiles tiles;
};
void recordFlashAttention(OpContext& ctx, vk::CommandBuffer& cmd, const FlashAttentionArgs& args);

// ids[c] = argmax of logits[c * stride .. + width), c < n.
void recordArgMax(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& logits, uint32_t width,
                  uint32_t stride, uint32_t n, const vk::BufferRange& ids);

}  // namespace vki::ops
