#include "model/chat/jinja_interpreter.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::model::jinja {
namespace {

// {% break %} and {% continue %} unwind to the innermost loop, through macro calls too, as
// the oracle's control-flow exceptions do.
struct BreakSignal {
    uint32_t offset;
};
struct ContinueSignal {
    uint32_t offset;
};

// Counts nesting on the way in and out of eval/exec.
class DepthScope {
public:
    explicit DepthScope(int& depth) : depth_(depth) { ++depth_; }
    ~DepthScope() { --depth_; }
    DepthScope(const DepthScope&) = delete;
    DepthScope& operator=(const DepthScope&) = delete;

private:
    int& depth_;
};

bool isNumericLike(const Value& v) {
    return v.isNumber() || v.is(Value::Type::kBool);
}

// Python-style slicing as @huggingface/jinja's slice() computes it (a negative step counts a
// stop of -1 as "before the start", unlike Python).
std::vector<size_t> sliceIndices(size_t length, std::optional<double> start, std::optional<double> stop, double step) {
    const double len = static_cast<double>(length);
    const double direction = step > 0 ? 1 : (step < 0 ? -1 : 0);
    double a = 0, b = 0;
    if (direction >= 0) {
        a = start.value_or(0);
        a = a < 0 ? std::max(len + a, 0.0) : std::min(a, len);
        b = stop.value_or(len);
        b = b < 0 ? std::max(len + b, 0.0) : std::min(b, len);
    } else {
        a = start.value_or(len - 1);
        a = a < 0 ? std::max(len + a, -1.0) : std::min(a, len - 1);
        b = stop.value_or(-1);
        b = b < -1 ? std::max(len + b, -1.0) : std::min(b, len - 1);
    }
    std::vector<size_t> out;
    if (direction == 0) return out;
    for (double i = a; direction * i < direction * b; i += step) out.push_back(static_cast<size_t>(i));
    return out;
}

std::string describeCallee(const Node& callee) {
    if (callee.kind == NodeKind::kIdentifier) return "'" + callee.text + "'";
    if (callee.kind == NodeKind::kMember && !callee.flag && callee.kids[1]->kind == NodeKind::kIdentifier) {
        return "method '" + callee.kids[1]->text + "'";
    }
    return "the expression";
}

}  // namespace

const Value* Scope::find(std::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_) {
        for (const auto& [k, v] : s->vars_) {
            if (k == name) return &v;
        }
    }
    return nullptr;
}

bool Scope::hasOwn(std::string_view name) const {
    return std::any_of(vars_.begin(), vars_.end(), [&](const auto& kv) { return kv.first == name; });
}

void Scope::set(std::string_view name, Value value) {
    for (auto& [k, v] : vars_) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars_.emplace_back(std::string(name), std::move(value));
}

Interpreter::~Interpreter() {
    // Namespaces can hold themselves (`set ns.self = ns`); emptying every one breaks the
    // cycles. The registry keeps them alive meanwhile, so no destructor chain runs deep.
    for (const auto& ns : namespaces_) ns->clear();
}

std::string Interpreter::render(const NodeList& program, Scope& globals) {
    std::string out;
    try {
        execBlock(program, globals, out);
    } catch (const BreakSignal& s) {
        throw Error(ErrorCode::kBadFile, "chat template, " + map_.describe(s.offset) + ": {% break %} outside a loop");
    } catch (const ContinueSignal& s) {
        throw Error(ErrorCode::kBadFile,
                    "chat template, " + map_.describe(s.offset) + ": {% continue %} outside a loop");
    }
    return out;
}

void Interpreter::fail(const Node& node, ErrorCode code, const std::string& message) const {
    throw Error(code, "chat template, " + map_.describe(node.offset) + ": " + message);
}

void Interpreter::charge(uint64_t steps) {
    steps_ += steps;
    if (steps_ > limits_.max_steps) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        "rendering exceeded its budget of " + std::to_string(limits_.max_steps) +
                            " evaluation steps (ChatTemplateOptions::max_steps); the template loops too long");
    }
}

