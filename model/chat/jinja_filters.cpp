// Filters and tests, dispatched on the operand's type as @huggingface/jinja does: a filter
// exists for some types only, and the call form (`| join(", ")`) is a separate table.
#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

#include "model/chat/jinja_interpreter.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::model::jinja {
namespace {

[[noreturn]] void invalid(const std::string& message) {
    throw EvalError(ErrorCode::kInvalidArgument, message);
}

// Every filter name the oracle knows, for any operand type. Others are reported as
// unsupported rather than as a type mismatch.
bool isKnownFilter(std::string_view name) {
    static const std::set<std::string_view> kNames = {
        "safe",       "tojson", "list",    "first",    "last",  "length", "reverse",    "sort",
        "join",       "string", "unique",  "upper",    "lower", "title",  "capitalize", "trim",
        "indent",     "int",    "float",   "abs",      "items", "bool",   "default",    "selectattr",
        "rejectattr", "map",    "replace", "dictsort", "keys",  "values", "get"};
    return kNames.count(name) > 0;
}

[[noreturn]] void noFilter(const std::string& name, const Value& operand) {
    if (!isKnownFilter(name)) throw EvalError(ErrorCode::kUnsupported, "the filter '" + name + "' is not supported");
    invalid("the filter '" + name + "' does not apply to " + typeName(operand));
}

// JavaScript's !!value on the value underneath: every list and dict is true, even empty.
bool jsTruthyRaw(const Value& v) {
    if (v.isList() || v.isDict() || v.is(Value::Type::kNamespace) || v.isFunction()) return true;
    return truthy(v);
}

// The oracle's join: each item's underlying value through String(), none and undefined empty.
std::string joinPiece(const Value& v) {
    return v.isNone() || v.isUndefined() ? std::string() : jsString(v);
}

// getAttributeValue: "a.b.0" through dicts, namespaces and list indices.
Value attributeOf(const Value& item, const std::string& path) {
    Value v = item;
    size_t pos = 0;
    while (true) {
        const size_t dot = path.find('.', pos);
        const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        if (v.isDict() || v.is(Value::Type::kNamespace)) {
            const Value* found = v.entries().find(part);
            v = found != nullptr ? *found : Value();
        } else if (v.isList()) {
            const auto index = jsParseInt(part);
            if (!index || *index < 0 || *index >= static_cast<double>(v.items().size())) return Value();
            v = v.items()[static_cast<size_t>(*index)];
        } else {
            return Value();
        }
        if (dot == std::string::npos) return v;
        pos = dot + 1;
    }
}

const Value* argument(const CallArgs& args, size_t index, std::string_view keyword) {
    if (index < args.positional.size()) return &args.positional[index];
    return args.keyword(keyword);
}

Value requireBool(const Value* v, const char* what) {
    if (v == nullptr) return Value::boolean(false);
    if (!v->is(Value::Type::kBool)) invalid(std::string(what) + " must be a boolean");
    return *v;
}

std::string indentLines(Interpreter& in, const std::string& s, double width, bool first, bool blank) {
    if (width < 0) invalid("indent width must not be negative");
    in.checkStringSize(static_cast<size_t>(std::min(width, 1e18)));
    const std::string pad(static_cast<size_t>(width), ' ');
    std::string out;
    size_t start = 0, line = 0;
    while (true) {
        const size_t nl = s.find('\n', start);
        const std::string_view text =
            std::string_view(s).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        if (line > 0) out += '\n';
        if ((first || line > 0) && (blank || !text.empty())) out += pad;
        out.append(text);
        in.checkStringSize(out.size());
        if (nl == std::string::npos) return out;
        start = nl + 1;
        ++line;
    }
}

Value sortList(const Value& list, const CallArgs& args) {
    const Value reverse = requireBool(argument(args, 0, "reverse"), "reverse");
    const Value case_sensitive = requireBool(argument(args, 1, "case_sensitive"), "case_sensitive");
    const Value* attribute = argument(args, 2, "attribute");
    std::optional<std::string> path;
    if (attribute != nullptr && !attribute->isNone()) {
        if (attribute->isString()) {
            path = attribute->str();
        } else if (attribute->is(Value::Type::kInt)) {
            path = jsNumberToString(attribute->asNumber());
        } else {
            invalid("attribute must be a string, integer, or none");
        }
    }
    std::vector<Value> items = list.items();
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        const Value ka = path ? attributeOf(a, *path) : a;
        const Value kb = path ? attributeOf(b, *path) : b;
        const int c = compareValues(ka, kb, case_sensitive.asBool());
        return (reverse.asBool() ? -c : c) < 0;
    });
    return Value::list(std::move(items));
}

