#include "chat/oracle.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace vki::test {
namespace {

namespace fs = std::filesystem;

// Totals over the whole run, printed when the test program ends.
size_t g_identical = 0;
size_t g_both_failed = 0;
size_t g_compared = 0;

class OracleSummary : public ::testing::Environment {
public:
    void TearDown() override {
        if (g_compared == 0) return;
        std::printf(
            "[oracle] %zu of %zu renders compared with @huggingface/jinja: %zu byte-identical outputs, %zu "
            "failing on both sides\n",
            g_identical + g_both_failed, g_compared, g_identical, g_both_failed);
    }
};
[[maybe_unused]] ::testing::Environment* const g_summary = ::testing::AddGlobalTestEnvironment(new OracleSummary);

// Runs a shell command and returns its standard output and exit status.
std::pair<std::string, int> runCommand(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {"", -1};
    char buf[65536];
    size_t n = 0;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    const int status = pclose(pipe);
    return {out, status};
}

std::string quote(const std::string& s) {
    return "'" + s + "'";
}

nlohmann::ordered_json requestCase(const OracleCase& c) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (const auto& m : c.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    nlohmann::ordered_json j = {{"template", c.source},
                                {"messages", messages},
                                {"add_generation_prompt", c.options.add_generation_prompt},
                                {"bos_token", c.options.bos_token},
                                {"eos_token", c.options.eos_token}};
    if (!c.options.variables_json.empty()) j["variables"] = nlohmann::ordered_json::parse(c.options.variables_json);
    return j;
}

}  // namespace

std::optional<std::string> oracleUnavailable() {
    static const std::optional<std::string> reason = []() -> std::optional<std::string> {
        if (runCommand("node --version >/dev/null 2>&1").second != 0) {
            return std::string("node is not installed: the @huggingface/jinja oracle cannot run");
        }
        const fs::path package = fs::path(VKI_NPM_DIR) / "node_modules/@huggingface/jinja/package.json";
        if (!fs::exists(package)) {
            return "@huggingface/jinja is not installed in " + std::string(VKI_NPM_DIR) +
                   " (the ctest fixture setup.npm_oracles installs it)";
        }
        return std::nullopt;
    }();
    return reason;
}

std::vector<OracleResult> runOracle(const std::vector<OracleCase>& cases) {
    static int counter = 0;
    nlohmann::ordered_json request = {{"cases", nlohmann::ordered_json::array()}};
    for (const auto& c : cases) request["cases"].push_back(requestCase(c));
    const fs::path path = fs::temp_directory_path() / ("vkinfer-chat-oracle-" + std::to_string(getpid()) + "-" +
                                                       std::to_string(counter++) + ".json");
    {
        std::ofstream f(path, std::ios::binary);
        f << request.dump();
    }
    const std::string script = std::string(VKI_TESTS_DIR) + "/chat/render.mjs";
    const auto [out, status] = runCommand("node " + quote(script) + " " + quote(VKI_NPM_DIR) + " " + quote(path));
    fs::remove(path);
    if (status != 0) throw std::runtime_error("the oracle failed (status " + std::to_string(status) + "): " + out);
    const nlohmann::json results = nlohmann::json::parse(out);
    std::vector<OracleResult> parsed;
    for (const auto& r : results) {
        OracleResult res;
        res.ok = r.at("ok").get<bool>();
        if (res.ok) {
            res.output = r.at("output").get<std::string>();
        } else {
            res.error = r.at("error").get<std::string>();
        }
        parsed.push_back(std::move(res));
    }
    if (parsed.size() != cases.size()) throw std::runtime_error("the oracle returned a wrong number of results");
    return parsed;
}

size_t expectSameAsOracle(const std::vector<OracleCase>& cases) {
    const std::vector<OracleResult> expected = runOracle(cases);
    size_t identical = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
        const OracleCase& c = cases[i];
        OracleResult actual;
        try {
            actual.output = model::ChatTemplate(c.source).render(c.messages, c.options);
            actual.ok = true;
        } catch (const Error& e) {
            actual.error = e.what();
        }
        ++g_compared;
        if (expected[i].ok && actual.ok) {
            EXPECT_EQ(actual.output, expected[i].output) << c.label << "\ntemplate: " << c.source;
            if (actual.output == expected[i].output) {
                ++identical;
                ++g_identical;
            }
        } else if (expected[i].ok) {
            ADD_FAILURE() << c.label << ": vkinfer failed where the oracle renders\n  vkinfer: " << actual.error
                          << "\n  oracle output: " << expected[i].output << "\n  template: " << c.source;
        } else if (actual.ok) {
            ADD_FAILURE() << c.label << ": the oracle fails where vkinfer renders\n  oracle: " << expected[i].error
                          << "\n  vkinfer output: " << actual.output << "\n  template: " << c.source;
        } else {
            // Both fail. A raise_exception in the template must carry the same text on both sides.
            const std::string marker = "template error: ";
            const size_t at = actual.error.find(marker);
            if (at != std::string::npos) {
                EXPECT_EQ(actual.error.substr(at + marker.size()), expected[i].error) << c.label;
            }
            if (std::getenv("VKI_CHAT_ORACLE_VERBOSE") != nullptr) {
                std::printf("both fail: %s\n  vkinfer: %s\n  oracle: %s\n", c.label.c_str(), actual.error.c_str(),
                            expected[i].error.c_str());
            }
            ++identical;
            ++g_both_failed;
        }
    }
    return identical;
}

}  // namespace vki::test
