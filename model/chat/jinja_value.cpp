#include "model/chat/jinja_value.hpp"

#include <algorithm>
#include <cmath>

#include "model/chat/jinja_error.hpp"
#include "model/chat/jinja_text.hpp"

namespace vki::model::jinja {
namespace {

int childDepth(const Value& v) {
    return v.is(Value::Type::kNamespace) ? 1 : v.depth();
}

void checkDepth(int depth) {
    if (depth > kMaxValueDepth) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        "value nests lists and dicts deeper than " + std::to_string(kMaxValueDepth) + " levels");
    }
}

// Position of a printable ASCII character in the root collation order that JavaScript's
// localeCompare uses (default locale, ICU): punctuation and symbols, digits, then letters
// with upper and lower case equal at this level.
int collationPrimary(char c) {
    static constexpr std::string_view kOrder =
        " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz";
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    const size_t pos = kOrder.find(lower);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// localeCompare for printable ASCII keys: primary weights first, then lower case before upper.
int localeCompareAscii(std::string_view a, std::string_view b) {
    for (std::string_view s : {a, b}) {
        for (char c : s) {
            if (collationPrimary(c) < 0) {
                throw EvalError(
                    ErrorCode::kUnsupported,
                    "tojson(sort_keys=true) orders keys by locale; only printable ASCII keys are supported");
            }
        }
    }
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        const int pa = collationPrimary(a[i]), pb = collationPrimary(b[i]);
        if (pa != pb) return pa < pb ? -1 : 1;
    }
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    for (size_t i = 0; i < n; ++i) {
        const bool ua = a[i] >= 'A' && a[i] <= 'Z', ub = b[i] >= 'A' && b[i] <= 'Z';
        if (ua != ub) return ua ? 1 : -1;
    }
    return 0;
}

// JavaScript's ToPrimitive of an object compared with a primitive: arrays join their
// elements; maps become "[object Map]". Functions are left out (their source text).
std::optional<std::string> objectToPrimitive(const Value& v) {
    if (v.isList()) return jsString(v);
    if (v.isDict() || v.is(Value::Type::kNamespace)) return std::string("[object Map]");
    return std::nullopt;
}

bool isObject(const Value& v) {
    return v.isList() || v.isDict() || v.is(Value::Type::kNamespace) || v.isFunction();
}

void appendJson(std::string& out, const Value& v, const JsonOptions& options, int depth, bool undefined_as_null);

void appendContainerJson(std::string& out, const Value& v, const JsonOptions& options, int depth,
                         bool undefined_as_null) {
    if (depth >= kMaxEvalDepth) {
        throw EvalError(ErrorCode::kInvalidArgument, "value nests too deeply to convert to JSON");
    }
    const double indent_width = options.indent.value_or(0);
    if (indent_width < 0 || indent_width > 1024) {
        throw EvalError(ErrorCode::kInvalidArgument, "tojson indent must be between 0 and 1024");
    }
    const std::string indent(static_cast<size_t>(indent_width), ' ');
    const bool indented = indent_width != 0;
    std::string item_sep = indented ? "," : ", ";
    std::string key_sep = ": ";
    if (options.separators) std::tie(item_sep, key_sep) = *options.separators;
    std::string base_padding = "\n";
    for (int i = 0; i < depth; ++i) base_padding += indent;
    const std::string child_padding = base_padding + indent;

    if (v.isList()) {
        const auto& items = v.items();
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out += item_sep;
            if (indented) out += child_padding;
            appendJson(out, items[i], options, depth + 1, undefined_as_null);
        }
        if (indented && !items.empty()) out += base_padding;
        out += ']';
        return;
    }
    std::vector<const Dict::Entry*> entries;
    for (const auto& e : v.entries().entries()) entries.push_back(&e);
    if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(), [](const Dict::Entry* a, const Dict::Entry* b) {
            return localeCompareAscii(a->first, b->first) < 0;
        });
    }
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_sep;
        if (indented) out += child_padding;
        appendJsonString(out, entries[i]->first, options.ensure_ascii);
        out += key_sep;
        appendJson(out, entries[i]->second, options, depth + 1, undefined_as_null);
    }
    if (indented && !entries.empty()) out += base_padding;
    out += '}';
}

void appendJson(std::string& out, const Value& v, const JsonOptions& options, int depth, bool undefined_as_null) {
    switch (v.type()) {
        case Value::Type::kUndefined:
            if (v.isJsUndefined()) break;
            out += undefined_as_null ? "null" : "undefined";
            return;
        case Value::Type::kNone:
            out += "null";
            return;
        case Value::Type::kBool:
            out += v.asBool() ? "true" : "false";
            return;
        case Value::Type::kInt:
        case Value::Type::kFloat:
            // JSON.stringify: no ".0" on integral floats, null for NaN and infinities.
            out += std::isfinite(v.asNumber()) ? jsNumberToString(v.asNumber()) : "null";
            return;
        case Value::Type::kString:
            appendJsonString(out, v.str(), options.ensure_ascii);
            return;
        case Value::Type::kList:
        case Value::Type::kDict:
        case Value::Type::kNamespace:
            appendContainerJson(out, v, options, depth, undefined_as_null);
            return;
        case Value::Type::kTuple:
        case Value::Type::kFunction:
            break;
    }
    throw EvalError(ErrorCode::kInvalidArgument, std::string("cannot convert ") + typeName(v) + " to JSON");
}

}  // namespace

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
        if (k == key) return &v;
    }
    return nullptr;
}

