// Push-constant blocks, one struct per kernel family. This file compiles as GLSL
// and as C++: the host fills exactly the struct the shader reads. Only 32-bit
// scalars, so std430 and C++ layouts agree; the host checks each struct's size
// against the size reflected from the SPIR-V.
#ifndef VKI_SHADER_PARAMS_H
#define VKI_SHADER_PARAMS_H

#ifdef __cplusplus
#include <cstdint>
namespace vki::shader {
using uint = uint32_t;
#endif

// copy.comp: dst[i] = src[i] for i < n (n in elements of the variant's type).
struct CopyParams {
    uint n;
};

// binary.comp: dst[i] = a[i] OP b[i % n_b] for i < n; n_b divides nothing in
// particular (a row of bias broadcast over rows is n_b = row length).
struct BinaryParams {
    uint n;
    uint n_b;
};

// reduce.comp: dst[workgroup] = OP over the workgroup's grid-stride share of src[0..n).
struct ReduceParams {
    uint n;
};

// peak.comp: `iterations` rounds of independent FMA chains per invocation.
struct PeakParams {
    uint iterations;
    float seed;
};

// The KV cache, as the kernels address it (common/kv_cache.glsl): a layer's buffer
// holds pages of `page_tokens` tokens. With f16 elements page p holds K then V, each
// [kv_heads][page_tokens][head_dim] f16. With q8_0 (GGML's blocks of 32, d * code) it
// holds, in 32-bit words,
//     K codes  [kv_heads][page_tokens][head_dim / 4]   four int8 codes per word, element
//                                                      e of the row in byte e % 4
//     V codes  likewise
//     scales   [kv_heads][page_tokens][head_dim / 32]  packHalf2x16(d_k, d_v) per block
// so every part is word-aligned whatever the head count and page size, and a block's
// two scales are one store; head_dim must be a multiple of 32. A sequence's row of the
// page table is a ring: the page of position t is
// page_table[slot * max_pages + (t / page_tokens) % max_pages]. A row as long as the
// context never wraps; a sliding-window model's rows hold just the pages a step can
// read, and a sequence past its window reuses its row's entries for new pages.

// rope_kv.comp: for each token c (position pos[c], sequence slot slot[c]):
// out[c] = rope(q[c]); rope(k[c]) and v[c] are stored in the cache at pos[c] (as f16,
// or quantized to q8_0).
// q[c] starts at float c * q_stride + q_offset of binding Q (k and v likewise).
struct RopeKvParams {
    uint n;
    uint q_heads;
    uint kv_heads;
    uint head_dim;
    uint q_stride;
    uint q_offset;
    uint k_stride;
    uint k_offset;
    uint v_stride;
    uint v_offset;
    uint out_stride;
    uint page_tokens;
    uint max_pages;
    uint neox;  // 0: pairs (2i, 2i + 1); 1: pairs (i, i + head_dim / 2)
    float mscale;
};

// rope_shift.comp: the K of every token of pages[0 .. n_pages) rotated by `delta`
// positions more (V untouched); head_dim is a specialization constant.
struct RopeShiftParams {
    uint kv_heads;
    uint page_tokens;
    uint neox;
    int delta;
};

// attention_split.comp / attention_reduce.comp: causal attention of token c over the
// cache positions lo..pos[c] (lo = 0, or pos[c] + 1 - window once a sliding window is
// full), split into `splits` chunks of `chunk` keys from lo; partials
// [n][q_heads][splits][head_dim + 2] hold (max, sum, unnormalized output) per chunk.
struct AttentionParams {
    uint n;
    uint q_heads;
    uint kv_heads;
    uint head_dim;
    uint q_stride;
    uint out_stride;
    uint page_tokens;
    uint max_pages;
    uint chunk;
    uint splits;
    uint window;  // keys a token sees, its own included; 0: all before it
    float scale;
};

// flash_attention.comp: the attention of attention_split/reduce for a chunk of n
// tokens in one pass (online softmax); out[c * out_stride + h * head_dim + d].
struct FlashAttentionParams {
    uint n;
    uint q_heads;
    uint kv_heads;
    uint q_stride;
    uint out_stride;
    uint page_tokens;
    uint max_pages;
    uint window;  // as in AttentionParams
    float scale;
};

// rms_norm.comp: y[c * y_stride + i] = x[c * x_stride + i] * g[i] * rms scale of x[c], i < k.
struct RmsNormParams {
    uint k;
    uint x_stride;
    uint y_stride;
    float eps;
};

// argmax.comp: ids[c] = index of the largest of logits[c * stride .. + width) (the
// first on ties).
struct ArgMaxParams {
    uint n;
    uint width;
    uint stride;
};

// matvec.comp: y[c][row0 + r] (=|+=) epilogue(W[r] . prologue(x[c])) for r < rows
// (ops::MatVecArgs). Weight words are 16-bit, 32-bit for f32 weights; the weight
// binding starts at the slab's first row.
struct MatVecParams {
    uint k;          // row length in elements
    uint rows;       // rows in the slab
    uint row0;       // output row of the slab's first row
    uint row_words;  // weight words per row
    uint x_stride;   // floats between columns of x
    uint y_stride;   // floats between columns of y
    float eps;       // RMSNorm epsilon
};

// matmul.comp: y[c][row0 + r] (=|+=) epilogue(W[r] . x[c]) for r < rows, c < n
// (ops::recordMatMul); fields as MatVecParams, n being a push constant here so that
// every column count shares one pipeline.
struct MatMulParams {
    uint k;
    uint rows;
    uint row0;
    uint row_words;
    uint n;  // columns of x and y
    uint x_stride;
    uint y_stride;
};

// embed.comp: y[c][0..k) = table row ids[c] - row0 for c < n whose row is in the slab.
struct EmbedParams {
    uint k;
    uint rows;
    uint row0;
    uint n;
    uint row_words;  // table words per row (as MatVecParams)
    uint y_stride;
};

// quantize_q8_1.comp: n columns of k floats (x_stride apart) -> q8_1 blocks
// (ops::recordQuantizeQ8_1).
struct QuantizeQ8_1Params {
    uint k;
    uint n;
    uint x_stride;
};

// matmul_q8_1.comp: y[c][row0 + r] (=|+=) epilogue(W[r] . x[c]) for r < rows, c < n,
// x as quantize_q8_1.comp's blocks of k elements (ops::recordMatMulQ8_1).
struct MatMulQ8_1Params {
    uint k;
    uint rows;
    uint row0;
    uint row_words;  // 16-bit weight words per row
    uint n;
    uint y_stride;
};

#ifdef __cplusplus
}  // namespace vki::shader
#endif

#endif
