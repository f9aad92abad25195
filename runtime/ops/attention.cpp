#include "runtime/ops/attention.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "shaders/common/params.h"

namespace vki::ops {

namespace {

uint32_t ceilDiv(uint64_t a, uint64_t b) {
    return static_cast<uint32_t>((a + b - 1) / b);
}

// Workgroup size for kernels whose parallel axis is short (a head, a chunk): one
// subgroup on wide-subgroup devices, two of the narrow ones (at least 32 lanes).
uint32_t smallWorkgroup(const vk::DeviceCaps& caps) {
    return std::max<uint32_t>(caps.subgroup_size, 32);
}

// Which variant of a kernel family reads (or writes) a cache of `type` elements.
shaders::ShaderId kvVariant(quant::DType type, shaders::ShaderId f16, shaders::ShaderId q8_0) {
    VKI_ASSERT(type == quant::DType::kF16 || type == quant::DType::kQ8_0);
    return type == quant::DType::kF16 ? f16 : q8_0;
}

// Elements of a cache row per 32-bit word: f16 pairs, or four q8_0 codes.
uint32_t kvWordElements(quant::DType type) {
    return type == quant::DType::kQ8_0 ? 4 : 2;
}

// K and V of `cols` keys as the cache holds them and a row offset per key: 32 keys of
// 128 dims take 16 KiB in f16; q8_0 codes take half that, plus a scale word per 32
// elements and a scale offset per key.
uint32_t flashSharedBytes(const FlashAttentionTiles& t, uint32_t head_dim, quant::DType type) {
    if (type == quant::DType::kQ8_0) return t.cols * (head_dim * 2 + head_dim / 32 * 4 + 8);
    return t.cols * (head_dim * 4 + 4);
}

}  // namespace

void recordRopeKv(OpContext& ctx, vk::CommandBuffer& cmd, const RopeKvArgs& a) {
    VKI_ASSERT(a.n > 0 && a.heads.head_dim % 2 == 0 && a.out.offset == 0);
    VKI_ASSERT(a.heads.kv_heads > 0 && a.heads.q_heads % a.heads.kv_heads == 0);
    VKI_ASSERT(a.cache_type != quant::DType::kQ8_0 || a.heads.head_dim % 32 == 0);
    // A workgroup per head and token, an invocation per pair of the head (64 at most).
    const uint32_t wg = std::min<uint32_t>(64, a.heads.head_dim / 2);
    const auto& kernel =
        ctx.kernels.get(kvVariant(a.cache_type, shaders::ShaderId::rope_kv_f16, shaders::ShaderId::rope_kv_q8_0),
                        {{0, wg}, {1, a.heads.head_dim}});
    const vk::BufferRange bindings[] = {a.q.range,      a.k.range,           a.v.range,
                                        a.out.range,    a.inv_freq,          a.tokens.positions,
                                        a.tokens.slots, a.tokens.page_table, a.cache};
    const shader::RopeKvParams params{
        a.n,          a.heads.q_heads,      a.heads.kv_heads,   a.heads.head_dim, a.q.stride,
        a.q.offset,   a.k.stride,           a.k.offset,         a.v.stride,       a.v.offset,
        a.out.stride, a.tokens.page_tokens, a.tokens.max_pages, a.neox ? 1u : 0u, a.mscale};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, a.heads.q_heads + a.heads.kv_heads, a.n);
}

