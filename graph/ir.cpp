#include "graph/ir.hpp"

#include <map>

namespace vki::graph {

const char* opName(OpKind kind) {
    switch (kind) {
        case OpKind::kEmbed:
            return "embed";
        case OpKind::kRmsNorm:
            return "rms_norm";
        case OpKind::kMatMul:
            return "matmul";
        case OpKind::kAdd:
            return "add";
        case OpKind::kSwiGlu:
            return "swiglu";
        case OpKind::kRope:
            return "rope";
        case OpKind::kKvStore:
            return "kv_store";
        case OpKind::kRopeKv:
            return "rope_kv";
        case OpKind::kAttention:
            return "attention";
        case OpKind::kArgMax:
            return "argmax";
    }
    return "?";
}

ValueId Graph::addValue(std::string name, uint32_t width) {
    values.push_back({std::move(name), width});
    return static_cast<ValueId>(values.size() - 1);
}

WeightId Graph::addWeight(Weight weight) {
    weights.push_back(std::move(weight));
    return static_cast<WeightId>(weights.size() - 1);
}

std::string Graph::summary() const {
    std::map<std::string, int> counts;
    for (const Op& op : ops) ++counts[opName(op.kind)];
    std::string s = std::to_string(ops.size()) + " ops (";
    bool first = true;
    for (const auto& [name, count] : counts) {
        s += (first ? "" : ", ") + std::to_string(count) + " " + name;
        first = false;
    }
    return s + ")";
}

std::string Graph::dump() const {
    std::string s;
    auto operand = [&](const Operand& o) {
        std::string t = values[o.value].name;
        if (o.offset != 0 || o.width != values[o.value].width) {
            t += "[" + std::to_string(o.offset) + ":" + std::to_string(o.offset + o.width) + "]";
        }
        return t;
    };
    for (const Op& op : ops) {
        s += opName(op.kind);
        if (op.out != kNone) s += " -> " + values[op.out].name + (op.accumulate ? " (+=)" : "");
        s += " :";
        for (const Operand& o : op.in) s += " " + operand(o);
        if (op.w != kNone) s += " w=" + weights[op.w].name;
        if (op.up != kNone) s += " up=" + weights[op.up].name;
        if (op.norm != kNone) s += " norm=" + weights[op.norm].name;
        if (op.bias != kNone) s += " bias=" + weights[op.bias].name;
        if (op.kind == OpKind::kKvStore || op.kind == OpKind::kRopeKv || op.kind == OpKind::kAttention) {
            s += " layer=" + std::to_string(op.layer);
        }
        s += "\n";
    }
    return s;
}

}  // namespace vki::graph
