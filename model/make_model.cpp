#include "model/make_model.hpp"

#include <cmath>

#include "common/error.hpp"
#include "model/vocab_io.hpp"

namespace vki::model {

namespace {

// splitmix64: a counter-based generator, so any element can be made independently.
uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

bool endsWith(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void randomWeights(uint64_t seed, size_t tensor_index, const TensorSpec& spec, uint64_t first, std::span<float> out) {
    // Uniform on [-a, a] has standard deviation a / sqrt(3).
    float center = 0.0f, half_width;
    if (spec.is_norm_or_bias) {
        const bool norm = endsWith(spec.name, "norm.weight");
        center = norm ? 1.0f : 0.0f;
        half_width = 0.1f;
    } else if (spec.name == "token_embd.weight") {
        half_width = std::sqrt(3.0f);
    } else {
        half_width = std::sqrt(3.0f / static_cast<float>(spec.shape[0]));
    }
    const uint64_t stream = mix(seed ^ mix(tensor_index + 1));
    for (size_t i = 0; i < out.size(); ++i) {
        const uint64_t r = mix(stream + first + i);
        const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);  // [0, 1)
        out[i] = center + (2.0f * u - 1.0f) * half_width;
    }
}

void makeModel(const MakeModelOptions& options, const Vocab& vocab, const std::filesystem::path& out,
               const std::function<void(size_t, size_t)>& progress) {
    ModelConfig config = options.config;
    if (config.n_vocab == 0) config.n_vocab = static_cast<uint32_t>(vocab.tokens.size());
    if (config.n_vocab != vocab.tokens.size())
        throw Error(ErrorCode::kInvalidArgument, "vocab size " + std::to_string(config.n_vocab) +
                                                     " differs from the tokenizer's " +
                                                     std::to_string(vocab.tokens.size()) + " tokens");
    if (config.head_dim == 0 && config.n_head) config.head_dim = config.n_embd / config.n_head;
    if (config.name.empty()) config.name = std::string("random ") + archName(config.arch);

    GgufWriter writer;
    writeConfig(writer, config);
    writer.set("general.description",
               GgufValue::string("random weights made by vkinfer make-model (seed " + std::to_string(options.seed) +
                                 "); the text it generates is meaningless"));
    writer.set("general.file_type", GgufValue::u32(ggufFileType(options.recipe.base, options.recipe.k_medium)));
    if (quant::traits(options.recipe.base).block_elements > 1)
        writer.set("general.quantization_version", GgufValue::u32(2));
    writeVocab(writer, vocab);

    const auto specs = tensorSpecs(config);
    const auto rope_factors = llama3RopeFactors(config);
    for (size_t index = 0; index < specs.size(); ++index) {
        const TensorSpec& spec = specs[index];
        const quant::DType type = recipeType(options.recipe, spec.name, spec.shape, config.n_layer);
        writer.addTensor(spec.name, spec.shape, type, [=, &progress, &specs](const auto& emit) {
            if (progress) progress(index, specs.size());
            const uint64_t row = spec.shape[0];
            uint64_t elements = 1;
            for (uint64_t d : spec.shape) elements *= d;
            const uint64_t rows = elements / row;
            std::vector<float> values;
            std::vector<std::byte> encoded;
            for (uint64_t r = 0; r < rows; r += 256) {
                const uint64_t n = std::min<uint64_t>(256, rows - r);
                values.resize(n * row);
                if (spec.name == "rope_freqs.weight") {
                    values.assign(rope_factors.begin(), rope_factors.end());
                } else {
                    randomWeights(options.seed, index, spec, r * row, values);
                }
                encoded.resize(quant::byteSize(type, values.size()));
                encodeRows(type, values, row, encoded);
                emit(encoded);
            }
        });
    }
    writer.write(out);
    if (progress) progress(specs.size(), specs.size());
}

}  // namespace vki::model