void recordRopeShift(OpContext& ctx, vk::CommandBuffer& cmd, const RopeShiftArgs& a) {
    VKI_ASSERT(a.n_pages > 0 && a.heads.kv_heads > 0 && a.heads.head_dim % 2 == 0 && a.page_tokens > 0);
    VKI_ASSERT(a.cache_type != quant::DType::kQ8_0 || a.heads.head_dim % 32 == 0);
    const vk::DeviceCaps& caps = ctx.device.caps();
    const uint32_t rows = a.heads.kv_heads * a.page_tokens;
    VKI_ASSERT(rows <= caps.max_workgroup_count[0] && a.n_pages <= caps.max_workgroup_count[1]);
    // A workgroup per K row of a listed page, an invocation per pair (64 at most).
    const uint32_t wg = std::min<uint32_t>(64, a.heads.head_dim / 2);
    const auto& kernel =
        ctx.kernels.get(kvVariant(a.cache_type, shaders::ShaderId::rope_shift_f16, shaders::ShaderId::rope_shift_q8_0),
                        {{0, wg}, {1, a.heads.head_dim}});
    const vk::BufferRange bindings[] = {a.inv_freq, a.pages, a.cache};
    const shader::RopeShiftParams params{a.heads.kv_heads, a.page_tokens, a.neox ? 1u : 0u, a.delta};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, rows, a.n_pages);
}

AttentionSplit attentionSplit(const vk::DeviceCaps& caps, uint32_t max_context, uint32_t chunk) {
    // Each invocation walks a chunk's keys serially for the value sums, so wide GPUs
    // want short chunks and many splits (H100, 2k context, positions < 150: 64 keys
    // took 12% less attention time than 256); CPU drivers with two threads gain
    // nothing from more splits, and fewer partials are less to combine. The scores of
    // a chunk live in shared memory.
    if (chunk == 0) chunk = std::min<uint32_t>(caps.subgroup_size >= 32 ? 64 : 256, caps.max_shared_memory / 16);
    VKI_ASSERT(chunk >= 1 && chunk <= caps.max_shared_memory / 16 && max_context > 0);
    return {chunk, ceilDiv(max_context, chunk)};
}

uint64_t attentionPartialFloats(const HeadShape& heads, const AttentionSplit& split, uint32_t n) {
    return uint64_t{n} * heads.q_heads * split.splits * (heads.head_dim + 2);
}

void recordAttention(OpContext& ctx, vk::CommandBuffer& cmd, const AttentionArgs& a) {
    VKI_ASSERT(a.n > 0 && a.q.offset == 0 && a.out.offset == 0 && a.heads.head_dim % 2 == 0);
    VKI_ASSERT(a.cache_type != quant::DType::kQ8_0 || a.heads.head_dim % 32 == 0);
    VKI_ASSERT(a.partials.size >= attentionPartialFloats(a.heads, a.split, a.n) * sizeof(float));
    const uint32_t wg = smallWorkgroup(ctx.device.caps());
    const shader::AttentionParams params{a.n,           a.heads.q_heads, a.heads.kv_heads,     a.heads.head_dim,
                                         a.q.stride,    a.out.stride,    a.tokens.page_tokens, a.tokens.max_pages,
                                         a.split.chunk, a.split.splits,  a.tokens.window,      a.scale};
    const auto& split = ctx.kernels.get(
        kvVariant(a.cache_type, shaders::ShaderId::attention_split_f16, shaders::ShaderId::attention_split_q8_0),
        {{0, wg}, {1, a.split.chunk}, {2, a.heads.head_dim}});
    const vk::BufferRange split_bindings[] = {a.q.range, a.tokens.positions, a.tokens.slots, a.tokens.page_table,
                                              a.cache,   a.partials};
    cmd.dispatch(split, ctx.arena.bind(split, split_bindings), params, a.split.splits, a.heads.q_heads, a.n);
    cmd.barrier();
    const auto& reduce = ctx.kernels.get(shaders::ShaderId::attention_reduce, {{0, wg}, {2, a.heads.head_dim}});
    const vk::BufferRange reduce_bindings[] = {a.partials, a.out.range};
    cmd.dispatch(reduce, ctx.arena.bind(reduce, reduce_bindings), params, a.heads.q_heads, a.n);
}

