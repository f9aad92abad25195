// Runtime values of the Jinja interpreter and the operations whose results a template can
// print: truthiness, string conversion, equality, ordering and JSON.
//
// The oracle is @huggingface/jinja, a JavaScript implementation, and these follow it rather
// than Python's Jinja: numbers are doubles (integers print without a decimal point, floats
// with one), `true`/`false` print in lower case, none and undefined print as nothing, lists
// and dicts print as JSON, and `==` is JavaScript's loose equality.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vki::model::jinja {

class Value;
class Dict;
class Interpreter;
class Scope;
struct CallArgs;
struct Function;

// The signature of every callable; `scope` is the scope of the call site.
using FunctionBody = std::function<Value(Interpreter&, CallArgs&, Scope& scope)>;

class Value {
public:
    enum class Type : uint8_t {
        kUndefined,
        kNone,
        kBool,
        kInt,
        kFloat,
        kString,
        kList,
        kTuple,
        kDict,
        kNamespace,
        kFunction,
    };

    Value() = default;
    // JavaScript's own undefined, which the oracle's `first` and `last` return for an empty
    // list: it may only be assigned (a later read of the variable gives an ordinary undefined
    // value); any other use fails in the oracle, and the interpreter rejects it likewise.
    static Value jsUndefined();
    static Value none();
    static Value boolean(bool b);
    static Value integer(double v);
    static Value floating(double v);
    // A number from outside a template (JSON, range()): integral values are integers, as
    // JavaScript's Number.isInteger decides for @huggingface/jinja.
    static Value number(double v);
    static Value string(std::string s);
    // Lists and dicts are immutable once built. Throws EvalError when the value would nest
    // deeper than kMaxValueDepth or a list would exceed kMaxListLength.
    static Value list(std::vector<Value> items, bool tuple = false);
    static Value dict(Dict entries);
    // Namespaces are the only mutable values; the interpreter creates and tracks them.
    static Value ns(std::shared_ptr<Dict> entries);
    static Value function(std::string name, FunctionBody body);

    Type type() const { return type_; }
    bool is(Type t) const { return type_ == t; }
    bool isUndefined() const { return type_ == Type::kUndefined; }
    bool isJsUndefined() const { return js_undefined_; }
    bool isNone() const { return type_ == Type::kNone; }
    bool isNumber() const { return type_ == Type::kInt || type_ == Type::kFloat; }
    bool isString() const { return type_ == Type::kString; }
    bool isList() const { return type_ == Type::kList || type_ == Type::kTuple; }
    bool isDict() const { return type_ == Type::kDict; }
    bool isFunction() const { return type_ == Type::kFunction; }

    bool asBool() const { return number_ != 0; }
    double asNumber() const { return number_; }  // kBool (0 or 1), kInt, kFloat
    const std::string& str() const;
    const std::vector<Value>& items() const;
    const Dict& entries() const;  // kDict or kNamespace
    Dict& namespaceEntries() const;
    const Function& fn() const;

    // What JavaScript's === compares for objects: the same list, dict or function.
    const void* identity() const { return object_.get(); }
    int depth() const { return depth_; }

private:
    Type type_ = Type::kUndefined;
    uint8_t depth_ = 0;  // nesting of lists and dicts; namespaces count as one level
    bool js_undefined_ = false;
    double number_ = 0;
    std::shared_ptr<void> object_;
};

// Ordered like a JavaScript Map: insertion order, and setting an existing key keeps its place.
class Dict {
public:
    using Entry = std::pair<std::string, Value>;

    const Value* find(std::string_view key) const;
    void set(std::string key, Value value);
    // For building a dict whose keys are known to be distinct.
    void reserve(size_t n);
    void appendUnique(std::string key, Value value);
    const std::vector<Entry>& entries() const { return entries_; }
    size_t size() const { return entries_.size(); }
    void clear() { entries_.clear(); }

private:
    std::vector<Entry> entries_;
};

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keywords;

    const Value* keyword(std::string_view name) const;
};

// A callable: a global (range, namespace, ...), a bound method ("abc".upper) or a macro.
struct Function {
    using Body = FunctionBody;
    std::string name;
    Body body;
};

// A type name with its article for error messages ("a string", "an integer", "none").
const char* typeName(const Value& v);

// Python-style truthiness as @huggingface/jinja implements it: empty strings, lists and dicts
// and zero are false; namespaces and functions are true.
bool truthy(const Value& v);

// What `{{ v }}` prints: "" for none and undefined (the caller skips them), JSON for lists and
// dicts. Throws EvalError for a tuple (the oracle fails too) and for a function (the oracle
// prints its JavaScript source).
std::string displayString(const Value& v);

// JavaScript's String(v) of the underlying value, as `~`, `+` and `join` use it: floats lose
// their ".0", lists join their elements' display strings with ",", dicts are "[object Map]",
// none is "undefined" (the oracle's none wraps JavaScript's undefined, not null).
std::string jsString(const Value& v);

// JavaScript's == (loose) and === on the underlying values.
bool looseEquals(const Value& a, const Value& b);
bool strictEquals(const Value& a, const Value& b);

struct JsonOptions {
    std::optional<double> indent;
    bool ensure_ascii = false;
    bool sort_keys = false;
    std::optional<std::pair<std::string, std::string>> separators;  // (item, key)
};

// The `tojson` filter (and how lists and dicts print, with undefined_as_null false).
std::string toJson(const Value& v, const JsonOptions& options, bool undefined_as_null = true);

// Ordering for `sort` and `dictsort`: numbers and booleans together, strings with strings
// (optionally case-insensitive), none with none. Throws EvalError for other pairs.
int compareValues(const Value& a, const Value& b, bool case_sensitive);

}  // namespace vki::model::jinja
