#include "graph/passes.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "common/error.hpp"

namespace vki::graph {

namespace {

bool reads(const Op& op, ValueId v) {
    if (op.accumulate && op.out == v) return true;
    return std::any_of(op.in.begin(), op.in.end(), [&](const Operand& o) { return o.value == v; });
}

bool sameOperand(const Operand& a, const Operand& b) {
    return a.value == b.value && a.offset == b.offset && a.width == b.width;
}

// Index of the op writing v, or nullopt (graph inputs, removed producers).
std::optional<size_t> producer(const Graph& g, ValueId v) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
        if (g.ops[i].out == v) return i;
    }
    return std::nullopt;
}

std::vector<size_t> readers(const Graph& g, ValueId v) {
    std::vector<size_t> r;
    for (size_t i = 0; i < g.ops.size(); ++i) {
        if (reads(g.ops[i], v)) r.push_back(i);
    }
    return r;
}

bool isPlainMatMul(const Op& op) {
    return op.kind == OpKind::kMatMul && op.up == kNone && !op.accumulate;
}

void removeOps(Graph& g, std::vector<size_t> indices) {
    std::sort(indices.rbegin(), indices.rend());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    for (size_t i : indices) g.ops.erase(g.ops.begin() + static_cast<std::ptrdiff_t>(i));
}

void foldBias(Graph& g) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
        const Op add = g.ops[i];
        if (add.kind != OpKind::kAdd || add.bias == kNone) continue;
        const auto p = producer(g, add.in[0].value);
        if (!p || !isPlainMatMul(g.ops[*p]) || g.ops[*p].bias != kNone) continue;
        if (readers(g, add.in[0].value).size() != 1) continue;
        g.ops[*p].bias = add.bias;
        g.ops[*p].out = add.out;
        removeOps(g, {i});
        --i;
    }
}

// Stacks the matmuls (same input, norm and dtype; all with or all without bias) into
// one; returns the stacked op's output and each original output's column offset.
struct Stacked {
    ValueId value;
    std::vector<uint32_t> offsets;
};
Stacked stackMatMuls(Graph& g, const std::vector<size_t>& ops, const std::string& name) {
    Op merged = g.ops[ops[0]];
    Weight w = g.weights[merged.w];
    w.name = name + ".weight";
    w.parts.clear();
    w.rows = 0;
    Weight bias;
    bias.name = name + ".bias";
    bias.rows = 1;
    std::vector<uint32_t> offsets;
    for (size_t i : ops) {
        const Op& op = g.ops[i];
        offsets.push_back(w.rows);
        const Weight& part = g.weights[op.w];
        w.parts.insert(w.parts.end(), part.parts.begin(), part.parts.end());
        w.rows += part.rows;
        if (op.bias != kNone) {
            const Weight& b = g.weights[op.bias];
            bias.dtype = b.dtype;
            bias.parts.insert(bias.parts.end(), b.parts.begin(), b.parts.end());
            bias.cols += b.cols;
        }
    }
    merged.w = g.addWeight(std::move(w));
    if (merged.bias != kNone) merged.bias = g.addWeight(std::move(bias));
    merged.out = g.addValue(name, g.weights[merged.w].rows);
    g.ops[ops[0]] = merged;
    return {merged.out, offsets};
}

