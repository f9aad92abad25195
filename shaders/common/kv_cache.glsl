// The KV cache's element format, chosen by the variant's define (layout in
// common/params.h): KV_F16 holds two f16 values per word, KV_Q8_0 four int8 codes per
// word with one f16 scale per 32 elements. Readers bind the cache as uint words and
// take a row kKvUnit elements (one word) at a time; KvVec holds one word's values, and
// kKvBlockWords words share a scale (f16: 1, unscaled).
#ifndef VKI_KV_CACHE_GLSL
#define VKI_KV_CACHE_GLSL

#if defined(KV_F16)
const uint kKvUnit = 2;
const uint kKvBlockWords = 1;
#define KvVec vec2
KvVec kvUnpack(uint w) {
    return unpackHalf2x16(w);
}
#elif defined(KV_Q8_0)
const uint kKvUnit = 4;
const uint kKvBlockWords = 8;
#define KvVec vec4
// Element e of the word is the signed byte e (as GGML's q8_0 codes).
KvVec kvUnpack(uint w) {
    const int s = int(w);
    return vec4(bitfieldExtract(s, 0, 8), bitfieldExtract(s, 8, 8), bitfieldExtract(s, 16, 8),
                bitfieldExtract(s, 24, 8));
}
#else
#error "define KV_F16 or KV_Q8_0"
#endif

// A page of one layer holds `rows` = kv_heads * page_tokens rows of K and as many of V,
// head_dim elements each. Row r of a page is kv head r / page_tokens, token
// r % page_tokens.
uint kvPageWords(uint rows, uint head_dim) {
#ifdef KV_Q8_0
    return rows * head_dim / 2 + rows * head_dim / 32;
#else
    return rows * head_dim;
#endif
}

// First word of K row `row` of page `page`; its V row is kvValueWords() further.
uint kvKeyWord(uint page, uint row, uint rows, uint head_dim) {
    return page * kvPageWords(rows, head_dim) + row * (head_dim / kKvUnit);
}

uint kvValueWords(uint rows, uint head_dim) {
    return rows * (head_dim / kKvUnit);
}

#ifdef KV_Q8_0
// Word of the scales of row `row`'s first block; block b's is b words further. The
// word holds the K scale in its low half and the V scale in its high half
// (unpackHalf2x16 gives (d_k, d_v)).
uint kvScaleWord(uint page, uint row, uint rows, uint head_dim) {
    return page * kvPageWords(rows, head_dim) + rows * head_dim / 2 + row * (head_dim / 32);
}
#endif

#endif
