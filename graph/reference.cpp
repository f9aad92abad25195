#include "graph/reference.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "graph/reference_ops.hpp"

namespace vki::graph {

ReferenceExecutor::ReferenceExecutor(const Graph& graph, const model::GgufFile& file, uint32_t n_ctx,
                                     quant::DType kv_type)
    : graph_(graph), file_(file), n_ctx_(n_ctx), kv_type_(kv_type) {
    VKI_ASSERT(kv_type == quant::DType::kF16 || (kv_type == quant::DType::kQ8_0 && graph.attention.head_dim % 32 == 0));
    const size_t kv_dim = size_t{graph.attention.n_head_kv} * graph.attention.head_dim;
    k_cache_.assign(graph.config.n_layer, std::vector<float>(n_ctx * kv_dim));
    v_cache_.assign(graph.config.n_layer, std::vector<float>(n_ctx * kv_dim));
}

std::vector<float> ReferenceExecutor::cached(std::vector<float> row) const {
    if (kv_type_ == quant::DType::kQ8_0) {
        // q8_0 blocks of 32 never cross heads.
        std::vector<std::byte> blocks(quant::byteSize(kv_type_, row.size()));
        quant::quantize(kv_type_, row, blocks);
        quant::dequantize(kv_type_, blocks, row);
    } else {
        for (float& x : row) x = ref::roundFp16(x);
    }
    return row;
}

void ReferenceExecutor::shiftCache(uint32_t keep, uint32_t drop, uint32_t end) {
    VKI_ASSERT(drop > 0 && keep + drop <= end && end <= n_ctx_);
    const AttentionConfig& a = graph_.attention;
    const size_t kv_dim = size_t{a.n_head_kv} * a.head_dim;
    for (uint32_t l = 0; l < graph_.config.n_layer; ++l) {
        for (uint32_t t = keep + drop; t < end; ++t) {
            const auto from = std::span(k_cache_[l]).subspan(t * kv_dim, kv_dim);
            std::vector<float> k(from.begin(), from.end());
            ref::ropeShift(k, a.n_head_kv, a, -static_cast<int32_t>(drop));
            std::ranges::copy(cached(std::move(k)), k_cache_[l].begin() + (t - drop) * kv_dim);
            std::copy_n(v_cache_[l].begin() + t * kv_dim, kv_dim, v_cache_[l].begin() + (t - drop) * kv_dim);
        }
    }
}

const std::vector<float>& ReferenceExecutor::weight(WeightId id) {
    auto it = weights_.find(id);
    if (it != weights_.end()) return it->second;
    const Weight& w = graph_.weights[id];
    std::vector<float> out;
    out.reserve(size_t{w.rows} * w.cols);
    for (const std::string& part : w.parts) {
        const model::GgufTensorInfo* t = file_.findTensor(part);
        VKI_ASSERT_MSG(t, "graph weight part missing from the file");
        const size_t at = out.size();
        out.resize(at + t->elements);
        quant::dequantize(t->type, file_.tensorData(*t), std::span(out).subspan(at));
    }
    VKI_ASSERT(out.size() == size_t{w.rows} * w.cols);
    return weights_.emplace(id, std::move(out)).first->second;
}

std::vector<float> ReferenceExecutor::forward(std::span<const uint32_t> tokens, std::span<const uint32_t> positions) {
    VKI_ASSERT(!tokens.empty() && tokens.size() == positions.size());
    const uint32_t n = static_cast<uint32_t>(tokens.size());
    const AttentionConfig& a = graph_.attention;
    const uint32_t kv_dim = a.n_head_kv * a.head_dim;
    for (uint32_t p : positions) {
        if (p >= n_ctx_)
            throw Error(ErrorCode::kInvalidArgument, "position " + std::to_string(p) + " is beyond the context");
    }
    std::vector<std::vector<float>> vals(graph_.values.size());
    auto value = [&](ValueId v) -> std::vector<float>& {
        auto& x = vals[v];
        if (x.empty()) x.assign(size_t{n} * graph_.values[v].width, 0.0f);
        return x;
    };
    // Row c of an operand, copied out (operands can be column slices).
    auto row = [&](const Operand& o, uint32_t c) {
        const auto& x = value(o.value);
        const size_t base = size_t{c} * graph_.values[o.value].width + o.offset;
        return std::vector<float>(x.begin() + base, x.begin() + base + o.width);
    };
    auto rows = [&](const Operand& o) {
        std::vector<float> out;
        for (uint32_t c = 0; c < n; ++c) {
            const auto r = row(o, c);
            out.insert(out.end(), r.begin(), r.end());
        }
        return out;
    };
    auto store = [&](uint32_t layer, const Operand& k, const Operand& v, bool rotate) {
        for (uint32_t c = 0; c < n; ++c) {
            auto kr = row(k, c);
            if (rotate) ref::rope(kr, a.n_head_kv, a, positions[c]);
            std::ranges::copy(cached(std::move(kr)), k_cache_[layer].begin() + size_t{positions[c]} * kv_dim);
            std::ranges::copy(cached(row(v, c)), v_cache_[layer].begin() + size_t{positions[c]} * kv_dim);
        }
    };
    auto ropeRows = [&](const Operand& in, ValueId out) {
        auto& y = value(out);
        const uint32_t heads = in.width / a.head_dim;
        for (uint32_t c = 0; c < n; ++c) {
            auto r = row(in, c);
            ref::rope(r, heads, a, positions[c]);
            std::copy(r.begin(), r.end(), y.begin() + size_t{c} * in.width);
        }
    };

    for (const Op& op : graph_.ops) {
        switch (op.kind) {
            case OpKind::kEmbed: {
                const Weight& w = graph_.weights[op.w];
                auto& y = value(op.out);
                const auto& table = weight(op.w);
                for (uint32_t c = 0; c < n; ++c) {
                    if (tokens[c] >= w.rows) {
                        throw Error(ErrorCode::kInvalidArgument,
                                    "token id " + std::to_string(tokens[c]) + " is outside the vocabulary");
                    }
                    std::copy_n(table.begin() + size_t{tokens[c]} * w.cols, w.cols, y.begin() + size_t{c} * w.cols);
                }
                break;
            }
            case OpKind::kRmsNorm: {
                auto& y = value(op.out);
                const auto& g = weight(op.norm);
                for (uint32_t c = 0; c < n; ++c) {
                    const auto r = row(op.in[0], c);
                    ref::rmsNorm(r, g, graph_.eps, std::span(y).subspan(size_t{c} * r.size(), r.size()));
                }
                break;
            }
            case OpKind::kMatMul: {
                const Weight& w = graph_.weights[op.w];
                const auto x = rows(op.in[0]);
                ref::matMul(
                    ref::MatMulF32{
                        .k = w.cols,
                        .rows = w.rows,
                        .w = weight(op.w),
                        .up = op.up != kNone ? std::span<const float>(weight(op.up)) : std::span<const float>(),
                        .norm = op.norm != kNone ? std::span<const float>(weight(op.norm)) : std::span<const float>(),
                        .eps = graph_.eps,
                        .bias = op.bias != kNone ? std::span<const float>(weight(op.bias)) : std::span<const float>(),
                        .accumulate = op.accumulate},
                    x, n, value(op.out));
                break;
            }
            case OpKind::kAdd: {
                auto& y = value(op.out);
                const uint32_t width = op.in[0].width;
                for (uint32_t c = 0; c < n; ++c) {
                    const auto lhs = row(op.in[0], c);
                    const auto rhs = op.bias != kNone ? weight(op.bias) : row(op.in[1], c);
                    for (uint32_t i = 0; i < width; ++i) y[size_t{c} * width + i] = lhs[i] + rhs[i];
                }
                break;
            }
            case OpKind::kSwiGlu: {
                ref::swiGlu(rows(op.in[0]), rows(op.in[1]), value(op.out));
                break;
            }
            case OpKind::kRope:
                ropeRows(op.in[0], op.out);
                break;
            case OpKind::kKvStore:
                store(op.layer, op.in[0], op.in[1], false);
                break;
            case OpKind::kRopeKv:
                store(op.layer, op.in[1], op.in[2], true);
                ropeRows(op.in[0], op.out);
                break;
            case OpKind::kAttention: {
                auto& y = value(op.out);
                const uint32_t width = op.in[0].width;
                for (uint32_t c = 0; c < n; ++c) {
                    ref::attention(a, row(op.in[0], c), k_cache_[op.layer], v_cache_[op.layer], positions[c] + 1,
                                   std::span(y).subspan(size_t{c} * width, width));
                }
                break;
            }
            case OpKind::kArgMax: {
                ids_.clear();
                for (uint32_t c = 0; c < n; ++c) ids_.push_back(ref::argMax(row(op.in[0], c)));
                break;
            }
        }
    }
    return value(graph_.logits);
}

}  // namespace vki::graph