FlashAttentionTiles flashAttentionTiles(const vk::DeviceCaps& caps, uint32_t head_dim, quant::DType cache_type) {
    if (!caps.hasSubgroupOps(VK_SUBGROUP_FEATURE_SHUFFLE_BIT))
        throw Error(
            ErrorCode::kUnsupported,
            "device \"" + caps.name + "\" lacks subgroup shuffles in compute shaders (needed by flash attention)");
    // CPU drivers run a subgroup as the SIMD lanes of one thread: with one invocation
    // per token every K/V read of the inner loops is one address for all lanes (a
    // load and a broadcast) and a score needs no cross-lane sum. GPUs: four
    // invocations per token hold q and the output in 2 * head_dim / 4 registers, and
    // 32 tokens share each staged key.
    const bool cpu = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    FlashAttentionTiles t{cpu ? 64u : 32u, 32, cpu ? 1u : 4u};
    // A token's invocations sit in one subgroup and split its cache words evenly.
    const uint32_t unit = kvWordElements(cache_type);
    while (t.threads > 1 && (t.threads > caps.subgroup_min_size || head_dim % (unit * t.threads) != 0)) t.threads /= 2;
    while (t.cols > 8 && flashSharedBytes(t, head_dim, cache_type) > caps.max_shared_memory) t.cols /= 2;
    if (flashSharedBytes(t, head_dim, cache_type) > caps.max_shared_memory)
        throw Error(ErrorCode::kUnsupported, "device \"" + caps.name +
                                                 "\" has too little shared memory for flash attention at head_dim " +
                                                 std::to_string(head_dim));
    return t;
}

void recordFlashAttention(OpContext& ctx, vk::CommandBuffer& cmd, const FlashAttentionArgs& a) {
    VKI_ASSERT(a.n > 0 && a.q.offset == 0 && a.out.offset == 0 && a.heads.head_dim % 2 == 0);
    VKI_ASSERT(a.heads.kv_heads > 0 && a.heads.q_heads % a.heads.kv_heads == 0);
    VKI_ASSERT(a.cache_type != quant::DType::kQ8_0 || a.heads.head_dim % 32 == 0);
    const vk::DeviceCaps& caps = ctx.device.caps();
    const FlashAttentionTiles t =
        a.tiles.rows == 0 ? flashAttentionTiles(caps, a.heads.head_dim, a.cache_type) : a.tiles;
    const uint32_t unit = kvWordElements(a.cache_type);
    VKI_ASSERT(t.rows > 0 && t.cols > 0 && t.threads > 0 && (t.threads & (t.threads - 1)) == 0);
    VKI_ASSERT(t.threads <= caps.subgroup_min_size && a.heads.head_dim % (unit * t.threads) == 0);
    VKI_ASSERT(t.rows * t.threads <= caps.max_workgroup_invocations &&
               flashSharedBytes(t, a.heads.head_dim, a.cache_type) <= caps.max_shared_memory);
    const shader::FlashAttentionParams params{a.n,          a.heads.q_heads,      a.heads.kv_heads,   a.q.stride,
                                              a.out.stride, a.tokens.page_tokens, a.tokens.max_pages, a.tokens.window,
                                              a.scale};
    const auto& kernel = ctx.kernels.get(
        kvVariant(a.cache_type, shaders::ShaderId::flash_attention_f16, shaders::ShaderId::flash_attention_q8_0),
        {{0, t.rows * t.threads}, {1, t.rows}, {2, a.heads.head_dim}, {3, t.cols}});
    const vk::BufferRange bindings[] = {a.q.range, a.tokens.positions, a.tokens.slots, a.tokens.page_table,
                                        a.cache,   a.out.range};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, ceilDiv(a.n, t.rows), a.heads.q_heads);
}

void recordArgMax(OpContext& ctx, vk::CommandBuffer& cmd, const vk::BufferRange& logits, uint32_t width,
                  uint32_t stride, uint32_t n, const vk::BufferRange& ids) {
    VKI_ASSERT(n > 0 && width > 0 && stride >= width);
    const uint32_t wg = std::clamp<uint32_t>(ctx.device.caps().max_workgroup_invocations, 64, 256);
    const auto& kernel = ctx.kernels.get(shaders::ShaderId::argmax, {{0, wg}});
    const vk::BufferRange bindings[] = {logits, ids};
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), shader::ArgMaxParams{n, width, stride}, n);
}

}  // namespace vki::ops
