// The op graph of one model: activations ("values"), weights and ops, in execution
// order. Shape-polymorphic in the token dimension: every value is [n][width] fp32
// for a step of n tokens, so one graph serves every bucket. Builders (build.hpp)
// emit plain ops; passes (passes.hpp) fuse them into what the kernels execute; the
// CPU reference executor (reference.hpp) runs either form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/arch.hpp"
#include "quant/quant.hpp"

namespace vki::graph {

using ValueId = int32_t;
using WeightId = int32_t;
inline constexpr int32_t kNone = -1;

// An activation: n rows of `width` floats.
struct Value {
    std::string name;
    uint32_t width = 0;
};

// A weight: `rows` rows of `cols` elements of `dtype`. Usually one GGUF tensor; a
// fused weight stacks several tensors of one dtype by rows (Q, K and V in one matrix).
// 1-D tensors (norms, biases) have rows = 1.
struct Weight {
    std::string name;
    quant::DType dtype = quant::DType::kF32;
    uint32_t rows = 0;
    uint32_t cols = 0;
    std::vector<std::string> parts;  // GGUF tensor names, stacked by rows
};

enum class OpKind {
    kEmbed,      // out = rows `ids` of weight w
    kRmsNorm,    // out = rmsnorm(in[0]) * norm
    kMatMul,     // out (=|+=) epilogue(w . prologue(in[0])): see the fields below
    kAdd,        // out = in[0] + (bias != kNone ? bias row : in[1])
    kSwiGlu,     // out = silu(in[0]) * in[1]
    kRope,       // out = rope(in[0]) at each token's position (heads = width / head_dim)
    kKvStore,    // K = in[0], V = in[1] stored in layer's cache at each token's position
    kRopeKv,     // fused: out = rope(q); K = rope(k), V = v stored (q, k, v: operand slices)
    kAttention,  // out = causal softmax(q K^T * scale) V over the layer's cache (GQA)
    kArgMax,     // the step's sampled ids = argmax of each row of in[0]
};
const char* opName(OpKind kind);

// An operand: columns [offset, offset + width) of a value's rows.
struct Operand {
    ValueId value = kNone;
    uint32_t offset = 0;
    uint32_t width = 0;
};

struct Op {
    OpKind kind = OpKind::kAdd;
    std::vector<Operand> in;
    ValueId out = kNone;
    uint32_t layer = 0;  // kv ops and attention
    // kMatMul: weight, optional SwiGLU partner, RMSNorm prologue and bias; with
    // accumulate, out is read and added to (the residual stream).
    WeightId w = kNone;
    WeightId up = kNone;
    WeightId norm = kNone;  // also kRmsNorm's weight
    WeightId bias = kNone;  // also kAdd's broadcast row
    bool accumulate = false;
};

enum class RopeKind { kNormal, kNeox };  // interleaved pairs / rotate-half

struct AttentionConfig {
    uint32_t n_head = 0;
    uint32_t n_head_kv = 0;
    uint32_t head_dim = 0;
    float scale = 0;  // 1 / sqrt(head_dim)
    RopeKind rope = RopeKind::kNormal;
    // theta_i = position * inv_freq[i], i < head_dim / 2, with every frequency scaling
    // (linear, Llama 3 factors) folded in; cos and sin are multiplied by rope_mscale.
    std::vector<float> inv_freq;
    float rope_mscale = 1.0f;
    uint32_t window = 0;  // sliding window: keys (position - window, position]; 0: all
};

struct Graph {
    model::ModelConfig config;
    AttentionConfig attention;
    float eps = 1e-5f;
    std::vector<Value> values;
    std::vector<Weight> weights;
    std::vector<Op> ops;
    ValueId logits = kNone;

    ValueId addValue(std::string name, uint32_t width);
    WeightId addWeight(Weight weight);
    // Ops of each kind, for reports ("12 matmul, 2 attention, ...").
    std::string summary() const;
    // One line per op, for `vkinfer inspect --graph` and test failures.
    std::string dump() const;
};

}  // namespace vki::graph
