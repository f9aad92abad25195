#include "model/convert.hpp"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/quantize.hpp"
#include "model/safetensors.hpp"
#include "model/vocab_io.hpp"

namespace vki::model {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json readJson(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::kIo, "cannot read " + path.string());
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw Error(ErrorCode::kBadFile, path.string() + " is not valid JSON: " + e.what());
    }
}

uint32_t need(const json& config, const char* key, const fs::path& path) {
    if (!config.contains(key) || !config[key].is_number_unsigned() || config[key].get<uint64_t>() > UINT32_MAX)
        throw Error(ErrorCode::kBadFile, path.string() + ": \"" + key + "\" is missing or not a positive integer");
    return config[key].get<uint32_t>();
}

ModelConfig configFromHf(const json& c, const fs::path& path) {
    static const std::map<std::string, Arch> kArchitectures = {
        {"LlamaForCausalLM", Arch::kLlama}, {"MistralForCausalLM", Arch::kLlama}, {"Qwen2ForCausalLM", Arch::kQwen2}};
    std::string found = "none";
    ModelConfig m;
    bool known = false;
    if (c.contains("architectures") && c["architectures"].is_array() && !c["architectures"].empty() &&
        c["architectures"][0].is_string()) {
        found = c["architectures"][0].get<std::string>();
        if (auto it = kArchitectures.find(found); it != kArchitectures.end()) {
            m.arch = it->second;
            known = true;
        }
    }
    if (!known)
        throw Error(ErrorCode::kUnsupported, path.string() + ": architecture " + found +
                                                 " is not supported (LlamaForCausalLM, MistralForCausalLM, "
                                                 "Qwen2ForCausalLM are)");
    m.n_vocab = need(c, "vocab_size", path);
    m.n_ctx = need(c, "max_position_embeddings", path);
    m.n_embd = need(c, "hidden_size", path);
    m.n_layer = need(c, "num_hidden_layers", path);
    m.n_head = need(c, "num_attention_heads", path);
    m.n_head_kv = c.contains("num_key_value_heads") ? need(c, "num_key_value_heads", path) : m.n_head;
    m.n_ff = need(c, "intermediate_size", path);
    m.head_dim = c.contains("head_dim") && c["head_dim"].is_number_unsigned() ? c["head_dim"].get<uint32_t>()
                                                                              : m.n_embd / std::max(m.n_head, 1u);
    m.rms_eps = c.value("rms_norm_eps", 1e-5f);
    m.rope_theta = c.value("rope_theta", 10000.0f);
    m.tied_embeddings = c.value("tie_word_embeddings", false);
    if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) {
        const json& s = c["rope_scaling"];
        const std::string type = s.value("rope_type", s.value("type", std::string("none")));
        if (type == "linear") {
            m.rope_scaling = RopeScaling::kLinear;
        } else if (type == "llama3") {
            m.rope_scaling = RopeScaling::kLlama3;
            m.rope_low_freq_factor = s.value("low_freq_factor", 1.0f);
            m.rope_high_freq_factor = s.value("high_freq_factor", 4.0f);
            m.rope_original_ctx = s.value("original_max_position_embeddings", 8192u);
        } else if (type != "default" && type != "none") {
            throw Error(ErrorCode::kUnsupported,
                        path.string() + ": rope scaling \"" + type + "\" is not supported (linear, llama3 are)");
        }
        m.rope_factor = s.value("factor", 1.0f);
    }
    // Sliding window: Mistral's covers every layer when set (null: none); Qwen2's only
    // with use_sliding_window, and only the layers from max_window_layers on.
    if (c.contains("sliding_window") && !c["sliding_window"].is_null()) {
        const uint32_t window = need(c, "sliding_window", path);
        if (found == "MistralForCausalLM") {
            m.sliding_window = window;
        } else if (c.value("use_sliding_window", false)) {
            const uint32_t from = c.value("max_window_layers", 0u);
            if (from == 0) {
                m.sliding_window = window;
            } else if (from < m.n_layer) {
                throw Error(ErrorCode::kUnsupported, path.string() + ": a sliding window on layers " +
                                                         std::to_string(from) +
                                                         " and up only is not supported "
                                                         "(per-layer windows)");
            }
        }
    }
    m.validate();
    return m;
}

