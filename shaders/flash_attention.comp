#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill attention over the paged KV cache (FlashAttentionParams), after
// FlashAttention (Dao et al. 2022, arXiv:2205.14135): workgroup (tile, head) takes
// kRows consecutive tokens of the chunk and one q head, stages its sequence's keys
// kCols at a time in shared memory (cache words as the cache holds them: f16 pairs,
// or q8_0 codes and their blocks' scales, common/kv_cache.glsl) and keeps per token a
// running max, sum and unnormalized output (online softmax), so the scores never
// leave the workgroup.
// kThreads = kWorkgroupSize / kRows consecutive invocations share a token, each
// holding every kThreads-th word's dimensions of q and of the output; a score is
// their partial dots summed with subgroup shuffles (kThreads <= subgroup size).
// A tile's tokens may belong to several sequences: the tile makes one pass per slot
// among them, in increasing order, over that slot's keys from its tokens' first
// visible key (0, or the earliest start of their sliding windows) to their largest
// position; a token takes part in its own slot's pass only and masks keys outside
// its own window, so any placement is right and the usual one (one slot) is one pass.
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common/common.glsl"

layout(constant_id = 0) const uint kWorkgroupSize = 64;
layout(constant_id = 1) const uint kRows = 64;
layout(constant_id = 2) const uint kHeadDim = 128;
layout(constant_id = 3) const uint kCols = 32;
const uint kThreads = kWorkgroupSize / kRows;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Pos { uint positions[]; };
layout(std430, binding = 2) readonly buffer Slot { uint slots[]; };
layout(std430, binding = 3) readonly buffer Table { uint page_table[]; };
layout(std430, binding = 4) readonly buffer Cache { uint cache[]; };
layout(std430, binding = 5) writeonly buffer Out { float out_v[]; };
layout(push_constant) uniform Push { FlashAttentionParams p; };

#include "common/kv_cache.glsl"

const uint kWords = kHeadDim / kKvUnit;  // cache words of a row
const uint kOwn = kWords / kThreads;     // words of q and of the output per invocation

shared uint k_s[kCols * kWords];  // [key][word]
shared uint v_s[kCols * kWords];
shared uint row_s[kCols];  // first word of each key's K row in the cache
#ifdef KV_Q8_0
const uint kBlocks = kHeadDim / 32;
shared uint d_s[kCols * kBlocks];  // [key][block]: (d_k, d_v) as the cache holds them
shared uint scale_s[kCols];        // first scale word of each key
#endif

// (d_k, d_v) of the block of word w of staged key k.
vec2 stagedScales(uint k, uint w) {
#ifdef KV_Q8_0
    return unpackHalf2x16(d_s[k * kBlocks + w / kKvBlockWords]);
#else
    return vec2(1.0);
#endif
}

// Below every score: the running max before a token's first key.
const float kNoScore = -3.0e38;

