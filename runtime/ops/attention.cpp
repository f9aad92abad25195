#include "runtime/ops/attention.hpp"

#include <algorithm>

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

}  // namespace

void recordRopeKv(OpContext& ctx, vk::CommandBuffer& cmd, const RopeKvArgs& a) {
    VKI_ASSERT(a.n > 0 && a.heads.head_dim % 2 == 0 && a.out.offset == 0);
    VKI_ASSERT(a.heads.kv_heads > 0 && a.heads.q_heads % a.heads.kv_heads == 0);
    const uint32_t wg = 64;
    const auto& kernel = ctx.kernels.get(shaders::ShaderId::rope_kv, {{0, wg}});
    const vk::BufferRange bindings[] = {a.q.range,      a.k.range,           a.v.range,
                                        a.out.range,    a.inv_freq,          a.tokens.positions,
                                        a.tokens.slots, a.tokens.page_table, a.cache};
    const shader::RopeKvParams params{
        a.n,          a.heads.q_heads,      a.heads.kv_heads,   a.heads.head_dim, a.q.stride,
        a.q.offset,   a.k.stride,           a.k.offset,         a.v.stride,       a.v.offset,
        a.out.stride, a.tokens.page_tokens, a.tokens.max_pages, a.neox ? 1u : 0u, a.mscale};
    const uint32_t pairs = (a.heads.q_heads + a.heads.kv_heads) * a.heads.head_dim / 2;
    cmd.dispatch(kernel, ctx.arena.bind(kernel, bindings), params, ceilDiv(pairs, wg), a.n);
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
    VKI_ASSERT(a.partials.size >= attentionPartialFloats(a.heads, a.split, a.n) * sizeof(float));
    const uint32_t wg = smallWorkgroup(ctx.device.caps());
    const shader::AttentionParams params{
        a.n,          a.heads.q_heads,      a.heads.kv_heads,   a.heads.head_dim, a.q.stride,
        a.out.stride, a.tokens.page_tokens, a.tokens.max_pages, a.split.chunk,    a.split.splits,
        a.scale};
    const auto& split =
        ctx.kernels.get(shaders::ShaderId::attention_split, {{0, wg}, {1, a.split.chunk}, {2, a.heads.head_dim}});
    const vk::BufferRange split_bindings[] = {a.q.range, a.tokens.positions, a.tokens.slots, a.tokens.page_table,
                                              a.cache,   a.partials};
    cmd.dispatch(split, ctx.arena.bind(split, split_bindings), params, a.split.splits, a.heads.q_heads, a.n);
    cmd.barrier();
    const auto& reduce = ctx.kernels.get(shaders::ShaderId::attention_reduce, {{0, wg}, {2, a.heads.head_dim}});
    const vk::BufferRange reduce_bindings[] = {a.partials, a.out.range};
    cmd.dispatch(reduce, ctx.arena.bind(reduce, reduce_bindings), params, a.heads.q_heads, a.n);
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