bool sameValueZero(const Value& a, const Value& b) {
    if (a.isNumber() && b.isNumber() && std::isnan(a.asNumber()) && std::isnan(b.asNumber())) return true;
    return strictEquals(a, b);
}

}  // namespace

bool Interpreter::applyTest(const std::string& name, const Value& operand, const Value* argument) {
    using T = Value::Type;
    if (name == "boolean") return operand.is(T::kBool);
    if (name == "callable") return operand.isFunction();
    if (name == "odd" || name == "even") {
        if (!operand.is(T::kInt)) invalid("the test '" + name + "' needs an integer, not " + typeName(operand));
        const bool odd = std::fmod(operand.asNumber(), 2) != 0;
        return name == "odd" ? odd : !odd;
    }
    if (name == "false") return operand.is(T::kBool) && !operand.asBool();
    if (name == "true") return operand.is(T::kBool) && operand.asBool();
    if (name == "none") return operand.isNone();
    if (name == "string") return operand.isString();
    if (name == "number") return operand.isNumber();
    if (name == "integer") return operand.is(T::kInt);
    if (name == "iterable") return operand.is(T::kList) || operand.isString();
    if (name == "mapping") return operand.isDict();
    if (name == "sequence") return operand.isList() || operand.isDict() || operand.isString();
    if (name == "lower") return operand.isString() && operand.str() == jsToLower(operand.str());
    if (name == "upper") return operand.isString() && operand.str() == jsToUpper(operand.str());
    if (name == "defined") return !operand.isUndefined();
    if (name == "undefined") return operand.isUndefined();
    if (name == "equalto" || name == "eq") {
        if (argument == nullptr) invalid("the test '" + name + "' needs a value to compare with");
        return strictEquals(operand, *argument);
    }
    throw EvalError(ErrorCode::kUnsupported, "the test '" + name + "' is not supported");
}

