#include "graph/build.hpp"

#include <cmath>
#include <map>

#include "common/error.hpp"

namespace vki::graph {

namespace {

std::string shapeText(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::vector<float> readFloats(const model::GgufFile& file, const model::GgufTensorInfo& t) {
    std::vector<float> out(t.elements);
    quant::dequantize(t.type, file.tensorData(t), out);
    return out;
}

}  // namespace

AttentionConfig attentionConfig(const model::ModelConfig& c, std::span<const float> freq_factors) {
    AttentionConfig a;
    a.n_head = c.n_head;
    a.n_head_kv = c.n_head_kv;
    a.head_dim = c.head_dim;
    a.scale = static_cast<float>(1.0 / std::sqrt(double(c.head_dim)));
    a.window = c.sliding_window;
    // llama GGUFs hold Q/K rows permuted to interleaved pairs; qwen2 keeps rotate-half.
    a.rope = c.arch == model::Arch::kQwen2 ? RopeKind::kNeox : RopeKind::kNormal;
    const double linear = c.rope_scaling == model::RopeScaling::kLinear ? c.rope_factor : 1.0;
    VKI_ASSERT(freq_factors.empty() || freq_factors.size() == c.head_dim / 2);
    for (uint32_t i = 0; i < c.head_dim / 2; ++i) {
        double f = std::pow(double(c.rope_theta), -2.0 * i / c.head_dim) / linear;
        if (!freq_factors.empty()) f /= freq_factors[i];
        a.inv_freq.push_back(static_cast<float>(f));
    }
    return a;
}

Graph buildGraph(const model::GgufFile& file) {
    Graph g;
    g.config = model::readConfig(file);  // kUnsupported for unknown architectures
    const model::ModelConfig& c = g.config;
    c.validate();
    g.eps = c.rms_eps;
    const std::string arch = model::archName(c.arch);

    // Check every tensor against the architecture's table first, so errors name the
    // first problem in file order rather than in graph order.
    std::map<std::string, WeightId> weight_of;
    std::vector<float> freq_factors;
    for (const model::TensorSpec& spec : model::tensorSpecs(c)) {
        const model::GgufTensorInfo* t = file.findTensor(spec.name);
        if (!t) {
            throw Error(ErrorCode::kBadFile, "model " + file.name() + ": tensor '" + spec.name + "' is missing (" +
                                                 arch + " with " + std::to_string(c.n_layer) +
                                                 " layers needs it); the file is incomplete or not a " + arch +
                                                 " model");
        }
        if (t->shape != spec.shape) {
            throw Error(ErrorCode::kBadFile, "model " + file.name() + ": tensor '" + spec.name + "' has shape " +
                                                 shapeText(t->shape) + " but " + arch +
                                                 " with these hyper-parameters needs " + shapeText(spec.shape));
        }
        if (spec.name == "rope_freqs.weight") {
            freq_factors = readFloats(file, *t);
            continue;
        }
        Weight w;
        w.name = spec.name;
        w.dtype = t->type;
        w.cols = static_cast<uint32_t>(spec.shape[0]);
        w.rows = spec.shape.size() > 1 ? static_cast<uint32_t>(spec.shape[1]) : 1;
        w.parts = {spec.name};
        weight_of[spec.name] = g.addWeight(std::move(w));
    }
    g.attention = attentionConfig(c, freq_factors);
    auto W = [&](const std::string& name) { return weight_of.at(name); };

    const uint32_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
    auto add = [&](Op op) { g.ops.push_back(std::move(op)); };
    auto full = [&](ValueId v) { return Operand{v, 0, g.values[v].width}; };
    auto matmul = [&](const std::string& weight, ValueId x, const std::string& out_name) {
        const ValueId out = g.addValue(out_name, g.weights[W(weight)].rows);
        add({.kind = OpKind::kMatMul, .in = {full(x)}, .out = out, .w = W(weight)});
        return out;
    };
    auto norm = [&](const std::string& weight, ValueId x, const std::string& out_name) {
        const ValueId out = g.addValue(out_name, c.n_embd);
        add({.kind = OpKind::kRmsNorm, .in = {full(x)}, .out = out, .norm = W(weight)});
        return out;
    };
    auto residual = [&](ValueId a, ValueId b, const std::string& out_name) {
        const ValueId out = g.addValue(out_name, c.n_embd);
        add({.kind = OpKind::kAdd, .in = {full(a), full(b)}, .out = out});
        return out;
    };

    ValueId h = g.addValue("embd", c.n_embd);
    add({.kind = OpKind::kEmbed, .out = h, .w = W("token_embd.weight")});
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const ValueId x = norm(b + "attn_norm.weight", h, b + "attn_norm");
        ValueId q = matmul(b + "attn_q.weight", x, b + "q");
        ValueId k = matmul(b + "attn_k.weight", x, b + "k");
        ValueId v = matmul(b + "attn_v.weight", x, b + "v");
        if (c.arch == model::Arch::kQwen2) {
            auto bias = [&](ValueId in, const char* which) {
                const ValueId out = g.addValue(b + which + "_bias", g.values[in].width);
                add({.kind = OpKind::kAdd, .in = {full(in)}, .out = out, .bias = W(b + "attn_" + which + ".bias")});
                return out;
            };
            q = bias(q, "q");
            k = bias(k, "k");
            v = bias(v, "v");
        }
        const ValueId qr = g.addValue(b + "q_rope", q_dim);
        add({.kind = OpKind::kRope, .in = {full(q)}, .out = qr});
        const ValueId kr = g.addValue(b + "k_rope", kv_dim);
        add({.kind = OpKind::kRope, .in = {full(k)}, .out = kr});
        add({.kind = OpKind::kKvStore, .in = {full(kr), full(v)}, .layer = l});
        const ValueId att = g.addValue(b + "attn", q_dim);
        add({.kind = OpKind::kAttention, .in = {full(qr)}, .out = att, .layer = l});
        h = residual(h, matmul(b + "attn_output.weight", att, b + "attn_out"), b + "attn_residual");
        const ValueId y = norm(b + "ffn_norm.weight", h, b + "ffn_norm");
        const ValueId gate = matmul(b + "ffn_gate.weight", y, b + "ffn_gate");
        const ValueId up = matmul(b + "ffn_up.weight", y, b + "ffn_up");
        const ValueId act = g.addValue(b + "ffn_act", c.n_ff);
        add({.kind = OpKind::kSwiGlu, .in = {full(gate), full(up)}, .out = act});
        h = residual(h, matmul(b + "ffn_down.weight", act, b + "ffn_out"), b + "ffn_residual");
    }
    const ValueId out = norm("output_norm.weight", h, "output_norm");
    g.logits = matmul(c.tied_embeddings ? "token_embd.weight" : "output.weight", out, "logits");
    add({.kind = OpKind::kArgMax, .in = {full(g.logits)}});
    return g;
}

}  // namespace vki::graph
