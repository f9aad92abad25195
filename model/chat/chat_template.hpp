// Chat templates: renders a model's `tokenizer.chat_template` (Jinja, from GGUF metadata or a
// Hugging Face tokenizer_config.json) for a conversation.
//
// The output is byte-identical to Hugging Face's @huggingface/jinja (the npm package that
// renders chat templates in JavaScript), including its environment: trim_blocks and
// lstrip_blocks on, one trailing newline of the template dropped. Where that package and
// Python's Jinja differ, this follows the package: `{{ true }}` prints "true", `{{ none }}`
// prints nothing, lists and dicts print as JSON, `==` is JavaScript's loose equality.
//
// Supported: {{ }}, {% %}, {# #} and their whitespace control; if/elif/else; for loops with
// `loop.*`, a filter condition, else, break and continue; set (also tuples, blocks, and
// namespace attributes); macros with defaults, varargs and kwargs; {% filter %} blocks;
// literals, lists, dicts, tuples, member access, indexing and slicing, arithmetic, `~`,
// comparisons, and/or/not, in/not in, tests (`is defined`, `is none`, `is string`, ...),
// ternaries; the oracle's filters (trim, length, upper, lower, tojson, join, default,
// first, last, string, int, float, replace, list, items, sort, selectattr, map, indent,
// ...), string and dict methods, and the globals raise_exception, range, namespace and
// strftime_now. Everything else fails with vki::Error naming the construct and its line
// and column; nothing is skipped silently.
//
// Outside the subset, with an error where the package renders: {% call %} blocks, printing a
// function, a string index that falls inside a character outside the BMP (the package yields
// half a UTF-16 surrogate pair), tojson(sort_keys=true) on keys that are not printable ASCII
// (the package orders them by locale). `**` on non-integers uses the C library's pow, which
// can differ from the package's in the last digit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "vkinfer/vkinfer.hpp"  // vki::Error, ErrorCode

namespace vki::model {

struct ChatMessage {
    std::string role;
    std::string content;
};

struct ChatTemplateOptions {
    bool add_generation_prompt = true;
    std::string bos_token;
    std::string eos_token;
    // Further template variables as a JSON object, e.g. {"tools": [...], "date_string": "26 Jul 2024"};
    // empty for none. A name that is already defined (messages, range, true, ...) is rejected.
    std::string variables_json;
    // Bounds that stop a hostile template: the size of the output and of any string it
    // builds, and the number of evaluation steps (about one per node evaluated). Exceeding
    // one fails the render with kInvalidArgument.
    size_t max_output_bytes = size_t{16} << 20;
    uint64_t max_steps = 10'000'000;
};

// Parses once, renders many times. render() is const and may run concurrently on one object;
// a moved-from ChatTemplate must not render.
class ChatTemplate {
public:
    // Throws vki::Error: kBadFile on a syntax error, kUnsupported on constructs outside the
    // subset (e.g. {% include %}, {% call %}) or nesting too deep; with line and column.
    explicit ChatTemplate(std::string_view source);
    ~ChatTemplate();
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;

    // Renders the conversation with the variables messages (each a dict with role and
    // content), add_generation_prompt, bos_token, eos_token and those of variables_json.
    // Throws vki::Error: kInvalidArgument when the template calls raise_exception (the message
    // includes the template's text), on a type error in the template, on bad variables_json,
    // or past a limit; kUnsupported for a filter, test or method outside the subset.
    std::string render(std::span<const ChatMessage> messages, const ChatTemplateOptions& options) const;

private:
    struct Impl;
    std::unique_ptr<const Impl> impl_;
};

}  // namespace vki::model
