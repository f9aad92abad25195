// Runs chat templates through the oracle, Hugging Face's @huggingface/jinja under node
// (tests/chat/render.mjs), and compares vkinfer's renderer with it byte for byte.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/chat/chat_template.hpp"

namespace vki::test {

struct OracleCase {
    std::string label;  // names the case in failure messages
    std::string source;
    std::vector<model::ChatMessage> messages;
    model::ChatTemplateOptions options;
};

struct OracleResult {
    bool ok = false;
    std::string output;  // when ok
    std::string error;   // when not
};

// Why the oracle cannot run (node missing, package not installed), or nullopt when it can.
std::optional<std::string> oracleUnavailable();

// Renders every case with the oracle in one node process.
std::vector<OracleResult> runOracle(const std::vector<OracleCase>& cases);

// Renders every case with vkinfer and with the oracle and records a test failure for each
// difference: output bytes, or one side failing where the other renders. Returns how many
// cases rendered identically.
size_t expectSameAsOracle(const std::vector<OracleCase>& cases);

}  // namespace vki::test

// Skips the current test, saying why, when the oracle is not available.
#define VKI_REQUIRE_ORACLE()                                                   \
    do {                                                                       \
        if (auto why = ::vki::test::oracleUnavailable()) GTEST_SKIP() << *why; \
    } while (0)