Value Interpreter::applyFilter(const Value& operand, const Node& filter, Scope& scope) {
    if (filter.kind == NodeKind::kCall) return applyCallFilter(operand, filter, scope);
    if (filter.kind != NodeKind::kIdentifier) {
        throw EvalError(ErrorCode::kUnsupported, "a filter must be a name, optionally called with arguments");
    }
    const std::string& name = filter.text;
    if (name == "safe") return operand;
    if (name == "tojson") return makeString(toJson(operand, JsonOptions{}));
    if (operand.isList()) {
        const auto& items = operand.items();
        if (name == "list") return operand;
        if (name == "first" || name == "last") {
            if (items.empty()) return Value::jsUndefined();
            return name == "first" ? items.front() : items.back();
        }
        if (name == "length") return Value::integer(static_cast<double>(items.size()));
        if (name == "reverse") return Value::list(std::vector<Value>(items.rbegin(), items.rend()));
        if (name == "sort") return sortList(operand, CallArgs{});
        if (name == "join") {
            std::string out;
            for (const Value& v : items) {
                out += joinPiece(v);
                checkStringSize(out.size());
            }
            return makeString(std::move(out));
        }
        if (name == "string") return makeString(toJson(operand, JsonOptions{}, false));
        if (name == "unique") {
            std::vector<Value> out;
            for (const Value& v : items) {
                charge(out.size() / 64);
                if (std::none_of(out.begin(), out.end(), [&](const Value& seen) { return sameValueZero(seen, v); })) {
                    out.push_back(v);
                }
            }
            return Value::list(std::move(out));
        }
    } else if (operand.isString()) {
        const std::string& s = operand.str();
        if (name == "length" || name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
            const Value member = *builtinMember(operand, name);
            if (!member.isFunction()) return member;
            CallArgs none;
            return member.fn().body(*this, none, scope);
        }
        if (name == "trim") return makeString(std::string(jsTrim(s)));
        if (name == "indent") return makeString(indentLines(*this, s, 4, false, false));
        if (name == "join" || name == "string") return operand;
        if (name == "int") return Value::integer(jsParseInt(s).value_or(0));
        if (name == "float") return Value::floating(jsParseFloat(s).value_or(0));
    } else if (operand.isNumber()) {
        const double x = operand.asNumber();
        if (name == "abs")
            return operand.is(Value::Type::kInt) ? Value::integer(std::fabs(x)) : Value::floating(std::fabs(x));
        if (name == "int") return Value::integer(std::floor(x));
        if (name == "float") return Value::floating(x);
        if (name == "string") return Value::string(displayString(operand));
    } else if (operand.isDict()) {
        if (name == "length") return Value::integer(static_cast<double>(operand.entries().size()));
        if (auto member = builtinMember(operand, name)) {
            if (!member->isFunction()) return *member;
            CallArgs none;
            return member->fn().body(*this, none, scope);
        }
    } else if (operand.is(Value::Type::kBool)) {
        const bool b = operand.asBool();
        if (name == "bool") return operand;
        if (name == "int") return Value::integer(b ? 1 : 0);
        if (name == "float") return Value::floating(b ? 1 : 0);
        if (name == "string") return Value::string(b ? "true" : "false");
    }
    noFilter(name, operand);
}

