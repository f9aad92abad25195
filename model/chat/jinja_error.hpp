// Errors and resource limits shared by the Jinja lexer, parser and interpreter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/error.hpp"

namespace vki::model::jinja {

// An error raised by a value operation that does not know where in the template it
// happened; the interpreter turns it into vki::Error with the line and column of the
// expression being evaluated.
class EvalError : public std::runtime_error {
public:
    // raised_by_template: the template's own raise_exception(message).
    EvalError(ErrorCode code, const std::string& message, bool raised_by_template = false)
        : std::runtime_error(message), code_(code), raised_by_template_(raised_by_template) {}
    ErrorCode code() const noexcept { return code_; }
    bool raisedByTemplate() const noexcept { return raised_by_template_; }

private:
    ErrorCode code_;
    bool raised_by_template_;
};

// Fixed bounds that keep hostile templates from exhausting the stack or memory.
inline constexpr size_t kMaxTemplateBytes = size_t{1} << 20;
inline constexpr int kMaxParseDepth = 64;  // parser recursion: nested blocks, brackets, unary operators
inline constexpr int kMaxTreeDepth = 128;  // height of the syntax tree (a.b.c... builds height without recursion)
inline constexpr int kMaxEvalDepth = 256;  // nested evaluations, macro calls included
inline constexpr int kMaxValueDepth = 64;  // nested lists and dicts in one value
inline constexpr size_t kMaxListLength = size_t{1} << 20;

// Per-render budget, from ChatTemplateOptions.
struct Limits {
    size_t max_output_bytes;  // also bounds every string the template builds
    uint64_t max_steps;       // one per evaluated node, plus one per 64 bytes of strings built
};

}  // namespace vki::model::jinja
