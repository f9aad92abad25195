// `vkinfer run -f prompts.txt` and `--json` as a user runs them: prompts batched through
// vki::Engine, JSON Lines in input order, the same greedy tokens as a prompt run alone,
// per-prompt errors that do not stop the others, and clear errors for bad files and flags.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/shell.hpp"
#include "support/test_models.hpp"

namespace vki {
namespace {

const std::string kCli = VKI_CLI_PATH;

class RunBatchCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = ::testing::TempDir() + "vkinfer-run-batch-" + std::to_string(::getpid());
        std::filesystem::create_directories(dir_);
        model_ = test::testModel(model::Arch::kLlama, "q8_0").string();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string writePrompts(const std::string& name, const std::vector<std::string>& lines) {
        const std::string path = dir_ + "/" + name;
        std::ofstream out(path);
        for (const std::string& line : lines) out << line << "\n";
        return path;
    }

    // `vkinfer run` on the test model, greedy, 4 tokens, context 128; stderr to err.txt.
    test::ShellResult run(const std::string& args) {
        return test::runShell(kCli + " run -m " + model_ + " -n 4 --temp 0 --ctx 128 " + args + " 2>" + dir_ +
                              "/err.txt");
    }
    std::string stderrText() const {
        std::ifstream in(dir_ + "/err.txt");
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    std::string dir_, model_;
};

std::vector<nlohmann::json> jsonLines(const std::string& text) {
    std::vector<nlohmann::json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
}

// --samples 3: the first sample computes the prompt, two forks share its KV pages;
// each sample's seed is --seed + k, so the samples are what three runs with those
// seeds give, and sampling at temperature 1 makes them differ.
TEST_F(RunBatchCli, SamplesForkThePromptAndFollowTheirSeeds) {
    const std::string prompt = "Once upon a time in a land far away";
    auto sampled = [&](const std::string& args) {
        return test::runShell(kCli + " run -m " + model_ + " --ctx 128 -p \"" + prompt +
                              "\" --temp 1 --top-k 40 -n 6 --json " + args + " 2>" + dir_ + "/err.txt");
    };
    const test::ShellResult r = sampled("--seed 7 --samples 3");
    ASSERT_EQ(r.exit_code, 0) << r.output << stderrText();
    std::vector<nlohmann::json> lines;
    ASSERT_NO_THROW(lines = jsonLines(r.output)) << r.output;
    ASSERT_EQ(lines.size(), 3u) << r.output;
    for (uint32_t k = 0; k < 3; ++k) {
        EXPECT_EQ(lines[k]["index"], 0);
        EXPECT_EQ(lines[k]["sample"], k);
        const test::ShellResult alone = sampled("--seed " + std::to_string(7 + k));
        ASSERT_EQ(alone.exit_code, 0) << alone.output << stderrText();
        EXPECT_EQ(lines[k]["tokens"], jsonLines(alone.output)[0]["tokens"]) << "sample " << k;
    }
    const int prompt_tokens = lines[0]["prompt_tokens"].get<int>();
    EXPECT_EQ(lines[1]["cached_tokens"].get<int>(), prompt_tokens - 1) << "a fork computes only the last prompt token";
    EXPECT_NE(lines[0]["tokens"], lines[1]["tokens"]);
}

TEST_F(RunBatchCli, FileGivesJsonLinesInOrderWithTheTokensOfASinglePrompt) {
    const std::vector<std::string> prompts = {"Hello world", "The capital of France is", "Once upon a time",
                                              "One two three four", "The quick brown fox"};
    const std::string file =
        writePrompts("prompts.txt", {prompts[0], "", prompts[1], prompts[2], "  ", prompts[3], prompts[4]});
    const test::ShellResult r = run("-f " + file + " --parallel 3 --json");
    ASSERT_EQ(r.exit_code, 0) << r.output << stderrText();
    std::vector<nlohmann::json> lines;
    ASSERT_NO_THROW(lines = jsonLines(r.output)) << r.output;
    ASSERT_EQ(lines.size(), prompts.size()) << r.output;
    for (size_t i = 0; i < lines.size(); ++i) {
        const nlohmann::json& j = lines[i];
        EXPECT_EQ(j["index"], i);
        EXPECT_EQ(j["prompt"], prompts[i]);
        EXPECT_GT(j["prompt_tokens"].get<int>(), 0);
        EXPECT_TRUE(j.contains("cached_tokens"));
        ASSERT_TRUE(j["tokens"].is_array());
        EXPECT_LE(j["tokens"].size(), 4u);
        EXPECT_TRUE(j["text"].is_string());
        EXPECT_FALSE(j["stop_reason"].get<std::string>().empty());
        EXPECT_NE(j["stop_reason"], "error") << j.dump();
        EXPECT_FALSE(j.contains("error"));
        for (const char* key : {"queue_s", "ttft_s", "total_s"}) EXPECT_TRUE(j["timings"].contains(key)) << key;
    }
    const std::string err = stderrText();
    EXPECT_NE(err.find("5 prompts"), std::string::npos) << err;
    EXPECT_NE(err.find("preemptions"), std::string::npos) << err;

    // Greedy: each prompt alone gives the tokens it got in the batch.
    for (size_t i : {size_t{1}, size_t{4}}) {
        const test::ShellResult one = run("--json -p '" + prompts[i] + "'");
        ASSERT_EQ(one.exit_code, 0) << one.output << stderrText();
        std::vector<nlohmann::json> single;
        ASSERT_NO_THROW(single = jsonLines(one.output)) << one.output;
        ASSERT_EQ(single.size(), 1u) << one.output;
        EXPECT_EQ(single[0]["index"], 0);
        EXPECT_EQ(single[0]["prompt"], prompts[i]);
        EXPECT_EQ(single[0]["tokens"], lines[i]["tokens"]) << "prompt " << i;
        EXPECT_EQ(single[0]["prompt_tokens"], lines[i]["prompt_tokens"]);
    }
}

TEST_F(RunBatchCli, PromptLongerThanTheContextFailsAloneAndExitsOne) {
    std::string long_line;
    for (int i = 0; i < 600; ++i) long_line += i ? " word" : "word";
    const std::string file = writePrompts("prompts.txt", {"Hello world", long_line, "Once upon a time"});
    test::ShellResult r = run("-f " + file + " --parallel 2 --json");
    EXPECT_EQ(r.exit_code, 1) << r.output << stderrText();
    std::vector<nlohmann::json> lines;
    ASSERT_NO_THROW(lines = jsonLines(r.output)) << r.output;
    ASSERT_EQ(lines.size(), 3u) << r.output;
    EXPECT_EQ(lines[1]["stop_reason"], "error");
    ASSERT_TRUE(lines[1].contains("error"));
    EXPECT_NE(lines[1]["error"].get<std::string>().find("context"), std::string::npos) << lines[1].dump();
    for (size_t i : {size_t{0}, size_t{2}}) {
        EXPECT_NE(lines[i]["stop_reason"], "error") << lines[i].dump();
        EXPECT_FALSE(lines[i].contains("error"));
        EXPECT_GE(lines[i]["tokens"].size(), 1u);
    }

    // Without --json: the blocks on stdout, the error on stderr, exit code 1.
    r = run("-f " + file + " --parallel 2");
    EXPECT_EQ(r.exit_code, 1) << r.output << stderrText();
    EXPECT_NE(r.output.find("Once upon a time"), std::string::npos) << r.output;
    const std::string err = stderrText();
    EXPECT_NE(err.find("prompt 2"), std::string::npos) << err;
    EXPECT_NE(err.find("does not fit the context of 128 tokens"), std::string::npos) << err;
}

TEST_F(RunBatchCli, MissingOrEmptyFileIsAClearError) {
    const std::string missing = dir_ + "/no-such-prompts.txt";
    test::ShellResult r = run("-f " + missing);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_FALSE(r.signaled);
    EXPECT_TRUE(r.output.empty()) << r.output;
    std::string err = stderrText();
    EXPECT_NE(err.find(missing), std::string::npos) << err;
    EXPECT_NE(err.find("does not exist"), std::string::npos) << err;

    const std::string empty = writePrompts("empty.txt", {"", "   ", ""});
    r = run("-f " + empty + " --json");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(r.output.empty()) << r.output;
    err = stderrText();
    EXPECT_NE(err.find(empty), std::string::npos) << err;
    EXPECT_NE(err.find("no prompts"), std::string::npos) << err;
}

TEST_F(RunBatchCli, BadFlagsAreRejected) {
    const std::string file = writePrompts("prompts.txt", {"Hello world"});
    test::ShellResult r = run("-f " + file + " --parallel 0");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_FALSE(r.signaled);
    EXPECT_NE(stderrText().find("--parallel must be at least 1"), std::string::npos) << stderrText();

    r = run("-f " + file + " -p 'Hello'");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(stderrText().find("excludes"), std::string::npos) << stderrText();

    r = run("-p 'Hello' --parallel 2");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(stderrText().find("need -f prompts.txt, --json or --samples"), std::string::npos) << stderrText();
}

// --kv-type q8_0 through the engine (-f) and on a single prompt: both generate and
// name the cache type on stderr; other types are refused.
TEST_F(RunBatchCli, KvTypeQ8_0IsUsedAndReported) {
    const std::string file = writePrompts("prompts.txt", {"Hello world", "The capital of France is"});
    test::ShellResult r = run("-f " + file + " --parallel 2 --json --kv-type q8_0");
    ASSERT_EQ(r.exit_code, 0) << r.output << stderrText();
    std::vector<nlohmann::json> lines;
    ASSERT_NO_THROW(lines = jsonLines(r.output)) << r.output;
    ASSERT_EQ(lines.size(), 2u) << r.output;
    for (const nlohmann::json& j : lines) {
        EXPECT_NE(j["stop_reason"], "error") << j.dump();
        EXPECT_FALSE(j["tokens"].empty()) << j.dump();
    }
    EXPECT_NE(stderrText().find("KV cache q8_0"), std::string::npos) << stderrText();

    r = run("-p 'Hello' --kv-type q8_0");
    ASSERT_EQ(r.exit_code, 0) << r.output << stderrText();
    EXPECT_NE(stderrText().find("KV cache q8_0"), std::string::npos) << stderrText();
    EXPECT_NE(stderrText().find("MiB q8_0"), std::string::npos) << stderrText();

    r = run("-p 'Hello' --kv-type q4_0");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(stderrText().find("--kv-type"), std::string::npos) << stderrText();
}

}  // namespace
}  // namespace vki