Value Interpreter::applyCallFilter(const Value& operand, const Node& call, Scope& scope) {
    const std::string& name = call.kids[0]->text;
    if (call.kids[0]->kind != NodeKind::kIdentifier) {
        throw EvalError(ErrorCode::kUnsupported, "a filter must be a name, optionally called with arguments");
    }
    // selectattr/rejectattr take string literals only, checked before evaluating them.
    if (operand.isList() && (name == "selectattr" || name == "rejectattr")) {
        for (const Value& item : operand.items()) {
            if (!item.isDict() && !item.is(Value::Type::kNamespace)) {
                invalid("'" + name + "' can only be applied to a list of dicts");
            }
        }
        for (size_t i = 1; i < call.kids.size(); ++i) {
            if (call.kids[i]->kind != NodeKind::kString) invalid("the arguments of '" + name + "' must be strings");
        }
    }
    CallArgs args = evalArguments(call, 1, scope);
    if (name == "tojson") {
        JsonOptions options;
        if (const Value* indent = args.keyword("indent"); indent != nullptr && !indent->isNone()) {
            if (!indent->is(Value::Type::kInt)) invalid("tojson indent must be an integer");
            options.indent = indent->asNumber();
        }
        options.ensure_ascii = requireBool(args.keyword("ensure_ascii"), "ensure_ascii").asBool();
        options.sort_keys = requireBool(args.keyword("sort_keys"), "sort_keys").asBool();
        if (const Value* sep = args.keyword("separators"); sep != nullptr && !sep->isNone()) {
            if (!sep->isList() || sep->items().size() != 2 || !sep->items()[0].isString() ||
                !sep->items()[1].isString()) {
                invalid("tojson separators must be a pair of strings");
            }
            options.separators = std::make_pair(sep->items()[0].str(), sep->items()[1].str());
        }
        return makeString(toJson(operand, options));
    }
    if (name == "join") {
        std::vector<std::string> pieces;
        if (operand.isString()) {
            for (char32_t cp : toCodePoints(operand.str())) pieces.push_back(fromCodePoints({&cp, 1}));
        } else if (operand.isList()) {
            for (const Value& v : operand.items()) pieces.push_back(joinPiece(v));
        } else {
            noFilter(name, operand);
        }
        const Value* sep = argument(args, 0, "separator");
        if (sep != nullptr && !sep->isString()) invalid("join separator must be a string");
        std::string out;
        for (size_t i = 0; i < pieces.size(); ++i) {
            if (i > 0 && sep != nullptr) out += sep->str();
            out += pieces[i];
            checkStringSize(out.size());
        }
        return makeString(std::move(out));
    }
    if (name == "int" || name == "float") {
        const bool to_int = name == "int";
        const Value* given = argument(args, 0, "default");
        const Value fallback = given != nullptr ? *given : (to_int ? Value::integer(0) : Value::floating(0));
        if (operand.isString()) {
            const auto parsed = to_int ? jsParseInt(operand.str()) : jsParseFloat(operand.str());
            if (!parsed) return fallback;
            return to_int ? Value::integer(*parsed) : Value::floating(*parsed);
        }
        if (operand.isNumber()) return operand;
        if (operand.is(Value::Type::kBool)) {
            return to_int ? Value::integer(operand.asBool()) : Value::floating(operand.asBool());
        }
        noFilter(name, operand);
    }
    if (name == "default") {
        // default(value='', boolean=false); the oracle reads no default_value= keyword.
        const Value fallback = args.positional.empty() ? Value::string("") : args.positional[0];
        const Value boolean = requireBool(argument(args, 1, "boolean"), "the default filter's boolean flag");
        if (operand.isJsUndefined() && boolean.asBool()) {
            invalid("default(..., true) cannot take the undefined result of 'first' or 'last' on an empty list");
        }
        if (operand.isUndefined() && !operand.isJsUndefined()) return fallback;
        if (boolean.asBool() && !truthy(operand)) return fallback;
        return operand;
    }
    if (operand.isList()) {
        if (name == "sort") return sortList(operand, args);
        if (name == "selectattr" || name == "rejectattr") {
            if (args.positional.empty()) invalid("'" + name + "' needs the name of an attribute");
            const std::string& attr = args.positional[0].str();
            const std::string* test = args.positional.size() > 1 ? &args.positional[1].str() : nullptr;
            const Value* value = args.positional.size() > 2 ? &args.positional[2] : nullptr;
            std::vector<Value> out;
            for (const Value& item : operand.items()) {
                const Value* a = item.entries().find(attr);
                bool result = false;
                if (a != nullptr) result = test != nullptr ? applyTest(*test, *a, value) : truthy(*a);
                if (result == (name == "selectattr")) out.push_back(item);
            }
            return Value::list(std::move(out));
        }
        if (name == "map") {
            const Value* attr = args.keyword("attribute");
            if (attr == nullptr) {
                throw EvalError(ErrorCode::kUnsupported, "the filter 'map' is supported with attribute= only");
            }
            if (!attr->isString()) invalid("map attribute must be a string");
            const Value* fallback = args.keyword("default");
            std::vector<Value> out;
            for (const Value& item : operand.items()) {
                if (!item.isDict() && !item.is(Value::Type::kNamespace)) invalid("map needs a list of dicts");
                const Value v = attributeOf(item, attr->str());
                out.push_back(v.isUndefined() && fallback != nullptr ? *fallback : v);
            }
            return Value::list(std::move(out));
        }
    } else if (operand.isString()) {
        if (name == "indent") {
            const Value* width = argument(args, 0, "width");
            if (width != nullptr && !width->is(Value::Type::kInt)) invalid("indent width must be an integer");
            const Value* first = argument(args, 1, "first");
            const Value* blank = argument(args, 2, "blank");
            return makeString(indentLines(*this, operand.str(), width != nullptr ? width->asNumber() : 4,
                                          first != nullptr && jsTruthyRaw(*first),
                                          blank != nullptr && jsTruthyRaw(*blank)));
        }
        if (name == "replace") return builtinMember(operand, "replace")->fn().body(*this, args, scope);
    } else if (operand.isDict()) {
        if (auto member = builtinMember(operand, name); member && member->isFunction()) {
            return member->fn().body(*this, args, scope);
        }
    }
    noFilter(name, operand);
}

}  // namespace vki::model::jinja
