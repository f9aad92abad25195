// `vkinfer perplexity` as a user runs it: the table, --json, a base model and the same
// base from a saved logits file, and clear errors for texts, contexts, vocabularies and
// logits files that do not fit.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/gguf.hpp"
#include "support/sample_text.hpp"
#include "support/shell.hpp"
#include "support/test_models.hpp"

namespace vki {
namespace {

const std::string kCli = VKI_CLI_PATH;

class PerplexityCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = ::testing::TempDir() + "vkinfer-ppl-" + std::to_string(::getpid());
        std::filesystem::create_directories(dir_);
        std::ofstream(dir_ + "/text.txt") << test::sampleText(30);
        for (const char* recipe : {"f16", "q8_0", "q4_0"})
            models_.push_back(test::testModel(model::Arch::kLlama, recipe).string());
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // perplexity over the text with a context of 32 and the given arguments.
    // Standard error goes to log.txt unless `redirect` says otherwise.
    test::ShellResult perplexity(const std::string& args, const std::string& redirect = "") {
        return test::runShell(kCli + " perplexity -f " + dir_ + "/text.txt --ctx 32 " + args + " " +
                              (redirect.empty() ? "2>>" + dir_ + "/log.txt" : redirect));
    }

    std::string dir_;
    std::vector<std::string> models_;  // f16, q8_0, q4_0: one set of weights
};

std::string format(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), f, v);
    return buf;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST_F(PerplexityCli, BaseModelAndSavedLogitsGiveTheSameNumbers) {
    const std::string quants = " -m " + models_[1] + " -m " + models_[2];
    const std::string saved = dir_ + "/f16.logits";
    // The F16 base runs first in this run; its logits are saved.
    test::ShellResult r = perplexity("--chunks 2 --kl-divergence " + models_[0] + " --save-logits " + saved + quants);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(std::filesystem::exists(saved));
    const auto table = lines(r.output);
    // A summary line, the header, the base, one row per model, where the logits went.
    ASSERT_EQ(table.size(), 6u) << r.output;
    EXPECT_NE(table[0].find("2 chunks of 32, 30 tokens scored"), std::string::npos) << table[0];
    for (const char* column :
         {"model", "type", "size MiB", "ppl ± err", "Δppl ± err", "mean KL ± err", "top-1 %", "tok/s"})
        EXPECT_NE(table[1].find(column), std::string::npos) << column << " in " << table[1];
    EXPECT_EQ(table[2].rfind("llama-f16-1.gguf (base)", 0), 0u) << table[2];
    EXPECT_NE(table[2].find("F16"), std::string::npos) << table[2];

    // The same comparison against the saved file, as JSON; the chunk count comes from it.
    r = perplexity("--json --kl-divergence " + saved + quants);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["chunks"], 2);
    EXPECT_EQ(j["scored_tokens"], 30);  // 2 x (32 - 1 - 16)
    EXPECT_EQ(j["base"]["kind"], "logits");
    ASSERT_EQ(j["models"].size(), 2u);
    EXPECT_NE(table[2].find(format("%.4f ±", j["base"]["ppl"].get<double>())), std::string::npos) << table[2];
    const char* types[] = {"Q8_0", "Q4_0"};
    for (int i = 0; i < 2; ++i) {
        const auto& m = j["models"][i];
        EXPECT_EQ(m["type"], types[i]);
        for (const char* key : {"model", "size_mib", "ppl", "ppl_error", "delta_ppl", "ppl_ratio", "kl_mean",
                                "kl_error", "kl_median", "kl_p99", "top1_agreement", "tok_per_s", "running_ppl"})
            EXPECT_TRUE(m.contains(key)) << key;
        EXPECT_GT(m["kl_mean"].get<double>(), 0.0);
        EXPECT_GT(m["top1_agreement"].get<double>(), 50.0);
        EXPECT_LE(m["top1_agreement"].get<double>(), 100.0);
        EXPECT_EQ(m["running_ppl"].size(), 2u);
        // f32 logits in the file and a deterministic device: the numbers of the base
        // model's run, as the table printed them.
        const std::string& row = table[3 + i];
        EXPECT_EQ(row.rfind(std::filesystem::path(models_[1 + i]).filename().string(), 0), 0u) << row;
        EXPECT_NE(row.find(types[i]), std::string::npos) << row;
        for (const auto& [key, f] :
             {std::pair{"ppl", "%.4f ±"}, std::pair{"delta_ppl", "%.4f ±"}, std::pair{"kl_mean", "%.4g ±"},
              std::pair{"kl_p99", "%.4g"}, std::pair{"top1_agreement", "%.2f ±"}})
            EXPECT_NE(row.find(format(f, m[key].get<double>())), std::string::npos) << key << " in " << row;
    }
    EXPECT_LT(j["models"][0]["kl_mean"].get<double>(), j["models"][1]["kl_mean"].get<double>());
    // Both runs under the validation layer (support/environment.cpp), without a message.
    std::ifstream log(dir_ + "/log.txt");
    const std::string messages((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(messages.find("chunk 2/2"), std::string::npos) << messages;
    EXPECT_EQ(messages.find("VUID"), std::string::npos) << messages;
}

TEST_F(PerplexityCli, TooShortTextIsAClearError) {
    std::ofstream(dir_ + "/short.txt") << "Hello world, this text is far too short.";
    const test::ShellResult r =
        test::runShell(kCli + " perplexity -m " + models_[1] + " -f " + dir_ + "/short.txt --ctx 64 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_FALSE(r.signaled);
    EXPECT_NE(r.output.find("needs at least 128"), std::string::npos) << r.output;
}

TEST_F(PerplexityCli, MismatchedInputsAreClearErrors) {
    test::ShellResult r =
        test::runShell(kCli + " perplexity -m " + models_[1] + " -f " + dir_ + "/text.txt --ctx 1024 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--ctx 1024 is above the context of"), std::string::npos) << r.output;

    // The F16 model with one token renamed: another vocabulary.
    const auto f16 = model::GgufFile::open(models_[0]);
    model::GgufWriter writer(f16.alignment());
    for (const auto& kv : f16.metadata()) {
        if (kv.key != "tokenizer.ggml.tokens") {
            writer.set(kv.key, kv.value);
            continue;
        }
        std::vector<std::string> tokens = kv.value.asArray()->strings;
        tokens[1000] = "renamed";
        writer.set(kv.key, model::GgufValue::stringArray(tokens));
    }
    for (const auto& t : f16.tensors()) writer.addTensor(t.name, t.shape, t.type, f16.tensorData(t));
    writer.write(dir_ + "/other-vocab.gguf");
    r = perplexity("-m " + dir_ + "/other-vocab.gguf --kl-divergence " + models_[0], "2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("has a different vocabulary from the base model"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("token 1000"), std::string::npos) << r.output;

    std::ofstream(dir_ + "/junk.bin") << "not a model, not logits";
    r = perplexity("-m " + models_[1] + " --kl-divergence " + dir_ + "/junk.bin", "2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("neither a GGUF model nor a logits file"), std::string::npos) << r.output;

    // A logits file cut short.
    std::ofstream(dir_ + "/cut.logits", std::ios::binary).write("VKIPPLLG\1\0\0\0", 12);
    r = perplexity("-m " + models_[1] + " --kl-divergence " + dir_ + "/cut.logits", "2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("too short for a saved-logits header"), std::string::npos) << r.output;

    r = perplexity("-m " + models_[1] + " -m " + models_[2] + " --save-logits " + dir_ + "/x.logits", "2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("give one -m"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace vki