void Dict::set(std::string key, Value value) {
    for (auto& [k, v] : entries_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    entries_.emplace_back(std::move(key), std::move(value));
}

void Dict::reserve(size_t n) {
    entries_.reserve(n);
}

void Dict::appendUnique(std::string key, Value value) {
    entries_.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::keyword(std::string_view name) const {
    for (const auto& [k, v] : keywords) {
        if (k == name) return &v;
    }
    return nullptr;
}

Value Value::jsUndefined() {
    Value v;
    v.js_undefined_ = true;
    return v;
}

Value Value::none() {
    Value v;
    v.type_ = Type::kNone;
    return v;
}

Value Value::boolean(bool b) {
    Value v;
    v.type_ = Type::kBool;
    v.number_ = b ? 1 : 0;
    return v;
}

Value Value::integer(double x) {
    Value v;
    v.type_ = Type::kInt;
    v.number_ = x;
    return v;
}

Value Value::floating(double x) {
    Value v;
    v.type_ = Type::kFloat;
    v.number_ = x;
    return v;
}

Value Value::number(double x) {
    return std::isfinite(x) && std::trunc(x) == x ? integer(x) : floating(x);
}

Value Value::string(std::string s) {
    Value v;
    v.type_ = Type::kString;
    v.object_ = std::make_shared<std::string>(std::move(s));
    return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
    if (items.size() > kMaxListLength) {
        throw EvalError(ErrorCode::kInvalidArgument,
                        "list would hold more than " + std::to_string(kMaxListLength) + " items");
    }
    int depth = 0;
    for (const Value& item : items) depth = std::max(depth, childDepth(item));
    checkDepth(depth + 1);
    Value v;
    v.type_ = tuple ? Type::kTuple : Type::kList;
    v.depth_ = static_cast<uint8_t>(depth + 1);
    v.object_ = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
}

Value Value::dict(Dict entries) {
    int depth = 0;
    for (const auto& e : entries.entries()) depth = std::max(depth, childDepth(e.second));
    checkDepth(depth + 1);
    Value v;
    v.type_ = Type::kDict;
    v.depth_ = static_cast<uint8_t>(depth + 1);
    v.object_ = std::make_shared<Dict>(std::move(entries));
    return v;
}

Value Value::ns(std::shared_ptr<Dict> entries) {
    Value v;
    v.type_ = Type::kNamespace;
    v.depth_ = 1;
    v.object_ = std::move(entries);
    return v;
}

Value Value::function(std::string name, FunctionBody body) {
    Value v;
    v.type_ = Type::kFunction;
    v.object_ = std::make_shared<Function>(Function{std::move(name), std::move(body)});
    return v;
}

const std::string& Value::str() const {
    VKI_ASSERT(type_ == Type::kString);
    return *static_cast<const std::string*>(object_.get());
}

const std::vector<Value>& Value::items() const {
    VKI_ASSERT(isList());
    return *static_cast<const std::vector<Value>*>(object_.get());
}

const Dict& Value::entries() const {
    VKI_ASSERT(type_ == Type::kDict || type_ == Type::kNamespace);
    return *static_cast<const Dict*>(object_.get());
}

Dict& Value::namespaceEntries() const {
    VKI_ASSERT(type_ == Type::kNamespace);
    return *static_cast<Dict*>(object_.get());
}

const Function& Value::fn() const {
    VKI_ASSERT(type_ == Type::kFunction);
    return *static_cast<const Function*>(object_.get());
}

const char* typeName(const Value& v) {
    switch (v.type()) {
        case Value::Type::kUndefined:
            return "an undefined value";
        case Value::Type::kNone:
            return "none";
        case Value::Type::kBool:
            return "a boolean";
        case Value::Type::kInt:
            return "an integer";
        case Value::Type::kFloat:
            return "a float";
        case Value::Type::kString:
            return "a string";
        case Value::Type::kList:
            return "a list";
        case Value::Type::kTuple:
            return "a tuple";
        case Value::Type::kDict:
            return "a dict";
        case Value::Type::kNamespace:
            return "a namespace";
        case Value::Type::kFunction:
            return "a function";
    }
    return "a value";
}

bool truthy(const Value& v) {
    switch (v.type()) {
        case Value::Type::kUndefined:
        case Value::Type::kNone:
            return false;
        case Value::Type::kBool:
        case Value::Type::kInt:
        case Value::Type::kFloat:
            return v.asNumber() != 0 && !std::isnan(v.asNumber());
        case Value::Type::kString:
            return !v.str().empty();
        case Value::Type::kList:
        case Value::Type::kTuple:
            return !v.items().empty();
        case Value::Type::kDict:
            return v.entries().size() > 0;
        case Value::Type::kNamespace:
        case Value::Type::kFunction:
            return true;
    }
    return false;
}

std::string displayString(const Value& v) {
    switch (v.type()) {
        case Value::Type::kUndefined:
        case Value::Type::kNone:
            return "";
        case Value::Type::kBool:
            return v.asBool() ? "true" : "false";
        case Value::Type::kInt:
            return jsNumberToString(v.asNumber());
        case Value::Type::kFloat:
            return jsFloatToString(v.asNumber());
        case Value::Type::kString:
            return v.str();
        case Value::Type::kList:
        case Value::Type::kTuple:
        case Value::Type::kDict:
        case Value::Type::kNamespace:
            return toJson(v, JsonOptions{}, false);
        case Value::Type::kFunction:
            break;
    }
    throw EvalError(ErrorCode::kUnsupported, "cannot print a function");
}

std::string jsString(const Value& v) {
    switch (v.type()) {
        case Value::Type::kUndefined:
        case Value::Type::kNone:
            return "undefined";
        case Value::Type::kBool:
            return v.asBool() ? "true" : "false";
        case Value::Type::kInt:
        case Value::Type::kFloat:
            return jsNumberToString(v.asNumber());
        case Value::Type::kString:
            return v.str();
        case Value::Type::kList:
        case Value::Type::kTuple: {
            // Array.prototype.join(","): each element is a runtime value object whose own
            // toString() is what prints (JSON for nested lists; "undefined" for none, whose
            // wrapper holds JavaScript's undefined rather than null).
            std::string out;
            const auto& items = v.items();
            for (size_t i = 0; i < items.size(); ++i) {
                if (i > 0) out += ',';
                const Value& item = items[i];
                if (item.isUndefined() || item.isNone()) {
                    out += "undefined";
                } else {
                    out += displayString(item);
                }
            }
            return out;
        }
        case Value::Type::kDict:
        case Value::Type::kNamespace:
            return "[object Map]";
        case Value::Type::kFunction:
            break;
    }
    throw EvalError(ErrorCode::kUnsupported, "cannot convert a function to a string");
}

bool strictEquals(const Value& a, const Value& b) {
    if (a.isNumber() && b.isNumber()) return a.asNumber() == b.asNumber();
    // None's wrapper holds JavaScript's undefined too, so none === undefined.
    const bool a_nullish = a.isUndefined() || a.isNone(), b_nullish = b.isUndefined() || b.isNone();
    if (a_nullish || b_nullish) return a_nullish && b_nullish;
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case Value::Type::kUndefined:
        case Value::Type::kNone:
            return true;
        case Value::Type::kBool:
            return a.asBool() == b.asBool();
        case Value::Type::kString:
            return a.str() == b.str();
        default:
            return a.identity() == b.identity();
    }
}

bool looseEquals(const Value& a, const Value& b) {
    // ECMA-262 IsLooselyEqual on the values underneath the runtime wrappers.
    const bool a_nullish = a.isUndefined() || a.isNone(), b_nullish = b.isUndefined() || b.isNone();
    if (a_nullish || b_nullish) return a_nullish && b_nullish;
    if (a.isNumber() && b.isNumber()) return a.asNumber() == b.asNumber();
    if (a.type() == b.type() || (isObject(a) && isObject(b))) return strictEquals(a, b);
    if (a.is(Value::Type::kBool)) return looseEquals(Value::integer(a.asNumber()), b);
    if (b.is(Value::Type::kBool)) return looseEquals(a, Value::integer(b.asNumber()));
    if (a.isNumber() && b.isString()) return a.asNumber() == jsStringToNumber(b.str());
    if (a.isString() && b.isNumber()) return jsStringToNumber(a.str()) == b.asNumber();
    if (isObject(a) != isObject(b)) {
        const Value& object = isObject(a) ? a : b;
        const Value& primitive = isObject(a) ? b : a;
        const auto text = objectToPrimitive(object);
        if (!text) return false;
        return looseEquals(Value::string(*text), primitive);
    }
    return false;
}

std::string toJson(const Value& v, const JsonOptions& options, bool undefined_as_null) {
    std::string out;
    appendJson(out, v, options, 0, undefined_as_null);
    return out;
}

int compareValues(const Value& a, const Value& b, bool case_sensitive) {
    if (a.isNone() && b.isNone()) return 0;
    if (a.isUndefined() && b.isUndefined()) return 0;
    const auto numeric = [](const Value& v) { return v.isNumber() || v.is(Value::Type::kBool); };
    if (numeric(a) && numeric(b)) {
        return a.asNumber() < b.asNumber() ? -1 : (a.asNumber() > b.asNumber() ? 1 : 0);
    }
    if (a.isString() && b.isString()) {
        if (case_sensitive) return compareUtf16(a.str(), b.str());
        return compareUtf16(jsToLower(a.str()), jsToLower(b.str()));
    }
    throw EvalError(ErrorCode::kInvalidArgument,
                    std::string("cannot compare ") + typeName(a) + " with " + typeName(b) + " for sorting");
}

}  // namespace vki::model::jinja
