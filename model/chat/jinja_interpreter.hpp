// Evaluates a parsed template, following @huggingface/jinja's interpreter: its scoping (for
// loops and macro calls open a scope, `if` does not; macros see the caller's variables),
// its operators and its built-in filters, tests and methods.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/chat/jinja_ast.hpp"
#include "model/chat/jinja_error.hpp"
#include "model/chat/jinja_lexer.hpp"
#include "model/chat/jinja_value.hpp"

namespace vki::model::jinja {

// Variables of one scope, chained to the enclosing one. Scopes live on the C++ stack for
// the duration of the block that opened them.
class Scope {
public:
    explicit Scope(Scope* parent) : parent_(parent) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    const Value* find(std::string_view name) const;
    bool hasOwn(std::string_view name) const;
    void set(std::string_view name, Value value);

private:
    Scope* parent_;
    std::vector<std::pair<std::string, Value>> vars_;
};

// One render. Not reusable and not thread-safe; the parsed template it reads is shared.
class Interpreter {
public:
    Interpreter(const SourceMap& map, const Limits& limits) : map_(map), limits_(limits) {}
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    // Renders `program` with `globals` as the outermost scope. Throws vki::Error.
    std::string render(const NodeList& program, Scope& globals);

    // Building blocks for the built-ins (jinja_filters.cpp, jinja_methods.cpp).
    // allow_js_undefined: the caller assigns the result, the one use the oracle permits for a
    // Value::jsUndefined(); every other caller gets an error for it.
    Value eval(const Node& node, Scope& scope, bool allow_js_undefined = false);
    Value makeString(std::string s);           // charges the budget for the bytes built
    void checkStringSize(size_t bytes) const;  // throws EvalError past max_output_bytes
    void charge(uint64_t steps);               // throws EvalError past max_steps
    Value makeNamespace(Dict entries);         // tracked so that reference cycles are broken after the render
    Value callMacro(const Node& macro, CallArgs& args, Scope& call_scope);
    // A method or property of a built-in type ("abc".upper, [1].length, {}.items), or nullopt.
    std::optional<Value> builtinMember(const Value& object, const std::string& name);

private:
    void exec(const Node& node, Scope& scope, std::string& out);
    void execBlock(const NodeList& nodes, Scope& scope, std::string& out);
    std::string renderBlock(const NodeList& nodes, Scope& scope);
    void append(std::string& out, std::string_view text);

    Value evalNode(const Node& node, Scope& scope, bool allow_js_undefined);
    Value evalBinary(const Node& node, Scope& scope, bool allow_js_undefined);
    Value evalArithmetic(const std::string& op, const Value& left, const Value& right);
    Value evalUnary(const Node& node, Scope& scope);
    Value evalMember(const Node& node, Scope& scope);
    Value evalSlice(const Value& object, const Node& slice, Scope& scope);
    Value evalCall(const Node& node, Scope& scope);
    CallArgs evalArguments(const Node& call, size_t first, Scope& scope);
    void execFor(const Node& node, Scope& scope, std::string& out);
    void execSet(const Node& node, Scope& scope);
    void assignLoopTarget(const Node& target, const Value& item, Scope& scope);

    // Filters and tests, in jinja_filters.cpp.
    Value applyFilter(const Value& operand, const Node& filter, Scope& scope);
    Value applyCallFilter(const Value& operand, const Node& call, Scope& scope);
    bool applyTest(const std::string& name, const Value& operand, const Value* argument);
    [[noreturn]] void fail(const Node& node, ErrorCode code, const std::string& message) const;

    const SourceMap& map_;
    Limits limits_;
    uint64_t steps_ = 0;
    int depth_ = 0;
    std::vector<std::shared_ptr<Dict>> namespaces_;
};

// Fills the outermost scope with the globals every render sees: true/false/none (and their
// title-case spellings), raise_exception, range, namespace and strftime_now.
void installGlobals(Scope& globals);

}  // namespace vki::model::jinja