// The first key the token at `pos` sees.
uint firstKey(uint pos) {
    return p.window != 0 && pos + 1 > p.window ? pos + 1 - p.window : 0;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint r = tid / kThreads, lane = tid % kThreads;
    const uint h = gl_WorkGroupID.y;
    const uint c0 = gl_WorkGroupID.x * kRows, rows = min(kRows, p.n - c0);
    const uint c = c0 + r;
    const bool valid = r < rows;
    const uint pos = valid ? positions[c] : 0;
    const uint slot = valid ? slots[c] : 0;
    const uint lo = firstKey(pos);
    const uint kvh = h / (p.q_heads / p.kv_heads);
    const uint page_rows = p.kv_heads * p.page_tokens;
    const uint v_words = kvValueWords(page_rows, kHeadDim);  // from a key's K row to its V row

    KvVec q_r[kOwn];  // this invocation's words' dimensions of q, times the scale
    KvVec o[kOwn];
    for (uint i = 0; i < kOwn; ++i) {
        const uint at = c * p.q_stride + h * kHeadDim + kKvUnit * (lane + kThreads * i);
        for (uint e = 0; e < kKvUnit; ++e) q_r[i][e] = valid ? q[at + e] * p.scale : 0.0;
        o[i] = KvVec(0.0);
    }
    float m = kNoScore, l = 0.0;
    float s[kCols];

    uint next = 0;  // passes take the tile's slots in increasing order
    for (;;) {
        uint pass_slot = 0xffffffffu;
        for (uint k = 0; k < rows; ++k) {
            if (slots[c0 + k] >= next) pass_slot = min(pass_slot, slots[c0 + k]);
        }
        if (pass_slot == 0xffffffffu) break;
        uint start = 0xffffffffu, len = 0;
        for (uint k = 0; k < rows; ++k) {
            if (slots[c0 + k] == pass_slot) {
                start = min(start, firstKey(positions[c0 + k]));
                len = max(len, positions[c0 + k] + 1);
            }
        }
        const bool mine = valid && slot == pass_slot;

        for (uint t0 = start; t0 < len; t0 += kCols) {
            const uint cnt = min(kCols, len - t0);
            barrier();  // the previous tile's readers are done with the shared arrays
            for (uint k = tid; k < cnt; k += kWorkgroupSize) {
                const uint t = t0 + k;
                const uint page = page_table[pass_slot * p.max_pages + (t / p.page_tokens) % p.max_pages];
                const uint row = kvh * p.page_tokens + t % p.page_tokens;
                row_s[k] = kvKeyWord(page, row, page_rows, kHeadDim);
#ifdef KV_Q8_0
                scale_s[k] = kvScaleWord(page, row, page_rows, kHeadDim);
#endif
            }
            barrier();
            for (uint e = tid; e < cnt * kWords; e += kWorkgroupSize) {
                const uint at = row_s[e / kWords] + e % kWords;
                k_s[e] = cache[at];
                v_s[e] = cache[at + v_words];
            }
#ifdef KV_Q8_0
            for (uint e = tid; e < cnt * kBlocks; e += kWorkgroupSize) d_s[e] = cache[scale_s[e / kBlocks] + e % kBlocks];
#endif
            barrier();
            if (mine && t0 <= pos && t0 + cnt > lo) {
                // Keys t0 + first .. t0 + lim - 1 are this token's; the rest of the tile is masked.
                const uint first = lo > t0 ? lo - t0 : 0;
                const uint lim = min(cnt, pos + 1 - t0);
                float m_new = m;
                for (uint k = 0; k < kCols; ++k) {
                    if (k < cnt) {
                        float dot = 0.0;
                        for (uint i = 0; i < kOwn; ++i) {
                            const uint w = lane + kThreads * i;
                            const KvVec kk = kvUnpack(k_s[k * kWords + w]);
                            float part = 0.0;
                            for (uint e = 0; e < kKvUnit; ++e) part += q_r[i][e] * kk[e];
                            dot += stagedScales(k, w).x * part;
                        }
                        for (uint off = kThreads / 2; off > 0; off /= 2) dot += subgroupShuffleXor(dot, off);
                        s[k] = dot;
                        if (k >= first && k < lim) m_new = max(m_new, dot);
                    }
                }
                const float alpha = exp(m - m_new);
                m = m_new;
                l *= alpha;
                for (uint i = 0; i < kOwn; ++i) o[i] *= alpha;
                for (uint k = 0; k < kCols; ++k) {
                    if (k < cnt) {
                        const float e = k >= first && k < lim ? exp(s[k] - m) : 0.0;
                        l += e;
                        for (uint i = 0; i < kOwn; ++i) {
                            const uint w = lane + kThreads * i;
                            o[i] += e * stagedScales(k, w).y * kvUnpack(v_s[k * kWords + w]);
                        }
                    }
                }
            }
        }
        next = pass_slot + 1;
    }
    if (!valid) return;
    for (uint i = 0; i < kOwn; ++i) {
        const uint at = c * p.out_stride + h * kHeadDim + kKvUnit * (lane + kThreads * i);
        for (uint e = 0; e < kKvUnit; ++e) out_v[at + e] = o[i][e] / l;
    }
}
