// Syntax tree of a parsed template. One node type for statements and expressions, as in
// @huggingface/jinja, whose evaluation rules the interpreter follows node for node.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vki::model::jinja {

enum class NodeKind : uint8_t {
    // Statements.
    kText,         // text: the template text
    kComment,      //
    kIf,           // kids: test; body; alternate (else, or one kIf for elif)
    kFor,          // kids: target (identifier or tuple), iterable (maybe kSelect); body; alternate (else)
    kBreak,        //
    kContinue,     //
    kSet,          // kids: target, value (null for a {% set %}...{% endset %} block); body
    kMacro,        // text: name; kids: parameters (identifier or keyword argument); body
    kFilterBlock,  // kids: filter (identifier or call); body
    // Expressions.
    kString,         // text
    kInt,            // number
    kFloat,          // number
    kIdentifier,     // text
    kList,           // kids: items
    kTuple,          // kids: items
    kDict,           // kids: key, value, key, value, ...
    kMember,         // kids: object, property; flag: computed (obj[...]) rather than obj.name
    kSlice,          // kids: start, stop, step (each may be null)
    kCall,           // kids: callee, arguments...
    kUnary,          // text: "not", "-" or "+"; kids: operand
    kBinary,         // text: operator; kids: left, right
    kFilter,         // kids: operand, filter (identifier or call of an identifier)
    kTest,           // text: test name; kids: operand; flag: negated (is not)
    kSelect,         // kids: value, condition (`value if condition` without else)
    kTernary,        // kids: condition, if true, if false
    kKeywordArg,     // text: name; kids: value
    kSpread,         // kids: value (*value in a call)
    kKeywordSpread,  // kids: value (**value in a call)
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

struct Node {
    NodeKind kind;
    uint32_t offset = 0;  // byte offset in the template source, for error messages
    uint16_t depth = 1;   // height of this subtree (bounded to keep recursion shallow)
    bool flag = false;
    bool uses_kwargs = false;   // kMacro: the body reads `kwargs`
    bool uses_varargs = false;  // kMacro: the body reads `varargs`
    double number = 0;
    std::string text;
    NodeList kids;
    NodeList body;
    NodeList alternate;
};

}  // namespace vki::model::jinja