void Interpreter::checkStringSize(size_t bytes) const {
    if (bytes > limits_.max_output_bytes) {
        throw EvalError(ErrorCode::kInvalidArgument, "a string grew past " + std::to_string(limits_.max_output_bytes) +
                                                         " bytes (ChatTemplateOptions::max_output_bytes)");
    }
}

Value Interpreter::makeString(std::string s) {
    checkStringSize(s.size());
    charge(s.size() / 64);
    return Value::string(std::move(s));
}

Value Interpreter::makeNamespace(Dict entries) {
    namespaces_.push_back(std::make_shared<Dict>(std::move(entries)));
    return Value::ns(namespaces_.back());
}

void Interpreter::append(std::string& out, std::string_view text) {
    if (out.size() + text.size() > limits_.max_output_bytes) {
        throw EvalError(ErrorCode::kInvalidArgument, "rendered text grew past " +
                                                         std::to_string(limits_.max_output_bytes) +
                                                         " bytes (ChatTemplateOptions::max_output_bytes)");
    }
    out.append(text);
}

void Interpreter::execBlock(const NodeList& nodes, Scope& scope, std::string& out) {
    for (const auto& n : nodes) exec(*n, scope, out);
}

std::string Interpreter::renderBlock(const NodeList& nodes, Scope& scope) {
    std::string out;
    execBlock(nodes, scope, out);
    return out;
}

void Interpreter::exec(const Node& node, Scope& scope, std::string& out) {
    DepthScope depth(depth_);
    try {
        if (depth_ > kMaxEvalDepth) {
            throw EvalError(ErrorCode::kUnsupported, "rendering nests deeper than " + std::to_string(kMaxEvalDepth) +
                                                         " levels (a macro that recurses without end?)");
        }
        charge(1);
        switch (node.kind) {
            case NodeKind::kText:
                append(out, node.text);
                return;
            case NodeKind::kComment:
                return;
            case NodeKind::kIf: {
                const bool test = truthy(eval(*node.kids[0], scope));
                execBlock(test ? node.body : node.alternate, scope, out);
                return;
            }
            case NodeKind::kFor:
                execFor(node, scope, out);
                return;
            case NodeKind::kBreak:
                throw BreakSignal{node.offset};
            case NodeKind::kContinue:
                throw ContinueSignal{node.offset};
            case NodeKind::kSet:
                execSet(node, scope);
                return;
            case NodeKind::kMacro: {
                const Node* macro = &node;
                scope.set(node.text, Value::function(node.text, [macro](Interpreter& in, CallArgs& args, Scope& s) {
                              return in.callMacro(*macro, args, s);
                          }));
                return;
            }
            case NodeKind::kFilterBlock: {
                const Value body = makeString(renderBlock(node.body, scope));
                const Value v = applyFilter(body, *node.kids[0], scope);
                if (!v.isNone() && !v.isUndefined()) append(out, displayString(v));
                return;
            }
            default: {
                const Value v = eval(node, scope);
                if (!v.isNone() && !v.isUndefined()) append(out, displayString(v));
                return;
            }
        }
    } catch (const EvalError& e) {
        if (e.raisedByTemplate()) fail(node, e.code(), "template error: " + std::string(e.what()));
        fail(node, e.code(), e.what());
    }
}

void Interpreter::assignLoopTarget(const Node& target, const Value& item, Scope& scope) {
    if (target.kind == NodeKind::kIdentifier) {
        scope.set(target.text, item);
        return;
    }
    for (size_t j = 0; j < target.kids.size(); ++j) {
        if (target.kids[j]->kind != NodeKind::kIdentifier) {
            throw EvalError(ErrorCode::kInvalidArgument, "cannot unpack into something that is not a name");
        }
        scope.set(target.kids[j]->text, item.items()[j]);
    }
}