// RoPE(q), RoPE(k), KvStore(k', v) -> RopeKv(q, k, v), with the Q/K/V matmuls stacked
// where their weights share a dtype.
void fuseRopeKv(Graph& g) {
    for (size_t s = 0; s < g.ops.size(); ++s) {
        if (g.ops[s].kind != OpKind::kKvStore) continue;
        const uint32_t layer = g.ops[s].layer;
        const auto rk = producer(g, g.ops[s].in[0].value);
        if (!rk || g.ops[*rk].kind != OpKind::kRope) continue;
        // The Q rope feeds this layer's attention.
        std::optional<size_t> rq;
        for (size_t i = s + 1; i < g.ops.size() && !rq; ++i) {
            if (g.ops[i].kind == OpKind::kAttention && g.ops[i].layer == layer) rq = producer(g, g.ops[i].in[0].value);
        }
        if (!rq || g.ops[*rq].kind != OpKind::kRope) continue;
        Op fused{.kind = OpKind::kRopeKv,
                 .in = {g.ops[*rq].in[0], g.ops[*rk].in[0], g.ops[s].in[1]},
                 .out = g.ops[*rq].out,
                 .layer = layer};
        g.ops[s] = fused;
        removeOps(g, {*rq, *rk});
        // Stack Q, K and V matmuls that share input, norm, dtype and bias-ness.
        const size_t at = static_cast<size_t>(
            std::find_if(g.ops.begin(), g.ops.end(),
                         [&](const Op& op) { return op.kind == OpKind::kRopeKv && op.layer == layer; }) -
            g.ops.begin());
        std::vector<std::pair<size_t, int>> producers;  // (op index, operand index)
        for (int o = 0; o < 3; ++o) {
            const Operand& in = g.ops[at].in[o];
            const auto p = producer(g, in.value);
            if (p && isPlainMatMul(g.ops[*p]) && in.offset == 0 && readers(g, in.value).size() == 1) {
                producers.push_back({*p, o});
            }
        }
        std::vector<bool> used(producers.size(), false);
        std::vector<size_t> dead;
        for (size_t a = 0; a < producers.size(); ++a) {
            if (used[a]) continue;
            const Op& pa = g.ops[producers[a].first];
            std::vector<size_t> group = {a};
            for (size_t b = a + 1; b < producers.size(); ++b) {
                const Op& pb = g.ops[producers[b].first];
                if (!used[b] && sameOperand(pa.in[0], pb.in[0]) && pa.norm == pb.norm &&
                    g.weights[pa.w].dtype == g.weights[pb.w].dtype && g.weights[pa.w].cols == g.weights[pb.w].cols &&
                    (pa.bias == kNone) == (pb.bias == kNone)) {
                    group.push_back(b);
                }
            }
            if (group.size() < 2) continue;
            std::vector<size_t> ops;
            std::string name = "blk." + std::to_string(layer) + ".";
            const char* letters[] = {"q", "k", "v"};
            for (size_t m : group) {
                used[m] = true;
                ops.push_back(producers[m].first);
                name += letters[producers[m].second];
            }
            const Stacked st = stackMatMuls(g, ops, name);
            for (size_t j = 0; j < group.size(); ++j) {
                Operand& in = g.ops[at].in[producers[group[j]].second];
                in.value = st.value;
                in.offset = st.offsets[j];
                if (j > 0) dead.push_back(ops[j]);
            }
        }
        removeOps(g, dead);
        s = at - std::count_if(dead.begin(), dead.end(), [&](size_t d) { return d < at; });
    }
}

void foldNorm(Graph& g) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
        const Op norm = g.ops[i];
        if (norm.kind != OpKind::kRmsNorm) continue;
        const std::vector<size_t> users = readers(g, norm.out);
        const bool all_matmuls = !users.empty() && std::all_of(users.begin(), users.end(), [&](size_t u) {
            const Op& op = g.ops[u];
            return op.kind == OpKind::kMatMul && op.norm == kNone && op.in[0].value == norm.out &&
                   op.in[0].offset == 0 && op.out != norm.out;
        });
        if (!all_matmuls) continue;
        for (size_t u : users) {
            g.ops[u].norm = norm.norm;
            g.ops[u].in[0] = norm.in[0];
        }
        removeOps(g, {i});
        --i;
    }
}

void fuseSwiGlu(Graph& g) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
        const Op act = g.ops[i];
        if (act.kind != OpKind::kSwiGlu) continue;
        const auto pa = producer(g, act.in[0].value), pb = producer(g, act.in[1].value);
        if (!pa || !pb || !isPlainMatMul(g.ops[*pa]) || !isPlainMatMul(g.ops[*pb])) continue;
        const Op &a = g.ops[*pa], &b = g.ops[*pb];
        if (!sameOperand(a.in[0], b.in[0]) || a.norm != b.norm || a.bias != kNone || b.bias != kNone) continue;
        const Weight &wa = g.weights[a.w], &wb = g.weights[b.w];
        if (wa.dtype != wb.dtype || wa.rows != wb.rows || wa.cols != wb.cols) continue;
        if (readers(g, a.out).size() != 1 || readers(g, b.out).size() != 1) continue;
        g.ops[*pa].up = b.w;
        g.ops[*pa].out = act.out;
        removeOps(g, {*pb, i});
        // Both removed ops were at or before i: go on with the op that followed i.
        i -= 2;
    }
}

