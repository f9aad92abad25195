// Parser for the Jinja subset: tokens to a syntax tree, with the grammar and operator
// precedence of @huggingface/jinja.
#pragma once

#include <vector>

#include "model/chat/jinja_ast.hpp"
#include "model/chat/jinja_lexer.hpp"

namespace vki::model::jinja {

// Throws vki::Error(kBadFile) on syntax errors and vki::Error(kUnsupported) on Jinja
// statements outside the subset ({% include %}, {% call %}, {% raw %}, ...), with the
// line and column. Nesting deeper than kMaxParseDepth is rejected rather than recursed into.
NodeList parse(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace vki::model::jinja