void Interpreter::execFor(const Node& node, Scope& scope, std::string& out) {
    Scope loop_scope(&scope);
    const Node& target = *node.kids[0];
    const Node& source = *node.kids[1];
    const Node* condition = nullptr;
    Value iterable;
    if (source.kind == NodeKind::kSelect) {
        iterable = eval(*source.kids[0], loop_scope);
        condition = source.kids[1].get();
    } else {
        iterable = eval(source, loop_scope);
    }
    std::vector<Value> keys;
    const std::vector<Value>* all = nullptr;
    if (iterable.isList()) {
        all = &iterable.items();
    } else if (iterable.isDict()) {
        for (const auto& e : iterable.entries().entries()) keys.push_back(Value::string(e.first));
        all = &keys;
    } else {
        throw EvalError(ErrorCode::kInvalidArgument,
                        std::string("cannot loop over ") + typeName(iterable) + "; expected a list or a dict");
    }

    // The oracle collects the items that pass the loop's `if` before the first iteration,
    // checking tuple unpacking for every item on the way.
    std::vector<const Value*> items;
    for (const Value& item : *all) {
        charge(1);
        if (target.kind == NodeKind::kTuple) {
            if (!item.is(Value::Type::kList)) {
                throw EvalError(ErrorCode::kInvalidArgument,
                                std::string("cannot unpack ") + typeName(item) + " into the loop variables");
            }
            if (item.items().size() != target.kids.size()) {
                throw EvalError(ErrorCode::kInvalidArgument,
                                std::string("too ") + (target.kids.size() > item.items().size() ? "few" : "many") +
                                    " items to unpack into the loop variables");
            }
        }
        if (condition != nullptr) {
            Scope test_scope(&loop_scope);
            assignLoopTarget(target, item, test_scope);
            if (!truthy(eval(*condition, test_scope))) continue;
        }
        items.push_back(&item);
    }

    bool iterated = false;
    const double n = static_cast<double>(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        const double index = static_cast<double>(i);
        Dict loop;
        loop.reserve(9);
        loop.appendUnique("index", Value::integer(index + 1));
        loop.appendUnique("index0", Value::integer(index));
        loop.appendUnique("revindex", Value::integer(n - index));
        loop.appendUnique("revindex0", Value::integer(n - index - 1));
        loop.appendUnique("first", Value::boolean(i == 0));
        loop.appendUnique("last", Value::boolean(i + 1 == items.size()));
        loop.appendUnique("length", Value::integer(n));
        loop.appendUnique("previtem", i > 0 ? *items[i - 1] : Value());
        loop.appendUnique("nextitem", i + 1 < items.size() ? *items[i + 1] : Value());
        loop_scope.set("loop", Value::dict(std::move(loop)));
        assignLoopTarget(target, *items[i], loop_scope);

        // An iteration cut short by break or continue contributes no output, as in the oracle.
        const size_t mark = out.size();
        try {
            execBlock(node.body, loop_scope, out);
        } catch (const ContinueSignal&) {
            out.resize(mark);
            continue;
        } catch (const BreakSignal&) {
            out.resize(mark);
            break;
        }
        iterated = true;
    }
    if (!iterated) execBlock(node.alternate, loop_scope, out);
}

void Interpreter::execSet(const Node& node, Scope& scope) {
    const Node& target = *node.kids[0];
    const Value rhs = node.kids[1] ? eval(*node.kids[1], scope, true) : makeString(renderBlock(node.body, scope));
    switch (target.kind) {
        case NodeKind::kIdentifier:
            scope.set(target.text, rhs);
            return;
        case NodeKind::kTuple: {
            if (!rhs.isList()) {
                throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot unpack ") + typeName(rhs));
            }
            if (rhs.items().size() != target.kids.size()) {
                throw EvalError(ErrorCode::kInvalidArgument,
                                std::string("too ") + (target.kids.size() > rhs.items().size() ? "few" : "many") +
                                    " items to unpack in set");
            }
            for (size_t i = 0; i < target.kids.size(); ++i) {
                if (target.kids[i]->kind != NodeKind::kIdentifier) {
                    throw EvalError(ErrorCode::kInvalidArgument, "cannot unpack into something that is not a name");
                }
                scope.set(target.kids[i]->text, rhs.items()[i]);
            }
            return;
        }
        case NodeKind::kMember: {
            const Value object = eval(*target.kids[0], scope);
            if (!object.is(Value::Type::kNamespace)) {
                throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot assign an attribute of ") +
                                                                 typeName(object) +
                                                                 "; only namespace() objects take assignments");
            }
            if (target.kids[1]->kind != NodeKind::kIdentifier) {
                throw EvalError(ErrorCode::kInvalidArgument, "a namespace attribute to assign must be a name");
            }
            object.namespaceEntries().set(target.kids[1]->text, rhs);
            return;
        }
        default:
            throw EvalError(ErrorCode::kInvalidArgument, "cannot assign to this expression");
    }
}