void replaceUses(Graph& g, size_t from, ValueId old_value, ValueId new_value) {
    for (size_t i = from; i < g.ops.size(); ++i) {
        for (Operand& o : g.ops[i].in) {
            if (o.value == old_value) o.value = new_value;
        }
    }
    if (g.logits == old_value) g.logits = new_value;
}

void fuseResidual(Graph& g) {
    for (size_t i = 0; i < g.ops.size(); ++i) {
        const Op add = g.ops[i];
        if (add.kind != OpKind::kAdd || add.bias != kNone || add.in.size() != 2) continue;
        for (int side = 0; side < 2; ++side) {
            const ValueId h = add.in[side].value, m = add.in[1 - side].value;
            const auto p = producer(g, m);
            if (!p || g.ops[*p].kind != OpKind::kMatMul || g.ops[*p].accumulate) continue;
            if (readers(g, m).size() != 1 || reads(g.ops[*p], h)) continue;
            // h must not be read between the matmul and the add, nor after the add.
            bool clash = false;
            for (size_t j = *p + 1; j < g.ops.size() && !clash; ++j) clash = j != i && reads(g.ops[j], h);
            if (clash) continue;
            g.ops[*p].accumulate = true;
            g.ops[*p].out = h;
            replaceUses(g, i + 1, add.out, h);
            removeOps(g, {i});
            --i;
            break;
        }
    }
}

}  // namespace

void fuse(Graph& graph) {
    foldBias(graph);
    fuseRopeKv(graph);
    foldNorm(graph);
    fuseSwiGlu(graph);
    fuseResidual(graph);
}

MemoryPlan planMemory(const Graph& g, uint32_t n_tokens, uint64_t alignment) {
    VKI_ASSERT(alignment > 0);
    const size_t nv = g.values.size();
    constexpr size_t kNever = SIZE_MAX;
    std::vector<size_t> first(nv, kNever), last(nv, 0);
    auto touch = [&](ValueId v, size_t at) {
        if (first[v] == kNever) first[v] = at;
        first[v] = std::min(first[v], at);
        last[v] = std::max(last[v], at);
    };
    for (size_t i = 0; i < g.ops.size(); ++i) {
        for (const Operand& o : g.ops[i].in) touch(o.value, i);
        if (g.ops[i].out != kNone) touch(g.ops[i].out, i);
    }
    if (g.logits != kNone) touch(g.logits, g.ops.size());  // read back after the last op

    MemoryPlan plan;
    plan.offsets.assign(nv, MemoryPlan::kUnused);
    auto bytes = [&](ValueId v) {
        const uint64_t b = uint64_t{n_tokens} * g.values[v].width * sizeof(float);
        return (b + alignment - 1) / alignment * alignment;
    };
    std::vector<ValueId> order;
    for (ValueId v = 0; v < static_cast<ValueId>(nv); ++v) {
        if (first[v] != kNever) order.push_back(v);
    }
    std::stable_sort(order.begin(), order.end(), [&](ValueId a, ValueId b) { return bytes(a) > bytes(b); });
    std::vector<ValueId> placed;
    for (ValueId v : order) {
        plan.unshared_bytes += bytes(v);
        // Lowest offset that clears every placed value whose lifetime overlaps.
        std::vector<std::pair<uint64_t, uint64_t>> busy;
        for (ValueId u : placed) {
            if (first[u] <= last[v] && first[v] <= last[u])
                busy.push_back({plan.offsets[u], plan.offsets[u] + bytes(u)});
        }
        std::sort(busy.begin(), busy.end());
        uint64_t offset = 0;
        for (const auto& [lo, hi] : busy) {
            if (offset + bytes(v) <= lo) break;
            offset = std::max(offset, hi);
        }
        plan.offsets[v] = offset;
        plan.bytes = std::max(plan.bytes, offset + bytes(v));
        placed.push_back(v);
    }
    return plan;
}

}  // namespace vki::graph