// GGUF name -> Hugging Face name of every tensor tensorSpecs lists.
std::string hfName(const std::string& gguf) {
    static const std::map<std::string, std::string> kGlobal = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                               {"output_norm.weight", "model.norm.weight"},
                                                               {"output.weight", "lm_head.weight"}};
    static const std::map<std::string, std::string> kLayer = {{"attn_norm.weight", "input_layernorm.weight"},
                                                              {"attn_q.weight", "self_attn.q_proj.weight"},
                                                              {"attn_k.weight", "self_attn.k_proj.weight"},
                                                              {"attn_v.weight", "self_attn.v_proj.weight"},
                                                              {"attn_q.bias", "self_attn.q_proj.bias"},
                                                              {"attn_k.bias", "self_attn.k_proj.bias"},
                                                              {"attn_v.bias", "self_attn.v_proj.bias"},
                                                              {"attn_output.weight", "self_attn.o_proj.weight"},
                                                              {"ffn_norm.weight", "post_attention_layernorm.weight"},
                                                              {"ffn_gate.weight", "mlp.gate_proj.weight"},
                                                              {"ffn_up.weight", "mlp.up_proj.weight"},
                                                              {"ffn_down.weight", "mlp.down_proj.weight"}};
    if (auto it = kGlobal.find(gguf); it != kGlobal.end()) return it->second;
    const size_t dot = gguf.find('.', 4);
    const std::string layer = gguf.substr(4, dot - 4), rest = gguf.substr(dot + 1);
    return "model.layers." + layer + "." + kLayer.at(rest);
}

std::optional<quant::DType> asQuantType(SafetensorsDType t) {
    switch (t) {
        case SafetensorsDType::kF32:
            return quant::DType::kF32;
        case SafetensorsDType::kF16:
            return quant::DType::kF16;
        case SafetensorsDType::kBF16:
            return quant::DType::kBF16;
        default:
            return std::nullopt;
    }
}

// llama.cpp's llama converter reorders each head's rows of Q and K from Hugging Face's
// rotate-half layout (pairs (i, i + d/2)) to interleaved pairs (2i, 2i + 1).
uint64_t permutedSourceRow(uint64_t row, uint64_t head_dim) {
    const uint64_t head = row / head_dim, r = row % head_dim, half = head_dim / 2;
    return head * head_dim + (r % 2) * half + r / 2;
}

}  // namespace

