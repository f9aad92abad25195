// Converter: a small Hugging Face folder made here (config.json, safetensors, the
// Llama 2 SentencePiece model from testdata) converts to the GGUF llama.cpp would write.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/convert.hpp"
#include "model/vocab_io.hpp"

namespace vki::model {
namespace {

namespace fs = std::filesystem;

// The value of element i of HF tensor `name`: distinct per tensor and element, exact in f16.
float hfValue(const std::string& name, uint64_t i) {
    return static_cast<float>(std::hash<std::string>{}(name) % 61) / 64.0f + static_cast<float>(i % 512) / 1024.0f;
}

struct HfTensor {
    std::string name;
    std::vector<uint64_t> shape;
};

class Convert : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("vkinfer-convert-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        fs::copy_file(fs::path(VKI_TESTDATA_DIR) / "llama2-tokenizer.model", dir_ / "tokenizer.model");
    }
    void TearDown() override { fs::remove_all(dir_); }

    nlohmann::json config(const char* arch, bool tied) {
        return {{"architectures", {arch}},  {"vocab_size", 32000},        {"max_position_embeddings", 128},
                {"hidden_size", 16},        {"num_hidden_layers", 1},     {"num_attention_heads", 2},
                {"num_key_value_heads", 1}, {"intermediate_size", 24},    {"rms_norm_eps", 1e-6},
                {"rope_theta", 10000.0},    {"tie_word_embeddings", tied}};
    }

    std::vector<HfTensor> tensors(bool qwen, bool tied) {
        std::vector<HfTensor> t = {{"model.embed_tokens.weight", {32000, 16}},
                                   {"model.norm.weight", {16}},
                                   {"model.layers.0.input_layernorm.weight", {16}},
                                   {"model.layers.0.self_attn.q_proj.weight", {16, 16}},
                                   {"model.layers.0.self_attn.k_proj.weight", {8, 16}},
                                   {"model.layers.0.self_attn.v_proj.weight", {8, 16}},
                                   {"model.layers.0.self_attn.o_proj.weight", {16, 16}},
                                   {"model.layers.0.post_attention_layernorm.weight", {16}},
                                   {"model.layers.0.mlp.gate_proj.weight", {24, 16}},
                                   {"model.layers.0.mlp.up_proj.weight", {24, 16}},
                                   {"model.layers.0.mlp.down_proj.weight", {16, 24}}};
        if (!tied) t.push_back({"lm_head.weight", {32000, 16}});
        if (qwen) {
            t.push_back({"model.layers.0.self_attn.q_proj.bias", {16}});
            t.push_back({"model.layers.0.self_attn.k_proj.bias", {8}});
            t.push_back({"model.layers.0.self_attn.v_proj.bias", {8}});
        }
        return t;
    }

    void write(const nlohmann::json& cfg, const std::vector<HfTensor>& list) {
        std::ofstream(dir_ / "config.json") << cfg.dump();
        nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
        std::vector<float> data;
        for (const auto& t : list) {
            uint64_t n = 1;
            for (uint64_t d : t.shape) n *= d;
            header[t.name] = {
                {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {data.size() * 4, (data.size() + n) * 4}}};
            for (uint64_t i = 0; i < n; ++i) data.push_back(hfValue(t.name, i));
        }
        const std::string h = header.dump();
        const uint64_t n = h.size();
        std::ofstream out(dir_ / "model.safetensors", std::ios::binary);
        out.write(reinterpret_cast<const char*>(&n), 8);
        out.write(h.data(), static_cast<std::streamsize>(h.size()));
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * 4));
    }

    std::vector<float> values(const GgufFile& f, const std::string& name) {
        const GgufTensorInfo* t = f.findTensor(name);
        EXPECT_NE(t, nullptr) << name;
        if (!t) return {};
        std::vector<float> v(t->elements);
        quant::dequantize(t->type, f.tensorData(*t), v);
        return v;
    }

    fs::path dir_;
};

TEST_F(Convert, LlamaMatchesLlamaCppLayout) {
    write(config("LlamaForCausalLM", false), tensors(false, false));
    const fs::path out = dir_ / "out.gguf";
    const ConvertReport report = convertHfFolder(dir_, out, {quant::DType::kF32, false});
    EXPECT_EQ(report.arch, "llama");
    const GgufFile f = GgufFile::open(out);
    const ModelConfig c = readConfig(f);
    EXPECT_EQ(c.n_vocab, 32000u);
    EXPECT_EQ(c.n_head_kv, 1u);
    EXPECT_EQ(c.head_dim, 8u);
    EXPECT_FALSE(c.tied_embeddings);
    const Vocab v = readVocab(f);
    EXPECT_EQ(v.tokens.size(), 32000u);
    EXPECT_EQ(v.kind, TokenizerKind::kSpm);

    // Shapes reversed to ggml order; values carried exactly.
    const GgufTensorInfo* down = f.findTensor("blk.0.ffn_down.weight");
    ASSERT_NE(down, nullptr);
    EXPECT_EQ(down->shape, (std::vector<uint64_t>{24, 16}));
    const auto d = values(f, "blk.0.ffn_down.weight");
    for (uint64_t i = 0; i < d.size(); ++i) ASSERT_EQ(d[i], hfValue("model.layers.0.mlp.down_proj.weight", i));
    // Q and K rows are re-ordered per head from rotate-half to interleaved pairs:
    // GGUF row 2i + j of a head is HF row j * head_dim / 2 + i.
    for (const char* name : {"attn_q", "attn_k"}) {
        const auto q = values(f, std::string("blk.0.") + name + ".weight");
        const std::string hf = std::string("model.layers.0.self_attn.") + (name[5] == 'q' ? "q" : "k") + "_proj.weight";
        const uint64_t rows = q.size() / 16;
        for (uint64_t r = 0; r < rows; ++r) {
            const uint64_t head = r / 8, i = (r % 8) / 2, j = r % 2;
            const uint64_t src = head * 8 + j * 4 + i;
            for (uint64_t col = 0; col < 16; ++col) ASSERT_EQ(q[r * 16 + col], hfValue(hf, src * 16 + col)) << name;
        }
    }
    // V is not permuted.
    const auto vv = values(f, "blk.0.attn_v.weight");
    for (uint64_t i = 0; i < vv.size(); ++i) ASSERT_EQ(vv[i], hfValue("model.layers.0.self_attn.v_proj.weight", i));
}

