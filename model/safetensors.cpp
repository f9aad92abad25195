#include "model/safetensors.hpp"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace vki::model {

namespace {

// Real headers are a few hundred KiB; a larger claim is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;
constexpr uint64_t kMaxElements = uint64_t{1} << 56;

struct DTypeName {
    const char* name;
    SafetensorsDType type;
    size_t size;
};
constexpr DTypeName kDTypes[] = {
    {"F32", SafetensorsDType::kF32, 4},   {"F16", SafetensorsDType::kF16, 2}, {"BF16", SafetensorsDType::kBF16, 2},
    {"F64", SafetensorsDType::kF64, 8},   {"I64", SafetensorsDType::kI64, 8}, {"I32", SafetensorsDType::kI32, 4},
    {"I16", SafetensorsDType::kI16, 2},   {"I8", SafetensorsDType::kI8, 1},   {"U8", SafetensorsDType::kU8, 1},
    {"BOOL", SafetensorsDType::kBool, 1},
};

}  // namespace

const char* safetensorsDTypeName(SafetensorsDType type) {
    for (const auto& d : kDTypes)
        if (d.type == type) return d.name;
    return "?";
}

size_t safetensorsDTypeSize(SafetensorsDType type) {
    for (const auto& d : kDTypes)
        if (d.type == type) return d.size;
    return 0;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    SafetensorsFile file;
    file.name_ = path.string();
    file.mapping_ = MappedFile::open(path);
    file.bytes_ = file.mapping_.bytes();
    file.parse();
    return file;
}

SafetensorsFile SafetensorsFile::fromMemory(std::span<const std::byte> bytes, std::string name) {
    SafetensorsFile file;
    file.name_ = std::move(name);
    file.bytes_ = bytes;
    file.parse();
    return file;
}

void SafetensorsFile::parse() {
    auto fail = [this](const std::string& what) -> void {
        throw Error(ErrorCode::kBadFile, "safetensors " + name_ + ": " + what);
    };
    if (bytes_.size() < 8) fail("shorter than its 8-byte header length (truncated?)");
    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes_.data(), 8);
    if (header_size > kMaxHeaderBytes || header_size > bytes_.size() - 8)
        fail("header length " + std::to_string(header_size) + " does not fit the file (" +
             std::to_string(bytes_.size()) + " bytes)");
    const char* text = reinterpret_cast<const char*>(bytes_.data() + 8);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text, text + header_size);
    } catch (const nlohmann::json::exception& e) {
        fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail("header is not a JSON object");
    const uint64_t data_start = 8 + header_size;
    const uint64_t data_size = bytes_.size() - data_start;

    for (const auto& [name, info] : header.items()) {
        if (name == "__metadata__") continue;
        const std::string where = "tensor \"" + name + "\": ";
        if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
            fail(where + "needs dtype, shape and data_offsets");
        SafetensorsTensor t;
        t.name = name;
        const auto& dtype = info["dtype"];
        const auto* known = dtype.is_string() ? std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                                             [&](const auto& d) { return dtype == d.name; })
                                              : std::end(kDTypes);
        if (known == std::end(kDTypes)) fail(where + "unsupported dtype " + dtype.dump());
        t.dtype = known->type;
        if (!info["shape"].is_array() || info["shape"].size() > 8) fail(where + "shape must be an array of at most 8");
        t.elements = 1;
        for (const auto& d : info["shape"]) {
            if (!d.is_number_unsigned()) fail(where + "shape holds " + d.dump());
            const uint64_t dim = d.get<uint64_t>();
            if (dim != 0 && t.elements > kMaxElements / dim) fail(where + "shape is too large");
            t.shape.push_back(dim);
            t.elements *= dim;
        }
        const auto& offsets = info["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
            !offsets[1].is_number_unsigned())
            fail(where + "data_offsets must be two unsigned integers");
        const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
        if (begin > end || end > data_size)
            fail(where + "data [" + std::to_string(begin) + ", " + std::to_string(end) + ") is outside the " +
                 std::to_string(data_size) + " data bytes (truncated?)");
        t.size = end - begin;
        if (t.size != t.elements * known->size)
            fail(where + std::to_string(t.size) + " bytes do not hold " + std::to_string(t.elements) + " " +
                 known->name + " elements");
        t.offset = data_start + begin;
        tensors_.push_back(std::move(t));
    }
    std::vector<const SafetensorsTensor*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->size > by_offset[i]->offset)
            fail("tensors \"" + by_offset[i - 1]->name + "\" and \"" + by_offset[i]->name + "\" overlap");
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view tensor_name) const {
    for (const auto& t : tensors_)
        if (t.name == tensor_name) return &t;
    return nullptr;
}

std::span<const std::byte> SafetensorsFile::data(const SafetensorsTensor& tensor) const {
    return bytes_.subspan(tensor.offset, tensor.size);
}

}  // namespace vki::model
