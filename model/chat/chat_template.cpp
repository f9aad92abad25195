#include "model/chat/chat_template.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/chat/jinja_interpreter.hpp"
#include "model/chat/jinja_lexer.hpp"
#include "model/chat/jinja_parser.hpp"

namespace vki::model {
namespace {

using jinja::Value;

// JSON as JavaScript's JSON.parse gives it to the oracle: integral numbers are integers,
// objects keep their key order.
Value fromJson(const nlohmann::ordered_json& j, int depth) {
    if (depth > jinja::kMaxValueDepth) {
        throw Error(ErrorCode::kInvalidArgument,
                    "chat template variables nest deeper than " + std::to_string(jinja::kMaxValueDepth) + " levels");
    }
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null:
            return Value::none();
        case nlohmann::ordered_json::value_t::boolean:
            return Value::boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
        case nlohmann::ordered_json::value_t::number_unsigned:
        case nlohmann::ordered_json::value_t::number_float:
            return Value::number(j.get<double>());
        case nlohmann::ordered_json::value_t::string:
            return Value::string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            for (const auto& item : j) items.push_back(fromJson(item, depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            jinja::Dict entries;
            for (const auto& [k, v] : j.items()) entries.set(k, fromJson(v, depth + 1));
            return Value::dict(std::move(entries));
        }
        default:
            break;
    }
    throw Error(ErrorCode::kInvalidArgument, "chat template variables hold a JSON value of an unsupported kind");
}

void setVariables(jinja::Scope& globals, const std::string& json) {
    nlohmann::ordered_json parsed;
    try {
        parsed = nlohmann::ordered_json::parse(json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::kInvalidArgument, std::string("ChatTemplateOptions::variables_json: ") + e.what());
    }
    if (!parsed.is_object()) {
        throw Error(ErrorCode::kInvalidArgument, "ChatTemplateOptions::variables_json must be a JSON object");
    }
    for (const auto& [name, value] : parsed.items()) {
        if (globals.hasOwn(name)) {
            throw Error(ErrorCode::kInvalidArgument, "chat template variable '" + name + "' is already defined");
        }
        try {
            globals.set(name, fromJson(value, 0));
        } catch (const jinja::EvalError& e) {
            throw Error(e.code(), "chat template variable '" + name + "': " + e.what());
        }
    }
}

}  // namespace

struct ChatTemplate::Impl {
    explicit Impl(std::string_view source) : map(source) {}
    jinja::SourceMap map;
    jinja::NodeList program;
};

ChatTemplate::ChatTemplate(std::string_view source) {
    if (source.size() > jinja::kMaxTemplateBytes) {
        throw Error(ErrorCode::kUnsupported, "chat template is " + std::to_string(source.size()) +
                                                 " bytes; templates up to " + std::to_string(jinja::kMaxTemplateBytes) +
                                                 " bytes are supported");
    }
    auto impl = std::make_unique<Impl>(source);
    impl->program = jinja::parse(jinja::tokenize(source, impl->map), impl->map);
    impl_ = std::move(impl);
}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(std::span<const ChatMessage> messages, const ChatTemplateOptions& options) const {
    VKI_ASSERT(impl_ != nullptr);
    jinja::Scope globals(nullptr);
    jinja::installGlobals(globals);
    std::vector<Value> list;
    list.reserve(messages.size());
    for (const ChatMessage& m : messages) {
        jinja::Dict message;
        message.set("role", Value::string(m.role));
        message.set("content", Value::string(m.content));
        list.push_back(Value::dict(std::move(message)));
    }
    try {
        globals.set("messages", Value::list(std::move(list)));
    } catch (const jinja::EvalError& e) {
        throw Error(e.code(), std::string("chat template messages: ") + e.what());
    }
    globals.set("add_generation_prompt", Value::boolean(options.add_generation_prompt));
    globals.set("bos_token", Value::string(options.bos_token));
    globals.set("eos_token", Value::string(options.eos_token));
    if (!options.variables_json.empty()) setVariables(globals, options.variables_json);

    jinja::Interpreter interpreter(impl_->map, jinja::Limits{options.max_output_bytes, options.max_steps});
    return interpreter.render(impl_->program, globals);
}

}  // namespace vki::model
