#include "model/arch.hpp"

#include <cmath>
#include <numbers>

#include "common/error.hpp"

namespace vki::model {

const char* archName(Arch arch) {
    return arch == Arch::kQwen2 ? "qwen2" : "llama";
}

Arch archFromName(std::string_view name) {
    if (name == "llama") return Arch::kLlama;
    if (name == "qwen2") return Arch::kQwen2;
    throw Error(ErrorCode::kUnsupported,
                "unknown model architecture \"" + std::string(name) + "\"; supported: llama, qwen2");
}

void ModelConfig::validate() const {
    auto fail = [](const std::string& what) { throw Error(ErrorCode::kBadFile, "model config: " + what); };
    if (!n_vocab || !n_ctx || !n_embd || !n_layer || !n_head || !n_head_kv || !n_ff || !head_dim)
        fail("vocab, context, embedding, layer, head, kv head, feed-forward and head sizes must all be > 0");
    // Far beyond any real model; a file claiming more is corrupt, and believing it
    // would cost memory in proportion to the claim.
    if (n_layer > 4096 || n_head > 4096 || n_embd > (1u << 20) || n_ff > (1u << 22) || n_vocab > (1u << 24) ||
        head_dim > 4096)
        fail("implausible sizes: " + std::to_string(n_layer) + " layers, " + std::to_string(n_head) + " heads, " +
             std::to_string(n_embd) + " embedding, " + std::to_string(n_ff) + " feed-forward, " +
             std::to_string(n_vocab) + " vocab");
    if (n_head % n_head_kv)
        fail(std::to_string(n_head) + " heads are not a multiple of " + std::to_string(n_head_kv) + " kv heads");
    if (head_dim % 2) fail("head size " + std::to_string(head_dim) + " is odd (RoPE rotates pairs)");
    if (!(rms_eps > 0.0f) || !(rope_theta > 0.0f)) fail("rms epsilon and rope base must be positive");
    if (rope_scaling != RopeScaling::kNone && !(rope_factor > 0.0f)) fail("rope scaling factor must be positive");
}

void writeConfig(GgufWriter& w, const ModelConfig& c) {
    c.validate();
    const std::string a = archName(c.arch);
    w.set("general.architecture", GgufValue::string(a));
    if (!c.name.empty()) w.set("general.name", GgufValue::string(c.name));
    w.set(a + ".vocab_size", GgufValue::u32(c.n_vocab));
    w.set(a + ".context_length", GgufValue::u32(c.n_ctx));
    w.set(a + ".embedding_length", GgufValue::u32(c.n_embd));
    w.set(a + ".block_count", GgufValue::u32(c.n_layer));
    w.set(a + ".feed_forward_length", GgufValue::u32(c.n_ff));
    w.set(a + ".attention.head_count", GgufValue::u32(c.n_head));
    w.set(a + ".attention.head_count_kv", GgufValue::u32(c.n_head_kv));
    w.set(a + ".attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
    w.set(a + ".rope.freq_base", GgufValue::f32(c.rope_theta));
    w.set(a + ".rope.dimension_count", GgufValue::u32(c.head_dim));
    if (c.head_dim != c.n_embd / c.n_head) {
        w.set(a + ".attention.key_length", GgufValue::u32(c.head_dim));
        w.set(a + ".attention.value_length", GgufValue::u32(c.head_dim));
    }
    if (c.sliding_window) w.set(a + ".attention.sliding_window", GgufValue::u32(c.sliding_window));
    if (c.rope_scaling == RopeScaling::kLinear) {
        w.set(a + ".rope.scaling.type", GgufValue::string("linear"));
        w.set(a + ".rope.scaling.factor", GgufValue::f32(c.rope_factor));
    } else if (c.rope_scaling == RopeScaling::kLlama3) {
        // llama.cpp keeps the Llama 3 factors in the rope_freqs tensor; the parameters
        // are written too so the file says where they came from.
        w.set(a + ".rope.scaling.type", GgufValue::string("llama3"));
        w.set(a + ".rope.scaling.factor", GgufValue::f32(c.rope_factor));
        w.set(a + ".rope.scaling.low_freq_factor", GgufValue::f32(c.rope_low_freq_factor));
        w.set(a + ".rope.scaling.high_freq_factor", GgufValue::f32(c.rope_high_freq_factor));
        w.set(a + ".rope.scaling.original_context_length", GgufValue::u32(c.rope_original_ctx));
    }
}

ModelConfig readConfig(const GgufFile& f) {
    ModelConfig c;
    c.arch = archFromName(f.getString("general.architecture"));
    const std::string a = archName(c.arch);
    auto u32 = [&](const std::string& key) -> uint32_t {
        const int64_t v = f.getInt(key);
        if (v < 0 || v > UINT32_MAX)
            throw Error(ErrorCode::kBadFile,
                        "GGUF " + f.name() + ": " + key + " = " + std::to_string(v) + " is out of range");
        return static_cast<uint32_t>(v);
    };
    c.name = f.getStringOr("general.name", "");
    c.n_ctx = u32(a + ".context_length");
    c.n_embd = u32(a + ".embedding_length");
    c.n_layer = u32(a + ".block_count");
    c.n_ff = u32(a + ".feed_forward_length");
    c.n_head = u32(a + ".attention.head_count");
    c.n_head_kv = f.find(a + ".attention.head_count_kv") ? u32(a + ".attention.head_count_kv") : c.n_head;
    c.head_dim =
        f.find(a + ".attention.key_length") ? u32(a + ".attention.key_length") : (c.n_head ? c.n_embd / c.n_head : 0);
    c.rms_eps = static_cast<float>(f.getFloatOr(a + ".attention.layer_norm_rms_epsilon", 1e-5));
    c.rope_theta = static_cast<float>(f.getFloatOr(a + ".rope.freq_base", 10000.0));
    if (f.find(a + ".vocab_size")) {
        c.n_vocab = u32(a + ".vocab_size");
    } else if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->asArray()) {
        c.n_vocab = static_cast<uint32_t>(tokens->asArray()->size());
    }
    const std::string scaling = f.getStringOr(a + ".rope.scaling.type", "none");
    if (scaling == "linear") {
        c.rope_scaling = RopeScaling::kLinear;
    } else if (scaling == "llama3") {
        c.rope_scaling = RopeScaling::kLlama3;
        c.rope_low_freq_factor = static_cast<float>(f.getFloatOr(a + ".rope.scaling.low_freq_factor", 1.0));
        c.rope_high_freq_factor = static_cast<float>(f.getFloatOr(a + ".rope.scaling.high_freq_factor", 4.0));
        c.rope_original_ctx = static_cast<uint32_t>(f.getIntOr(a + ".rope.scaling.original_context_length", 0));
    } else if (scaling != "none") {
        throw Error(ErrorCode::kUnsupported, "GGUF " + f.name() + ": rope scaling \"" + scaling +
                                                 "\" is not supported (none, linear, llama3 are)");
    }
    c.rope_factor = static_cast<float>(f.getFloatOr(a + ".rope.scaling.factor", 1.0));
    c.tied_embeddings = f.findTensor("output.weight") == nullptr;
    if (f.find(a + ".attention.sliding_window")) c.sliding_window = u32(a + ".attention.sliding_window");
    c.validate();
    return c;
}

std::vector<TensorSpec> tensorSpecs(const ModelConfig& c) {
    const uint64_t q = uint64_t{c.n_head} * c.head_dim, kv = uint64_t{c.n_head_kv} * c.head_dim;
    std::vector<TensorSpec> specs;
    specs.push_back({"token_embd.weight", {c.n_embd, c.n_vocab}, false});
    if (c.rope_scaling == RopeScaling::kLlama3) specs.push_back({"rope_freqs.weight", {c.head_dim / 2}, true});
    for (uint32_t i = 0; i < c.n_layer; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        specs.push_back({b + "attn_norm.weight", {c.n_embd}, true});
        specs.push_back({b + "attn_q.weight", {c.n_embd, q}, false});
        specs.push_back({b + "attn_k.weight", {c.n_embd, kv}, false});
        specs.push_back({b + "attn_v.weight", {c.n_embd, kv}, false});
        if (c.arch == Arch::kQwen2) {
            specs.push_back({b + "attn_q.bias", {q}, true});
            specs.push_back({b + "attn_k.bias", {kv}, true});
            specs.push_back({b + "attn_v.bias", {kv}, true});
        }
        specs.push_back({b + "attn_output.weight", {q, c.n_embd}, false});
        specs.push_back({b + "ffn_norm.weight", {c.n_embd}, true});
        specs.push_back({b + "ffn_gate.weight", {c.n_embd, c.n_ff}, false});
        specs.push_back({b + "ffn_up.weight", {c.n_embd, c.n_ff}, false});
        specs.push_back({b + "ffn_down.weight", {c.n_ff, c.n_embd}, false});
    }
    specs.push_back({"output_norm.weight", {c.n_embd}, true});
    if (!c.tied_embeddings) specs.push_back({"output.weight", {c.n_embd, c.n_vocab}, false});
    return specs;
}

std::vector<float> llama3RopeFactors(const ModelConfig& c) {
    if (c.rope_scaling != RopeScaling::kLlama3) return {};
    const double old_ctx = c.rope_original_ctx ? c.rope_original_ctx : 8192;
    const double low_wavelen = old_ctx / c.rope_low_freq_factor;
    const double high_wavelen = old_ctx / c.rope_high_freq_factor;
    std::vector<float> factors;
    for (uint32_t i = 0; i < c.head_dim / 2; ++i) {
        const double freq = 1.0 / std::pow(double(c.rope_theta), 2.0 * i / c.head_dim);
        const double wavelen = 2.0 * std::numbers::pi / freq;
        if (wavelen < high_wavelen) {
            factors.push_back(1.0f);
        } else if (wavelen > low_wavelen) {
            factors.push_back(c.rope_factor);
        } else {
            const double smooth =
                (old_ctx / wavelen - c.rope_low_freq_factor) / (c.rope_high_freq_factor - c.rope_low_freq_factor);
            factors.push_back(static_cast<float>(1.0 / ((1.0 - smooth) / c.rope_factor + smooth)));
        }
    }
    return factors;
}

uint32_t ggufFileType(quant::DType type, bool k_medium_recipe) {
    // llama.cpp's llama_ftype values.
    switch (type) {
        case quant::DType::kF32:
            return 0;
        case quant::DType::kF16:
            return 1;
        case quant::DType::kQ4_0:
            return 2;
        case quant::DType::kQ4_1:
            return 3;
        case quant::DType::kQ8_0:
            return 7;
        case quant::DType::kQ5_0:
            return 8;
        case quant::DType::kQ5_1:
            return 9;
        case quant::DType::kQ4_K:
            return k_medium_recipe ? 15 : 14;
        case quant::DType::kQ5_K:
            return k_medium_recipe ? 17 : 16;
        case quant::DType::kQ6_K:
            return 18;
        case quant::DType::kBF16:
            return 32;
    }
    return 0;
}

}  // namespace vki::model