Value Interpreter::eval(const Node& node, Scope& scope, bool allow_js_undefined) {
    DepthScope depth(depth_);
    try {
        if (depth_ > kMaxEvalDepth) {
            throw EvalError(ErrorCode::kUnsupported, "rendering nests deeper than " + std::to_string(kMaxEvalDepth) +
                                                         " levels (a macro that recurses without end?)");
        }
        charge(1);
        Value v = evalNode(node, scope, allow_js_undefined);
        if (v.isJsUndefined() && !allow_js_undefined) {
            throw EvalError(ErrorCode::kInvalidArgument,
                            "'first' or 'last' of an empty list gives JavaScript's undefined, which can only be "
                            "assigned with set");
        }
        return v;
    } catch (const EvalError& e) {
        if (e.raisedByTemplate()) fail(node, e.code(), "template error: " + std::string(e.what()));
        fail(node, e.code(), e.what());
    }
}

Value Interpreter::evalNode(const Node& node, Scope& scope, bool allow_js_undefined) {
    switch (node.kind) {
        case NodeKind::kString:
            return Value::string(node.text);
        case NodeKind::kInt:
            return Value::integer(node.number);
        case NodeKind::kFloat:
            return Value::floating(node.number);
        case NodeKind::kList:
        case NodeKind::kTuple: {
            std::vector<Value> items;
            items.reserve(node.kids.size());
            for (const auto& k : node.kids) items.push_back(eval(*k, scope));
            return Value::list(std::move(items), node.kind == NodeKind::kTuple);
        }
        case NodeKind::kDict: {
            Dict entries;
            for (size_t i = 0; i + 1 < node.kids.size(); i += 2) {
                const Value key = eval(*node.kids[i], scope);
                if (!key.isString()) {
                    throw EvalError(ErrorCode::kInvalidArgument,
                                    std::string("dict keys must be strings, not ") + typeName(key));
                }
                entries.set(key.str(), eval(*node.kids[i + 1], scope));
            }
            return Value::dict(std::move(entries));
        }
        case NodeKind::kIdentifier: {
            const Value* v = scope.find(node.text);
            return v != nullptr && !v->isJsUndefined() ? *v : Value();
        }
        case NodeKind::kCall:
            return evalCall(node, scope);
        case NodeKind::kMember:
            return evalMember(node, scope);
        case NodeKind::kUnary:
            return evalUnary(node, scope);
        case NodeKind::kBinary:
            return evalBinary(node, scope, allow_js_undefined);
        case NodeKind::kFilter: {
            // `safe` and `default(...)` hand JavaScript's undefined on unchanged in the oracle.
            const Node& filter = *node.kids[1];
            const bool passes = (filter.kind == NodeKind::kIdentifier && filter.text == "safe") ||
                                (filter.kind == NodeKind::kCall && filter.kids[0]->text == "default");
            const Value operand = eval(*node.kids[0], scope, passes && allow_js_undefined);
            return applyFilter(operand, filter, scope);
        }
        case NodeKind::kTest: {
            const Value operand = eval(*node.kids[0], scope, true);
            if (operand.isJsUndefined()) {
                // The oracle's instanceof-based tests answer false for JavaScript's undefined;
                // the others read a property of it and fail.
                static constexpr std::string_view kInstanceTests[] = {"callable", "number", "integer", "mapping",
                                                                      "sequence"};
                if (std::find(std::begin(kInstanceTests), std::end(kInstanceTests), node.text) ==
                    std::end(kInstanceTests)) {
                    applyTest(node.text, Value(), nullptr);  // an unknown test reports itself first
                    throw EvalError(ErrorCode::kInvalidArgument, "the test '" + node.text +
                                                                     "' cannot take the undefined result of 'first' or "
                                                                     "'last' on an empty list");
                }
                return Value::boolean(node.flag);
            }
            const bool result = applyTest(node.text, operand, nullptr);
            return Value::boolean(node.flag ? !result : result);
        }
        case NodeKind::kSelect:
            if (!truthy(eval(*node.kids[1], scope))) return Value();
            return eval(*node.kids[0], scope, allow_js_undefined);
        case NodeKind::kTernary:
            return eval(*node.kids[truthy(eval(*node.kids[0], scope)) ? 1 : 2], scope, allow_js_undefined);
        default:
            break;
    }
    throw EvalError(ErrorCode::kBadFile, "this kind of expression cannot stand here");
}

