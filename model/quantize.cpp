#include "model/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "model/arch.hpp"

namespace vki::model {

namespace {

using quant::DType;

struct RecipeEntry {
    const char* name;
    DType base;
    bool k_medium;
};
constexpr RecipeEntry kRecipes[] = {
    {"f32", DType::kF32, false},     {"f16", DType::kF16, false},    {"bf16", DType::kBF16, false},
    {"q4_0", DType::kQ4_0, false},   {"q4_1", DType::kQ4_1, false},  {"q8_0", DType::kQ8_0, false},
    {"q4_k_s", DType::kQ4_K, false}, {"q4_k_m", DType::kQ4_K, true}, {"q5_k_s", DType::kQ5_K, false},
    {"q5_k_m", DType::kQ5_K, true},  {"q6_k", DType::kQ6_K, false},
};

// llama.cpp's choice of layers that get more bits: the first and last eighth, and
// every third layer in between.
bool useMoreBits(uint32_t layer, uint32_t n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

// Layer index of "blk.<i>.<...>", or -1.
int layerOf(const std::string& tensor) {
    if (tensor.rfind("blk.", 0) != 0) return -1;
    return std::atoi(tensor.c_str() + 4);
}

bool endsWith(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Rows (the contiguous dimension) processed per parallel chunk.
constexpr uint64_t kRowsPerChunk = 16;

}  // namespace

QuantRecipe recipeFromName(std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "q4_k") lower = "q4_k_s";
    if (lower == "q5_k") lower = "q5_k_s";
    for (const auto& r : kRecipes)
        if (lower == r.name) return {r.name, r.base, r.k_medium};
    std::string all;
    for (const auto& r : kRecipes) all += std::string(all.empty() ? "" : ", ") + r.name;
    throw Error(ErrorCode::kInvalidArgument,
                "unknown quantization type \"" + std::string(name) + "\"; use one of " + all);
}

std::vector<std::string> recipeNames() {
    std::vector<std::string> names;
    for (const auto& r : kRecipes) names.push_back(r.name);
    return names;
}

DType recipeType(const QuantRecipe& recipe, const std::string& tensor, const std::vector<uint64_t>& shape,
                 uint32_t n_layer) {
    if (shape.size() < 2) return DType::kF32;
    DType type = recipe.base;
    const bool k_quant = type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K;
    if (k_quant) {
        const int layer = layerOf(tensor);
        if (tensor == "output.weight") {
            type = DType::kQ6_K;
        } else if (recipe.k_medium && layer >= 0 &&
                   (endsWith(tensor, "attn_v.weight") || endsWith(tensor, "ffn_down.weight")) &&
                   useMoreBits(static_cast<uint32_t>(layer), n_layer)) {
            type = DType::kQ6_K;
        }
    }
    if (shape[0] % quant::traits(type).block_elements != 0) type = DType::kQ8_0;
    if (shape[0] % quant::traits(type).block_elements != 0) type = DType::kF16;
    return type;
}

double QuantError::relativeRmse() const {
    return sum_sq_value > 0 ? std::sqrt(sum_sq_error / sum_sq_value) : 0.0;
}

void encodeRows(DType type, std::span<const float> src, uint64_t row_length, std::span<std::byte> dst,
                QuantError* error) {
    VKI_ASSERT(row_length > 0 && src.size() % row_length == 0);
    const uint64_t rows = src.size() / row_length;
    const uint64_t row_bytes = quant::byteSize(type, row_length);
    VKI_ASSERT(dst.size() == rows * row_bytes);
    std::mutex mutex;
    parallelFor(rows, kRowsPerChunk, [&](size_t begin, size_t end) {
        const auto in = src.subspan(begin * row_length, (end - begin) * row_length);
        const auto out = dst.subspan(begin * row_bytes, (end - begin) * row_bytes);
        quant::quantize(type, in, out);
        if (!error) return;
        std::vector<float> back(in.size());
        quant::dequantize(type, out, back);
        double err = 0, val = 0;
        for (size_t i = 0; i < in.size(); ++i) {
            const double d = double(in[i]) - back[i];
            err += d * d;
            val += double(in[i]) * in[i];
        }
        std::lock_guard lock(mutex);
        error->sum_sq_error += err;
        error->sum_sq_value += val;
        error->elements += in.size();
    });
}

QuantizeReport quantizeModel(const GgufFile& in, const std::filesystem::path& out, const QuantRecipe& recipe,
                             bool allow_requantize, const QuantizeProgress& progress) {
    const uint32_t n_layer = [&] {
        const std::string arch = in.getStringOr("general.architecture", "");
        return arch.empty() ? 0u : static_cast<uint32_t>(in.getIntOr(arch + ".block_count", 0));
    }();
    GgufWriter writer(in.alignment());
    for (const auto& kv : in.metadata()) writer.set(kv.key, kv.value);
    writer.set("general.file_type", GgufValue::u32(ggufFileType(recipe.base, recipe.k_medium)));
    writer.set("general.quantization_version", GgufValue::u32(2));

    QuantizeReport report;
    std::mutex report_mutex;
    const auto& tensors = in.tensors();
    for (size_t index = 0; index < tensors.size(); ++index) {
        const GgufTensorInfo& t = tensors[index];
        const DType type = recipeType(recipe, t.name, t.shape, n_layer);
        const std::string type_name = quant::traits(type).name;
        if (type != t.type && quant::traits(t.type).block_elements > 1 && !allow_requantize)
            throw Error(ErrorCode::kInvalidArgument,
                        "tensor " + t.name + " is already " + quant::traits(t.type).name + "; re-quantizing to " +
                            type_name +
                            " compounds the error (quantize the f16/bf16/f32 model, or allow requantizing)");
        report.bytes_in += t.size;
        report.bytes_out += quant::byteSize(type, t.elements);
        report.tensors_by_type[type_name] += 1;
        const GgufFile* file = &in;
        writer.addTensor(t.name, t.shape, type, [=, &report, &report_mutex, &progress, &tensors](const auto& emit) {
            if (progress) progress(index, tensors.size(), t.name);
            const auto data = file->tensorData(t);
            if (type == t.type) {
                emit(data);
                return;
            }
            const uint64_t row = t.shape[0], rows = t.elements / row;
            const uint64_t in_row_bytes = quant::byteSize(t.type, row);
            std::vector<float> f32;
            std::vector<std::byte> encoded;
            QuantError error;
            for (uint64_t r = 0; r < rows; r += 256) {
                const uint64_t n = std::min<uint64_t>(256, rows - r);
                f32.resize(n * row);
                quant::dequantize(t.type, data.subspan(r * in_row_bytes, n * in_row_bytes), f32);
                encoded.resize(quant::byteSize(type, n * row));
                encodeRows(type, f32, row, encoded, &error);
                emit(encoded);
            }
            std::lock_guard lock(report_mutex);
            auto& e = report.error_by_type[quant::traits(type).name];
            e.sum_sq_error += error.sum_sq_error;
            e.sum_sq_value += error.sum_sq_value;
            e.elements += error.elements;
        });
    }
    writer.write(out);
    if (progress) progress(tensors.size(), tensors.size(), "done");
    return report;
}

}  // namespace vki::model