ConvertReport convertHfFolder(const fs::path& folder, const fs::path& out, const ConvertOptions& options,
                              const std::function<void(size_t, size_t)>& progress) {
    if (!fs::is_directory(folder)) throw Error(ErrorCode::kIo, folder.string() + " is not a folder");
    if (options.out_type != quant::DType::kF32 && options.out_type != quant::DType::kF16 &&
        options.out_type != quant::DType::kBF16)
        throw Error(ErrorCode::kInvalidArgument, "convert writes f32, f16 or bf16; quantize afterwards");

    Vocab vocab = loadVocab(folder);
    GgufWriter writer;
    ConvertReport report;
    const fs::path config_path = folder / "config.json";
    const bool has_config = fs::exists(config_path);
    if (!has_config && !options.vocab_only) throw Error(ErrorCode::kIo, config_path.string() + " is missing");
    ModelConfig config;
    if (has_config) {
        config = configFromHf(readJson(config_path), config_path);
        config.name = folder.filename().string();
        if (vocab.tokens.size() > config.n_vocab)
            throw Error(ErrorCode::kBadFile, "the tokenizer has " + std::to_string(vocab.tokens.size()) +
                                                 " tokens but config.json says vocab_size " +
                                                 std::to_string(config.n_vocab));
        // Checkpoints pad the embedding past the tokenizer; name the extra rows as llama.cpp does.
        for (size_t id = vocab.tokens.size(); id < config.n_vocab; ++id) {
            vocab.tokens.push_back("[PAD" + std::to_string(id) + "]");
            if (!vocab.scores.empty()) vocab.scores.push_back(-1000.0f);
            if (!vocab.types.empty()) vocab.types.push_back(TokenType::kUnused);
        }
        writeConfig(writer, config);
        report.arch = archName(config.arch);
    } else {
        writer.set("general.architecture", GgufValue::string("llama"));
        report.arch = "none (vocab only)";
    }
    writer.set("general.file_type", GgufValue::u32(ggufFileType(options.out_type, false)));
    writeVocab(writer, vocab);
    report.vocab = vocab.tokens.size();

    std::vector<SafetensorsFile> shards;
    std::map<std::string, std::pair<const SafetensorsFile*, const SafetensorsTensor*>> by_name;
    if (!options.vocab_only) {
        for (const auto& entry : fs::directory_iterator(folder))
            if (entry.path().extension() == ".safetensors") shards.push_back(SafetensorsFile::open(entry.path()));
        if (shards.empty()) throw Error(ErrorCode::kIo, folder.string() + " holds no .safetensors files");
        for (const auto& shard : shards)
            for (const auto& t : shard.tensors()) by_name[t.name] = {&shard, &t};
        if (!by_name.count("lm_head.weight")) config.tied_embeddings = true;

        const auto specs = tensorSpecs(config);
        for (size_t index = 0; index < specs.size(); ++index) {
            const TensorSpec spec = specs[index];
            if (spec.name == "rope_freqs.weight") {
                const auto factors = llama3RopeFactors(config);
                writer.addTensor(spec.name, spec.shape, quant::DType::kF32, std::as_bytes(std::span(factors)));
                continue;
            }
            const std::string source = hfName(spec.name);
            const auto it = by_name.find(source);
            if (it == by_name.end())
                throw Error(ErrorCode::kBadFile, folder.string() + ": tensor " + source + " (for " + spec.name +
                                                     ") is missing from the checkpoint");
            const SafetensorsFile* file = it->second.first;
            const SafetensorsTensor* tensor = it->second.second;
            std::vector<uint64_t> hf_shape(spec.shape.rbegin(), spec.shape.rend());
            if (tensor->shape != hf_shape) {
                std::string expected, got;
                for (uint64_t d : hf_shape) expected += std::to_string(d) + " ";
                for (uint64_t d : tensor->shape) got += std::to_string(d) + " ";
                throw Error(ErrorCode::kBadFile, file->name() + ": tensor " + source + " has shape [ " + got +
                                                     "], expected [ " + expected + "]");
            }
            const auto in_type = asQuantType(tensor->dtype);
            if (!in_type)
                throw Error(ErrorCode::kUnsupported, file->name() + ": tensor " + source + " is " +
                                                         safetensorsDTypeName(tensor->dtype) +
                                                         "; only F32, F16 and BF16 checkpoints are converted");
            const quant::DType type = spec.is_norm_or_bias ? quant::DType::kF32 : options.out_type;
            const bool permute = config.arch == Arch::kLlama &&
                                 (spec.name.ends_with("attn_q.weight") || spec.name.ends_with("attn_k.weight"));
            const uint64_t head_dim = config.head_dim;
            report.tensors += 1;
            report.parameters += tensor->elements;
            writer.addTensor(spec.name, spec.shape, type,
                             [=, &progress, &specs, in = *in_type, data = file->data(*tensor)](const auto& emit) {
                                 if (progress) progress(index, specs.size());
                                 const uint64_t row = spec.shape[0], rows = tensor->elements / row;
                                 const uint64_t in_row = quant::byteSize(in, row);
                                 std::vector<float> values(row);
                                 std::vector<std::byte> encoded(quant::byteSize(type, row));
                                 for (uint64_t r = 0; r < rows; ++r) {
                                     const uint64_t src = permute ? permutedSourceRow(r, head_dim) : r;
                                     quant::dequantize(in, data.subspan(src * in_row, in_row), values);
                                     quant::quantize(type, values, encoded);
                                     emit(encoded);
                                 }
                             });
        }
        // A tensor the architecture does not use means a variant this converter does not
        // know (extra norms, a different attention): converting without it would be wrong.
        std::set<std::string> used;
        for (const auto& spec : specs)
            if (spec.name != "rope_freqs.weight") used.insert(hfName(spec.name));
        for (const auto& [name, entry] : by_name)
            if (!used.count(name) && name.find("rotary_emb.inv_freq") == std::string::npos &&
                !(config.tied_embeddings && name == "lm_head.weight"))
                throw Error(ErrorCode::kUnsupported, entry.first->name() + ": tensor " + name + " is not part of the " +
                                                         archName(config.arch) +
                                                         " architecture as vkinfer converts it");
    }
    writer.write(out);
    if (progress) progress(1, 1);
    return report;
}

}  // namespace vki::model