Value Interpreter::evalUnary(const Node& node, Scope& scope) {
    const Value v = eval(*node.kids[0], scope);
    if (node.text == "not") return Value::boolean(!truthy(v));
    if (!isNumericLike(v)) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        "unary '" + node.text + "' needs a number, not " + std::string(typeName(v)));
    }
    const double x = node.text == "-" ? -v.asNumber() : v.asNumber();
    return v.is(Value::Type::kFloat) ? Value::floating(x) : Value::integer(x);
}

Value Interpreter::evalBinary(const Node& node, Scope& scope, bool allow_js_undefined) {
    const std::string& op = node.text;
    const Value left = eval(*node.kids[0], scope);
    if (op == "and") return truthy(left) ? eval(*node.kids[1], scope, allow_js_undefined) : left;
    if (op == "or") return truthy(left) ? left : eval(*node.kids[1], scope, allow_js_undefined);
    const Value right = eval(*node.kids[1], scope);
    if (op == "==") return Value::boolean(looseEquals(left, right));
    if (op == "!=") return Value::boolean(!looseEquals(left, right));
    const bool membership = op == "in" || op == "not in";
    if (left.isUndefined() || right.isUndefined()) {
        // `x in undefined` is false (and `not in` true); anything else undefined is an error.
        if (right.isUndefined() && membership) return Value::boolean(op == "not in");
        throw EvalError(ErrorCode::kInvalidArgument, "cannot apply '" + op + "' to an undefined value");
    }
    if (left.isNone() || right.isNone()) {
        throw EvalError(ErrorCode::kInvalidArgument, "cannot apply '" + op + "' to none");
    }
    if (op == "~") return makeString(jsString(left) + jsString(right));
    if (op == "**" && isNumericLike(left) && isNumericLike(right)) return evalArithmetic(op, left, right);
    if (left.isNumber() && right.isNumber()) return evalArithmetic(op, left, right);
    if (left.isList() && right.isList()) {
        if (op == "+") {
            std::vector<Value> items = left.items();
            items.insert(items.end(), right.items().begin(), right.items().end());
            charge(items.size() / 64);
            return Value::list(std::move(items));
        }
    } else if (right.isList() && membership) {
        const auto& items = right.items();
        const bool found =
            std::any_of(items.begin(), items.end(), [&](const Value& x) { return strictEquals(x, left); });
        return Value::boolean(found == (op == "in"));
    }
    if ((left.isString() || right.isString()) && op == "+") return makeString(jsString(left) + jsString(right));
    if (left.isString() && right.isString() && membership) {
        return Value::boolean((right.str().find(left.str()) != std::string::npos) == (op == "in"));
    }
    if (left.isString() && right.isDict() && membership) {
        return Value::boolean((right.entries().find(left.str()) != nullptr) == (op == "in"));
    }
    throw EvalError(ErrorCode::kInvalidArgument,
                    "operator '" + op + "' does not apply to " + typeName(left) + " and " + typeName(right));
}

