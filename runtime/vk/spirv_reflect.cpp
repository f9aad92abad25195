#include "runtime/vk/spirv_reflect.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "common/error.hpp"

namespace vki::vk {

namespace {

// Opcodes, decorations and storage classes from the SPIR-V specification.
enum : uint32_t {
    kOpExecutionMode = 16,
    kOpTypeBool = 20,
    kOpTypeInt = 21,
    kOpTypeFloat = 22,
    kOpTypeVector = 23,
    kOpTypeMatrix = 24,
    kOpTypeArray = 28,
    kOpTypeStruct = 30,
    kOpTypePointer = 32,
    kOpConstant = 43,
    kOpConstantComposite = 44,
    kOpSpecConstantTrue = 48,
    kOpSpecConstantFalse = 49,
    kOpSpecConstant = 50,
    kOpSpecConstantComposite = 51,
    kOpVariable = 59,
    kOpDecorate = 71,
    kOpMemberDecorate = 72,
    kOpExecutionModeId = 331,
};
enum : uint32_t {
    kDecSpecId = 1,
    kDecBlock = 2,
    kDecBufferBlock = 3,
    kDecArrayStride = 6,
    kDecBuiltIn = 11,
    kDecBinding = 33,
    kDecDescriptorSet = 34,
    kDecOffset = 35,
};
enum : uint32_t { kExecLocalSize = 17, kExecLocalSizeId = 38, kBuiltInWorkgroupSize = 25 };
enum : uint32_t { kClassUniform = 2, kClassPushConstant = 9, kClassStorageBuffer = 12 };
constexpr uint32_t kMagic = 0x07230203;

[[noreturn]] void fail(const std::string& what) {
    throw Error(ErrorCode::kInternal, "SPIR-V reflection: " + what);
}

struct Module {
    struct Inst {
        uint32_t opcode;
        std::span<const uint32_t> ops;  // operands after the opcode word
    };
    std::unordered_map<uint32_t, Inst> defs;  // result id -> defining instruction (types, constants)
    std::unordered_map<uint32_t, std::unordered_map<uint32_t, uint32_t>> decorations;  // id -> decoration -> value
    std::unordered_map<uint32_t, std::unordered_map<uint32_t, uint32_t>> member_offsets;
    std::vector<Inst> variables;

    bool has(uint32_t id, uint32_t dec) const {
        auto it = decorations.find(id);
        return it != decorations.end() && it->second.count(dec);
    }
    uint32_t get(uint32_t id, uint32_t dec) const {
        auto it = decorations.find(id);
        if (it == decorations.end() || !it->second.count(dec)) fail("missing decoration " + std::to_string(dec));
        return it->second.at(dec);
    }
    const Inst& def(uint32_t id) const {
        auto it = defs.find(id);
        if (it == defs.end()) fail("undefined id %" + std::to_string(id));
        return it->second;
    }

    uint32_t constantValue(uint32_t id) const {
        const Inst& c = def(id);
        if (c.opcode == kOpConstant || c.opcode == kOpSpecConstant) return c.ops.size() > 2 ? c.ops[2] : 0;
        if (c.opcode == kOpSpecConstantTrue) return 1;
        if (c.opcode == kOpSpecConstantFalse) return 0;
        fail("id %" + std::to_string(id) + " is not a scalar constant");
    }