TEST_F(Convert, Qwen2KeepsOrderHasBiasesAndTiesEmbeddings) {
    write(config("Qwen2ForCausalLM", true), tensors(true, true));
    const fs::path out = dir_ / "out.gguf";
    convertHfFolder(dir_, out, {quant::DType::kF16, false});
    const GgufFile f = GgufFile::open(out);
    const ModelConfig c = readConfig(f);
    EXPECT_EQ(c.arch, Arch::kQwen2);
    EXPECT_TRUE(c.tied_embeddings);
    EXPECT_EQ(f.findTensor("output.weight"), nullptr);
    EXPECT_EQ(f.findTensor("blk.0.attn_q.weight")->type, quant::DType::kF16);
    EXPECT_EQ(f.findTensor("blk.0.attn_q.bias")->type, quant::DType::kF32) << "1-D tensors stay f32";
    const auto q = values(f, "blk.0.attn_q.weight");
    for (uint64_t i = 0; i < q.size(); ++i) ASSERT_EQ(q[i], hfValue("model.layers.0.self_attn.q_proj.weight", i));
}

// Mistral's sliding window covers every layer; Qwen2's only with use_sliding_window
// (and max_window_layers 0); a window on some layers only is a clear error.
TEST_F(Convert, SlidingWindowsAsEachArchitectureDeclaresThem) {
    auto window = [&](nlohmann::json cfg) {
        write(cfg, tensors(cfg["architectures"][0] == "Qwen2ForCausalLM", false));
        convertHfFolder(dir_, dir_ / "out.gguf", {quant::DType::kF16, false});
        return readConfig(GgufFile::open(dir_ / "out.gguf")).sliding_window;
    };
    auto cfg = config("MistralForCausalLM", false);
    cfg["sliding_window"] = 4096;
    EXPECT_EQ(window(cfg), 4096u);
    cfg["sliding_window"] = nullptr;
    EXPECT_EQ(window(cfg), 0u);
    cfg = config("Qwen2ForCausalLM", false);
    cfg["sliding_window"] = 32;
    EXPECT_EQ(window(cfg), 0u) << "use_sliding_window is false by default";
    cfg["use_sliding_window"] = true;
    cfg["max_window_layers"] = 0;
    EXPECT_EQ(window(cfg), 32u);
    cfg["max_window_layers"] = 1;
    EXPECT_EQ(window(cfg), 0u) << "no layer from 1 on in a one-layer model";
    cfg["num_hidden_layers"] = 2;
    write(cfg, tensors(true, false));
    try {
        convertHfFolder(dir_, dir_ / "out2.gguf", {quant::DType::kF16, false});
        ADD_FAILURE() << "a window on layer 1 of 2 only should be an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("per-layer"), std::string::npos) << e.what();
    }
}

TEST_F(Convert, VocabOnly) {
    fs::remove(dir_ / "config.json");
    const fs::path out = dir_ / "vocab.gguf";
    convertHfFolder(dir_, out, {quant::DType::kF16, true});
    const GgufFile f = GgufFile::open(out);
    EXPECT_TRUE(f.tensors().empty());
    EXPECT_EQ(readVocab(f).tokens.size(), 32000u);
}

TEST_F(Convert, ProblemsAreClearErrors) {
    auto expect = [&](ErrorCode code, const char* what) {
        try {
            convertHfFolder(dir_, dir_ / "out.gguf", {});
            ADD_FAILURE() << "expected an error containing " << what;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), code) << e.what();
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
        EXPECT_FALSE(fs::exists(dir_ / "out.gguf"));
    };
    auto list = tensors(false, false);
    list.erase(list.begin() + 4);  // k_proj
    write(config("LlamaForCausalLM", false), list);
    expect(ErrorCode::kBadFile, "self_attn.k_proj.weight");

    list = tensors(false, false);
    list[3].shape = {16, 15};
    write(config("LlamaForCausalLM", false), list);
    expect(ErrorCode::kBadFile, "has shape");

    list = tensors(false, false);
    list.push_back({"model.layers.0.self_attn.q_norm.weight", {8}});
    write(config("LlamaForCausalLM", false), list);
    expect(ErrorCode::kUnsupported, "q_norm");

    write(config("GPTNeoXForCausalLM", false), tensors(false, false));
    expect(ErrorCode::kUnsupported, "GPTNeoXForCausalLM");

    auto cfg = config("LlamaForCausalLM", false);
    cfg["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    write(cfg, tensors(false, false));
    expect(ErrorCode::kUnsupported, "yarn");
}

}  // namespace
}  // namespace vki::model