Value Interpreter::evalArithmetic(const std::string& op, const Value& left, const Value& right) {
    const double a = left.asNumber(), b = right.asNumber();
    const bool is_float = left.is(Value::Type::kFloat) || right.is(Value::Type::kFloat);
    const auto result = [&](double x) { return is_float ? Value::floating(x) : Value::integer(x); };
    if (op == "**") {
        if (a == 0 && b < 0) throw EvalError(ErrorCode::kInvalidArgument, "0.0 cannot be raised to a negative power");
        // JavaScript: 1 ** Infinity is NaN (C's pow says 1).
        const double x = (std::isinf(b) && std::fabs(a) == 1) ? std::nan("") : std::pow(a, b);
        if (!std::isfinite(x)) {
            throw EvalError(ErrorCode::kInvalidArgument, "exponentiation result is not a finite real number");
        }
        return is_float || b < 0 ? Value::floating(x) : Value::integer(x);
    }
    if (op == "+") return result(a + b);
    if (op == "-") return result(a - b);
    if (op == "*") return result(a * b);
    if (op == "/") return Value::floating(a / b);
    if (op == "//") return result(std::floor(a / b));
    if (op == "%") return result(std::fmod(a, b));  // JavaScript's %: the sign of the dividend
    if (op == "<") return Value::boolean(a < b);
    if (op == ">") return Value::boolean(a > b);
    if (op == "<=") return Value::boolean(a <= b);
    if (op == ">=") return Value::boolean(a >= b);
    throw EvalError(ErrorCode::kInvalidArgument, "operator '" + op + "' does not apply to two numbers");
}

Value Interpreter::evalSlice(const Value& object, const Node& slice, Scope& scope) {
    if (!object.isList() && !object.isString()) {
        throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot slice ") + typeName(object));
    }
    std::optional<double> parts[3];
    for (int i = 0; i < 3; ++i) {
        if (!slice.kids[static_cast<size_t>(i)]) continue;
        const Value v = eval(*slice.kids[static_cast<size_t>(i)], scope);
        if (v.isUndefined()) continue;
        if (!v.is(Value::Type::kInt)) {
            throw EvalError(ErrorCode::kInvalidArgument,
                            std::string("slice bounds must be integers, not ") + typeName(v));
        }
        parts[i] = v.asNumber();
    }
    const double step = parts[2].value_or(1);
    if (object.isList()) {
        std::vector<Value> out;
        for (size_t i : sliceIndices(object.items().size(), parts[0], parts[1], step)) {
            out.push_back(object.items()[i]);
        }
        return Value::list(std::move(out));
    }
    const std::u32string cps = toCodePoints(object.str());
    std::u32string out;
    for (size_t i : sliceIndices(cps.size(), parts[0], parts[1], step)) out += cps[i];
    return makeString(fromCodePoints(out));
}

Value Interpreter::evalMember(const Node& node, Scope& scope) {
    const Value object = eval(*node.kids[0], scope);
    const Node& prop_node = *node.kids[1];
    Value property;
    if (node.flag) {
        if (prop_node.kind == NodeKind::kSlice) return evalSlice(object, prop_node, scope);
        property = eval(prop_node, scope);
    } else if (prop_node.kind == NodeKind::kInt) {
        property = Value::integer(prop_node.number);
    } else {
        property = Value::string(prop_node.text);
    }

    if (object.isDict() || object.is(Value::Type::kNamespace)) {
        if (!property.isString()) {
            throw EvalError(ErrorCode::kInvalidArgument,
                            std::string("a dict is indexed by strings, not by ") + typeName(property));
        }
        if (const Value* v = object.entries().find(property.str())) return v->isJsUndefined() ? Value() : *v;
        if (object.isDict()) return builtinMember(object, property.str()).value_or(Value());
        return Value();
    }
    if (object.isList() || object.isString()) {
        if (property.is(Value::Type::kInt)) {
            if (object.isString()) {
                const auto ch = jsCharAt(object.str(), property.asNumber());
                return ch ? Value::string(*ch) : Value();
            }
            const auto& items = object.items();
            double k = std::trunc(property.asNumber());
            if (std::isnan(k)) k = 0;
            if (k < 0) k += static_cast<double>(items.size());
            if (k < 0 || k >= static_cast<double>(items.size())) return Value();
            return items[static_cast<size_t>(k)];
        }
        if (property.isString()) return builtinMember(object, property.str()).value_or(Value());
        throw EvalError(ErrorCode::kInvalidArgument,
                        std::string("a list or string is indexed by integers, not by ") + typeName(property));
    }
    if (!property.isString()) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        std::string("cannot index ") + typeName(object) + " with " + typeName(property));
    }
    return Value();
}