    uint32_t typeSize(uint32_t type_id) const {
        const Inst& t = def(type_id);
        switch (t.opcode) {
            case kOpTypeBool:
                return 4;
            case kOpTypeInt:
            case kOpTypeFloat:
                return t.ops[1] / 8;
            case kOpTypeVector:
            case kOpTypeMatrix:
                return typeSize(t.ops[1]) * t.ops[2];
            case kOpTypeArray: {
                const uint32_t count = constantValue(t.ops[2]);
                const uint32_t stride =
                    has(type_id, kDecArrayStride) ? get(type_id, kDecArrayStride) : typeSize(t.ops[1]);
                return count * stride;
            }
            case kOpTypeStruct: {
                uint32_t size = 0;
                auto offsets = member_offsets.find(type_id);
                for (size_t m = 1; m < t.ops.size(); ++m) {
                    const uint32_t member = static_cast<uint32_t>(m - 1);
                    if (offsets == member_offsets.end() || !offsets->second.count(member))
                        fail("struct member without Offset");
                    size = std::max(size, offsets->second.at(member) + typeSize(t.ops[m]));
                }
                return size;
            }
            default:
                fail("unsupported type (opcode " + std::to_string(t.opcode) + ") in an interface block");
        }
    }
};

}  // namespace

SpirvInfo reflectSpirv(std::span<const uint32_t> words) {
    if (words.size() < 5 || words[0] != kMagic) fail("not a SPIR-V module");
    Module m;
    std::vector<Module::Inst> exec_modes;
    for (size_t pos = 5; pos < words.size();) {
        const uint32_t count = words[pos] >> 16, opcode = words[pos] & 0xFFFF;
        if (count == 0 || pos + count > words.size()) fail("truncated instruction at word " + std::to_string(pos));
        const Module::Inst inst{opcode, words.subspan(pos + 1, count - 1)};
        pos += count;
        const auto& ops = inst.ops;
        switch (opcode) {
            case kOpExecutionMode:
            case kOpExecutionModeId:
                exec_modes.push_back(inst);
                break;
            case kOpDecorate:
                if (ops.size() >= 2) m.decorations[ops[0]][ops[1]] = ops.size() >= 3 ? ops[2] : 1;
                break;
            case kOpMemberDecorate:
                if (ops.size() >= 4 && ops[2] == kDecOffset) m.member_offsets[ops[0]][ops[1]] = ops[3];
                break;
            case kOpTypeBool:
            case kOpTypeInt:
            case kOpTypeFloat:
            case kOpTypeVector:
            case kOpTypeMatrix:
            case kOpTypeArray:
            case kOpTypeStruct:
            case kOpTypePointer:
                if (ops.empty()) fail("type without result id");
                m.defs[ops[0]] = inst;
                break;
            case kOpConstant:
            case kOpConstantComposite:
            case kOpSpecConstantTrue:
            case kOpSpecConstantFalse:
            case kOpSpecConstant:
            case kOpSpecConstantComposite:
                if (ops.size() < 2) fail("constant without result id");
                m.defs[ops[1]] = inst;
                break;
            case kOpVariable:
                if (ops.size() < 3) fail("variable without storage class");
                m.variables.push_back(inst);
                break;
            default:
                break;
        }
    }

    SpirvInfo info;
    for (const auto& e : exec_modes) {
        if (e.ops.size() < 5) continue;
        if (e.ops[1] == kExecLocalSize) {
            for (int i = 0; i < 3; ++i) info.local_size[i] = e.ops[2 + i];
        } else if (e.ops[1] == kExecLocalSizeId) {
            for (int i = 0; i < 3; ++i) {
                info.local_size[i] = m.constantValue(e.ops[2 + i]);
                if (m.has(e.ops[2 + i], kDecSpecId)) info.local_size_spec_ids[i] = m.get(e.ops[2 + i], kDecSpecId);
            }
        }
    }
    // glslang expresses local_size_*_id as a WorkgroupSize built-in composite, which
    // overrides the execution mode.
    for (const auto& [id, decs] : m.decorations) {
        auto b = decs.find(kDecBuiltIn);
        if (b == decs.end() || b->second != kBuiltInWorkgroupSize) continue;
        const auto& composite = m.def(id);
        if (composite.opcode != kOpSpecConstantComposite && composite.opcode != kOpConstantComposite) continue;
        if (composite.ops.size() != 5) fail("WorkgroupSize is not a 3-component composite");
        for (int i = 0; i < 3; ++i) {
            const uint32_t c = composite.ops[2 + i];
            info.local_size[i] = m.constantValue(c);
            info.local_size_spec_ids[i] = m.has(c, kDecSpecId) ? m.get(c, kDecSpecId) : SpirvInfo::kNoSpecId;
        }
    }

    for (const auto& [id, decs] : m.decorations) {
        auto s = decs.find(kDecSpecId);
        if (s == decs.end()) continue;
        info.spec_constants.push_back({s->second, m.constantValue(id)});
    }
    // glslang gives local_size_x_id its own constant beside a `constant_id` of the
    // same id: one value sets both, so list each id once.
    std::sort(info.spec_constants.begin(), info.spec_constants.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    info.spec_constants.erase(std::unique(info.spec_constants.begin(), info.spec_constants.end(),
                                          [](const auto& a, const auto& b) { return a.id == b.id; }),
                              info.spec_constants.end());

    for (const auto& v : m.variables) {
        const uint32_t pointer_type = v.ops[0], id = v.ops[1], storage = v.ops[2];
        if (storage != kClassUniform && storage != kClassPushConstant && storage != kClassStorageBuffer) continue;
        const auto& pointer = m.def(pointer_type);
        const uint32_t pointee = pointer.ops[2];
        if (storage == kClassPushConstant) {
            info.push_constant_size = m.typeSize(pointee);
            continue;
        }
        if (storage == kClassUniform && !m.has(pointee, kDecBufferBlock))
            fail("uniform buffers are not used by vkinfer kernels; declare a storage buffer");
        if (m.has(id, kDecDescriptorSet) && m.get(id, kDecDescriptorSet) != 0)
            fail("vkinfer kernels use descriptor set 0 only");
        info.storage_bindings.push_back(m.get(id, kDecBinding));
    }
    std::sort(info.storage_bindings.begin(), info.storage_bindings.end());
    return info;
}

}  // namespace vki::vk