CallArgs Interpreter::evalArguments(const Node& call, size_t first, Scope& scope) {
    CallArgs args;
    // Like Python, every positional argument is evaluated before any keyword argument.
    for (size_t i = first; i < call.kids.size(); ++i) {
        const Node& arg = *call.kids[i];
        if (arg.kind == NodeKind::kSpread) {
            const Value v = eval(*arg.kids[0], scope);
            if (!v.isList()) throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot unpack ") + typeName(v));
            args.positional.insert(args.positional.end(), v.items().begin(), v.items().end());
        } else if (arg.kind != NodeKind::kKeywordArg && arg.kind != NodeKind::kKeywordSpread) {
            args.positional.push_back(eval(arg, scope));
        }
    }
    const auto add_keyword = [&](const std::string& key, Value v) {
        if (args.keyword(key) != nullptr) {
            throw EvalError(ErrorCode::kInvalidArgument, "got multiple values for keyword argument '" + key + "'");
        }
        args.keywords.emplace_back(key, std::move(v));
    };
    for (size_t i = first; i < call.kids.size(); ++i) {
        const Node& arg = *call.kids[i];
        if (arg.kind == NodeKind::kKeywordArg) {
            add_keyword(arg.text, eval(*arg.kids[0], scope));
        } else if (arg.kind == NodeKind::kKeywordSpread) {
            const Value v = eval(*arg.kids[0], scope);
            if (!v.isDict()) {
                throw EvalError(ErrorCode::kInvalidArgument,
                                std::string("argument after ** must be a dict, not ") + typeName(v));
            }
            for (const auto& [k, val] : v.entries().entries()) add_keyword(k, val);
        }
    }
    return args;
}

Value Interpreter::evalCall(const Node& node, Scope& scope) {
    CallArgs args = evalArguments(node, 1, scope);
    const Value fn = eval(*node.kids[0], scope);
    if (!fn.isFunction()) {
        if (fn.isUndefined()) {
            throw EvalError(ErrorCode::kUnsupported,
                            describeCallee(*node.kids[0]) + " is not a function or method this Jinja subset provides");
        }
        throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot call ") + typeName(fn));
    }
    return fn.fn().body(*this, args, scope);
}

Value Interpreter::callMacro(const Node& macro, CallArgs& args, Scope& call_scope) {
    // Macros run in a scope under the caller's (the oracle's dynamic scoping), with the
    // argument rules of Jinja: missing arguments are undefined or take their default.
    Scope local(&call_scope);
    std::vector<std::pair<std::string, const Node*>> pending_defaults;
    std::vector<std::pair<std::string, Value>> keywords = args.keywords;
    const NodeList& params = macro.kids;
    for (size_t i = 0; i < params.size(); ++i) {
        const Node& p = *params[i];
        std::optional<Value> value;
        if (i < args.positional.size()) value = args.positional[i];
        if (!value) {
            const auto it =
                std::find_if(keywords.begin(), keywords.end(), [&](const auto& kv) { return kv.first == p.text; });
            if (it != keywords.end()) {
                value = std::move(it->second);
                keywords.erase(it);
            }
        }
        if (!value && p.kind == NodeKind::kKeywordArg) pending_defaults.emplace_back(p.text, p.kids[0].get());
        local.set(p.text, value.value_or(Value()));
    }
    if (macro.uses_kwargs) {
        Dict kwargs;
        for (auto& [k, v] : keywords) kwargs.set(k, std::move(v));
        local.set("kwargs", Value::dict(std::move(kwargs)));
    } else if (!keywords.empty()) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        "macro '" + macro.text + "' takes no keyword argument '" + keywords.front().first + "'");
    }
    if (macro.uses_varargs) {
        std::vector<Value> rest;
        for (size_t i = params.size(); i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
        local.set("varargs", Value::list(std::move(rest)));
    } else if (args.positional.size() > params.size()) {
        throw EvalError(ErrorCode::kInvalidArgument, "macro '" + macro.text + "' takes not more than " +
                                                         std::to_string(params.size()) + " argument(s)");
    }
    for (const auto& [name, default_value] : pending_defaults) local.set(name, eval(*default_value, local));
    return makeString(renderBlock(macro.body, local));
}

}  // namespace vki::model::jinja
