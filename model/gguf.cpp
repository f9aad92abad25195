#include "model/gguf.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "common/error.hpp"

namespace vki::model {

namespace {

static_assert(std::endian::native == std::endian::little, "GGUF is read in place as little-endian");

// Limits no real file comes near; they keep hostile files from costing time or memory.
constexpr uint64_t kMaxKeyBytes = 1 << 16;
constexpr uint64_t kMaxTensorNameBytes = 1 << 12;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxAlignment = 1 << 24;
constexpr uint64_t kMaxElements = uint64_t{1} << 56;

size_t scalarSize(GgufType t) {
    switch (t) {
        case GgufType::kU8:
        case GgufType::kI8:
        case GgufType::kBool:
            return 1;
        case GgufType::kU16:
        case GgufType::kI16:
            return 2;
        case GgufType::kU32:
        case GgufType::kI32:
        case GgufType::kF32:
            return 4;
        case GgufType::kU64:
        case GgufType::kI64:
        case GgufType::kF64:
            return 8;
        case GgufType::kString:
        case GgufType::kArray:
            return 0;
    }
    return 0;
}

bool validType(uint32_t t) {
    return t <= static_cast<uint32_t>(GgufType::kF64);
}

// The smallest encoding of one value of type t: bounds counts before allocating.
uint64_t minEncodedSize(GgufType t) {
    if (t == GgufType::kString) return 8;     // length
    if (t == GgufType::kArray) return 4 + 8;  // element type + count
    return scalarSize(t);
}

std::optional<int64_t> intFromBits(GgufType t, uint64_t bits) {
    switch (t) {
        case GgufType::kU8:
            return static_cast<int64_t>(static_cast<uint8_t>(bits));
        case GgufType::kI8:
            return static_cast<int64_t>(static_cast<int8_t>(bits));
        case GgufType::kU16:
            return static_cast<int64_t>(static_cast<uint16_t>(bits));
        case GgufType::kI16:
            return static_cast<int64_t>(static_cast<int16_t>(bits));
        case GgufType::kU32:
            return static_cast<int64_t>(static_cast<uint32_t>(bits));
        case GgufType::kI32:
            return static_cast<int64_t>(static_cast<int32_t>(bits));
        case GgufType::kU64:
            if (bits > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
            return static_cast<int64_t>(bits);
        case GgufType::kI64:
            return static_cast<int64_t>(bits);
        default:
            return std::nullopt;
    }
}

std::optional<double> floatFromBits(GgufType t, uint64_t bits) {
    if (t == GgufType::kF32) return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    if (t == GgufType::kF64) return std::bit_cast<double>(bits);
    if (auto i = intFromBits(t, bits)) return static_cast<double>(*i);
    return std::nullopt;
}

// Bounds-checked little-endian reads over the file, with errors naming the field.
class Cursor {
public:
    Cursor(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return bytes_.size() - pos_; }

    [[noreturn]] void fail(std::string_view field, uint64_t at, const std::string& what) const {
        throw Error(ErrorCode::kBadFile,
                    "GGUF " + name_ + ": " + std::string(field) + " at byte " + std::to_string(at) + ": " + what);
    }

    void need(uint64_t n, std::string_view field) const {
        if (n > remaining())
            fail(field, pos_,
                 "needs " + std::to_string(n) + " bytes but the file ends after " + std::to_string(remaining()) +
                     " (truncated?)");
    }

    template <typename T>
    T read(std::string_view field) {
        need(sizeof(T), field);
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::span<const std::byte> take(uint64_t n, std::string_view field) {
        need(n, field);
        auto s = bytes_.subspan(pos_, n);
        pos_ += n;
        return s;
    }

    std::string string(std::string_view field, uint64_t max_bytes = UINT64_MAX) {
        const uint64_t at = pos_;
        const uint64_t n = read<uint64_t>(field);
        if (n > max_bytes)
            fail(field, at, "length " + std::to_string(n) + " exceeds the limit " + std::to_string(max_bytes));
        const auto s = take(n, field);
        return std::string(reinterpret_cast<const char*>(s.data()), s.size());
    }

    // A count of items, each at least min_size bytes, that must fit in what remains.
    uint64_t count(std::string_view field, uint64_t min_size) {
        const uint64_t at = pos_;
        const uint64_t n = read<uint64_t>(field);
        if (min_size > 0 && n > remaining() / min_size)
            fail(field, at,
                 "count " + std::to_string(n) + " cannot fit in the " + std::to_string(remaining()) +
                     " bytes that remain");
        return n;
    }

    GgufType type(std::string_view field) {
        const uint64_t at = pos_;
        const uint32_t t = read<uint32_t>(field);
        if (!validType(t)) fail(field, at, "unknown value type " + std::to_string(t));
        return static_cast<GgufType>(t);
    }

    GgufValue value(GgufType t, std::string_view field, int depth);

private:
    std::span<const std::byte> bytes_;
    const std::string& name_;
    uint64_t pos_ = 0;
};

GgufValue Cursor::value(GgufType t, std::string_view field, int depth) {
    const uint64_t at = pos_;
    switch (t) {
        case GgufType::kString:
            return GgufValue::string(string(field));
        case GgufType::kArray: {
            if (depth >= kMaxArrayDepth) fail(field, at, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
            GgufArray array;
            array.element_type = type(field);
            const uint64_t n = count(field, minEncodedSize(array.element_type));
            if (array.element_type == GgufType::kString) {
                array.strings.reserve(n);
                for (uint64_t i = 0; i < n; ++i) array.strings.push_back(string(field));
            } else if (array.element_type == GgufType::kArray) {
                array.arrays.reserve(n);
                for (uint64_t i = 0; i < n; ++i) array.arrays.push_back(value(GgufType::kArray, field, depth + 1));
            } else {
                const auto raw = take(n * scalarSize(array.element_type), field);
                array.scalars.assign(raw.begin(), raw.end());
                if (array.element_type == GgufType::kBool)
                    for (uint64_t i = 0; i < n; ++i)
                        if (std::to_integer<uint8_t>(raw[i]) > 1) fail(field, at, "bool element is neither 0 nor 1");
            }
            return GgufValue::array(std::move(array));
        }
        case GgufType::kBool: {
            const uint8_t b = read<uint8_t>(field);
            if (b > 1) fail(field, at, "bool value " + std::to_string(b) + " is neither 0 nor 1");
            return GgufValue::boolean(b == 1);
        }
        case GgufType::kU8:
            return GgufValue::u8(read<uint8_t>(field));
        case GgufType::kI8:
            return GgufValue::i8(read<int8_t>(field));
        case GgufType::kU16:
            return GgufValue::u16(read<uint16_t>(field));
        case GgufType::kI16:
            return GgufValue::i16(read<int16_t>(field));
        case GgufType::kU32:
            return GgufValue::u32(read<uint32_t>(field));
        case GgufType::kI32:
            return GgufValue::i32(read<int32_t>(field));
        case GgufType::kF32:
            return GgufValue::f32(read<float>(field));
        case GgufType::kU64:
            return GgufValue::u64(read<uint64_t>(field));
        case GgufType::kI64:
            return GgufValue::i64(read<int64_t>(field));
        case GgufType::kF64:
            return GgufValue::f64(read<double>(field));
    }
    fail(field, at, "unknown value type");
}

uint64_t alignUp(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

}  // namespace

// ---- values -------------------------------------------------------------------

const char* ggufTypeName(GgufType type) {
    static const char* const kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                         "bool", "string", "array", "u64", "i64", "f64"};
    const auto i = static_cast<uint32_t>(type);
    return i < std::size(kNames) ? kNames[i] : "unknown";
}

uint64_t GgufArray::size() const {
    if (element_type == GgufType::kString) return strings.size();
    if (element_type == GgufType::kArray) return arrays.size();
    return scalars.size() / scalarSize(element_type);
}

std::optional<int64_t> GgufArray::intAt(uint64_t i) const {
    const size_t n = scalarSize(element_type);
    if (n == 0 || i >= size()) return std::nullopt;
    uint64_t bits = 0;
    std::memcpy(&bits, scalars.data() + i * n, n);
    return intFromBits(element_type, bits);
}

std::optional<double> GgufArray::floatAt(uint64_t i) const {
    const size_t n = scalarSize(element_type);
    if (n == 0 || i >= size()) return std::nullopt;
    uint64_t bits = 0;
    std::memcpy(&bits, scalars.data() + i * n, n);
    return floatFromBits(element_type, bits);
}

GgufValue GgufValue::f32(float v) {
    return GgufValue(GgufType::kF32, std::bit_cast<uint32_t>(v));
}
GgufValue GgufValue::f64(double v) {
    return GgufValue(GgufType::kF64, std::bit_cast<uint64_t>(v));
}

GgufValue GgufValue::string(std::string v) {
    GgufValue value;
    value.type_ = GgufType::kString;
    value.data_ = std::move(v);
    return value;
}

GgufValue GgufValue::array(GgufArray v) {
    GgufValue value;
    value.type_ = GgufType::kArray;
    value.data_ = std::move(v);
    return value;
}

GgufValue GgufValue::stringArray(std::vector<std::string> v) {
    GgufArray a;
    a.element_type = GgufType::kString;
    a.strings = std::move(v);
    return array(std::move(a));
}

GgufValue GgufValue::f32Array(std::span<const float> v) {
    GgufArray a;
    a.element_type = GgufType::kF32;
    const auto bytes = std::as_bytes(v);
    a.scalars.assign(bytes.begin(), bytes.end());
    return array(std::move(a));
}

GgufValue GgufValue::i32Array(std::span<const int32_t> v) {
    GgufArray a;
    a.element_type = GgufType::kI32;
    const auto bytes = std::as_bytes(v);
    a.scalars.assign(bytes.begin(), bytes.end());
    return array(std::move(a));
}

uint64_t GgufValue::scalarBits() const {
    const uint64_t* bits = std::get_if<uint64_t>(&data_);
    return bits ? *bits : 0;
}

std::optional<int64_t> GgufValue::asInt() const {
    const uint64_t* bits = std::get_if<uint64_t>(&data_);
    return bits ? intFromBits(type_, *bits) : std::nullopt;
}

std::optional<double> GgufValue::asFloat() const {
    const uint64_t* bits = std::get_if<uint64_t>(&data_);
    return bits ? floatFromBits(type_, *bits) : std::nullopt;
}

std::optional<bool> GgufValue::asBool() const {
    if (type_ != GgufType::kBool) return std::nullopt;
    return scalarBits() != 0;
}

bool GgufArray::operator==(const GgufArray& other) const {
    return element_type == other.element_type && scalars == other.scalars && strings == other.strings &&
           arrays == other.arrays;
}

bool GgufValue::operator==(const GgufValue& other) const {
    return type_ == other.type_ && data_ == other.data_;
}

std::string GgufValue::summary(size_t max_items) const {
    auto scalarText = [](GgufType t, uint64_t bits) -> std::string {
        if (t == GgufType::kBool) return bits ? "true" : "false";
        if (t == GgufType::kF32 || t == GgufType::kF64) {
            char text[32];
            std::snprintf(text, sizeof(text), "%g", *floatFromBits(t, bits));
            return text;
        }
        if (t == GgufType::kU64) return std::to_string(bits);
        return std::to_string(*intFromBits(t, bits));
    };
    if (const auto* s = asString()) {
        std::string text = *s;
        if (text.size() > 80) text = text.substr(0, 77) + "...";
        std::string escaped = "\"";
        for (char c : text) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
        return escaped + "\"";
    }
    if (const auto* a = asArray()) {
        const uint64_t n = a->size();
        std::string text = "[";
        for (uint64_t i = 0; i < std::min<uint64_t>(n, max_items); ++i) {
            if (i) text += ", ";
            if (a->element_type == GgufType::kString) {
                text += GgufValue::string(a->strings[i]).summary();
            } else if (a->element_type == GgufType::kArray) {
                text += a->arrays[i].summary(max_items);
            } else {
                uint64_t bits = 0;
                std::memcpy(&bits, a->scalars.data() + i * scalarSize(a->element_type), scalarSize(a->element_type));
                text += scalarText(a->element_type, bits);
            }
        }
        if (n > max_items) text += ", ... (" + std::to_string(n) + " " + ggufTypeName(a->element_type) + ")";
        return text + "]";
    }
    return scalarText(type_, scalarBits());
}

// ---- reader -------------------------------------------------------------------

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

GgufFile GgufFile::open(const std::filesystem::path& path) {
    GgufFile file;
    file.name_ = path.string();
    file.mapping_ = MappedFile::open(path);
    file.bytes_ = file.mapping_.bytes();
    file.parse();
    return file;
}

GgufFile GgufFile::fromMemory(std::span<const std::byte> bytes, std::string name) {
    GgufFile file;
    file.name_ = std::move(name);
    file.bytes_ = bytes;
    file.parse();
    return file;
}

void GgufFile::parse() {
    Cursor c(bytes_, name_);
    if (bytes_.size() < 4 || std::memcmp(bytes_.data(), "GGUF", 4) != 0)
        c.fail("magic", 0, "not a GGUF file (it does not start with \"GGUF\")");
    c.take(4, "magic");
    const uint64_t version_at = c.pos();
    version_ = c.read<uint32_t>("version");
    if (version_ == 1) c.fail("version", version_at, "GGUF version 1 is not supported; convert the model again");
    if (version_ != 2 && version_ != 3) {
        const uint32_t swapped = __builtin_bswap32(version_);
        if (swapped == 2 || swapped == 3) c.fail("version", version_at, "big-endian GGUF is not supported");
        c.fail("version", version_at, "unknown GGUF version " + std::to_string(version_) + " (2 and 3 are read)");
    }
    // Smallest encodings: a tensor info is a name length, n_dims, type and offset.
    const uint64_t n_tensors = c.count("tensor count", 8 + 4 + 4 + 8);
    const uint64_t n_kv = c.count("metadata count", 8 + 4 + 1);

    std::unordered_set<std::string> keys;
    metadata_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t at = c.pos();
        std::string key = c.string("metadata key", kMaxKeyBytes);
        if (key.empty()) c.fail("metadata key", at, "empty key");
        if (!keys.insert(key).second) c.fail("metadata key", at, "duplicate key \"" + key + "\"");
        const GgufType type = c.type("metadata " + key);
        GgufValue value = c.value(type, "metadata " + key, 0);
        metadata_.push_back({std::move(key), std::move(value)});
    }

    if (const GgufValue* a = find("general.alignment")) {
        const auto v = a->asInt();
        if (a->type() != GgufType::kU32 || !v || *v == 0 || (*v & (*v - 1)) != 0 ||
            static_cast<uint64_t>(*v) > kMaxAlignment)
            throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": general.alignment must be a power-of-two u32 up to " +
                                                 std::to_string(kMaxAlignment) + ", got " + a->summary());
        alignment_ = static_cast<uint64_t>(*v);
    }

    std::unordered_set<std::string> names;
    tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t at = c.pos();
        GgufTensorInfo t;
        t.name = c.string("tensor name", kMaxTensorNameBytes);
        if (t.name.empty()) c.fail("tensor name", at, "empty tensor name");
        if (!names.insert(t.name).second) c.fail("tensor name", at, "duplicate tensor \"" + t.name + "\"");
        const std::string field = "tensor " + t.name;
        const uint64_t dims_at = c.pos();
        const uint32_t n_dims = c.read<uint32_t>(field + " n_dims");
        if (n_dims == 0 || n_dims > kMaxDims)
            c.fail(field + " n_dims", dims_at, std::to_string(n_dims) + " dimensions (1 to 4 are valid)");
        t.elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim_at = c.pos();
            const uint64_t dim = c.read<uint64_t>(field + " shape");
            if (dim == 0 || dim > kMaxElements / t.elements)
                c.fail(field + " shape", dim_at, "dimension " + std::to_string(dim) + " is zero or too large");
            t.shape.push_back(dim);
            t.elements *= dim;
        }
        const uint64_t type_at = c.pos();
        const uint32_t ggml_type = c.read<uint32_t>(field + " type");
        const auto dtype = quant::dtypeFromGgml(ggml_type);
        if (!dtype)
            c.fail(field + " type", type_at,
                   "ggml type " + std::to_string(ggml_type) +
                       " is not supported (f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_K, q5_K, q6_K are)");
        t.type = *dtype;
        if (t.shape[0] % quant::traits(t.type).block_elements != 0)
            c.fail(field + " shape", dims_at,
                   "row length " + std::to_string(t.shape[0]) + " is not a multiple of the " +
                       quant::traits(t.type).name + " block size " +
                       std::to_string(quant::traits(t.type).block_elements));
        t.size = quant::byteSize(t.type, t.elements);
        const uint64_t offset_at = c.pos();
        t.offset = c.read<uint64_t>(field + " offset");
        if (t.offset % alignment_ != 0)
            c.fail(field + " offset", offset_at,
                   "offset " + std::to_string(t.offset) + " is not aligned to " + std::to_string(alignment_));
        tensors_.push_back(std::move(t));
    }

    data_offset_ = alignUp(c.pos(), alignment_);
    const uint64_t file_size = bytes_.size();
    for (auto& t : tensors_) {
        if (t.offset > file_size || data_offset_ > file_size - t.offset || t.size > file_size - data_offset_ - t.offset)
            throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": tensor " + t.name + " data at byte " +
                                                 std::to_string(data_offset_) + " + " + std::to_string(t.offset) +
                                                 " (" + std::to_string(t.size) +
                                                 " bytes) runs past the end of the file (" + std::to_string(file_size) +
                                                 " bytes; truncated?)");
        t.offset += data_offset_;
    }
    std::vector<const GgufTensorInfo*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->size > by_offset[i]->offset)
            throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": tensors " + by_offset[i - 1]->name + " and " +
                                                 by_offset[i]->name + " overlap");
}

const GgufValue* GgufFile::find(std::string_view key) const {
    for (const auto& kv : metadata_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

namespace {

[[noreturn]] void typeError(const std::string& file, std::string_view key, const GgufValue& v, const char* expected) {
    throw Error(ErrorCode::kBadFile, "GGUF " + file + ": metadata " + std::string(key) + " has type " +
                                         ggufTypeName(v.type()) + ", expected " + expected);
}

}  // namespace

std::string GgufFile::getString(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": metadata " + std::string(key) + " is missing");
    if (!v->asString()) typeError(name_, key, *v, "string");
    return *v->asString();
}

std::string GgufFile::getStringOr(std::string_view key, std::string fallback) const {
    return find(key) ? getString(key) : std::move(fallback);
}

int64_t GgufFile::getInt(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": metadata " + std::string(key) + " is missing");
    const auto i = v->asInt();
    if (!i) typeError(name_, key, *v, "an integer");
    return *i;
}

int64_t GgufFile::getIntOr(std::string_view key, int64_t fallback) const {
    return find(key) ? getInt(key) : fallback;
}

double GgufFile::getFloat(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": metadata " + std::string(key) + " is missing");
    const auto f = v->asFloat();
    if (!f) typeError(name_, key, *v, "a number");
    return *f;
}

double GgufFile::getFloatOr(std::string_view key, double fallback) const {
    return find(key) ? getFloat(key) : fallback;
}

bool GgufFile::getBoolOr(std::string_view key, bool fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    const auto b = v->asBool();
    if (!b) typeError(name_, key, *v, "bool");
    return *b;
}

const GgufArray& GgufFile::getArray(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) throw Error(ErrorCode::kBadFile, "GGUF " + name_ + ": metadata " + std::string(key) + " is missing");
    if (!v->asArray()) typeError(name_, key, *v, "array");
    return *v->asArray();
}

const GgufTensorInfo* GgufFile::findTensor(std::string_view tensor_name) const {
    for (const auto& t : tensors_)
        if (t.name == tensor_name) return &t;
    return nullptr;
}

std::span<const std::byte> GgufFile::tensorData(const GgufTensorInfo& tensor) const {
    return bytes_.subspan(tensor.offset, tensor.size);
}

// ---- writer -------------------------------------------------------------------

GgufWriter::GgufWriter(uint64_t alignment) : alignment_(alignment) {
    VKI_ASSERT(alignment > 0 && (alignment & (alignment - 1)) == 0);
    if (alignment != 32) set("general.alignment", GgufValue::u32(static_cast<uint32_t>(alignment)));
}

void GgufWriter::set(std::string key, GgufValue value) {
    VKI_ASSERT(!key.empty());
    for (auto& kv : metadata_) {
        if (kv.key == key) {
            kv.value = std::move(value);
            return;
        }
    }
    metadata_.push_back({std::move(key), std::move(value)});
}

void GgufWriter::addTensor(std::string name, std::vector<uint64_t> shape, quant::DType type,
                           std::span<const std::byte> data) {
    auto copy = std::make_shared<std::vector<std::byte>>(data.begin(), data.end());
    addTensor(std::move(name), std::move(shape), type,
              [copy](const std::function<void(std::span<const std::byte>)>& out) { out(*copy); });
}

void GgufWriter::addTensor(std::string name, std::vector<uint64_t> shape, quant::DType type, Producer produce) {
    VKI_ASSERT(!name.empty() && !shape.empty() && shape.size() <= kMaxDims);
    for (const auto& t : tensors_) VKI_ASSERT_MSG(t.name != name, "duplicate tensor " + name);
    uint64_t elements = 1;
    for (uint64_t d : shape) elements *= d;
    const uint64_t size = quant::byteSize(type, elements);
    tensors_.push_back({std::move(name), std::move(shape), type, size, std::move(produce)});
}

void GgufWriter::writeTo(const std::function<void(std::span<const std::byte>)>& out) const {
    uint64_t written = 0;
    auto bytes = [&](const void* p, size_t n) {
        out({static_cast<const std::byte*>(p), n});
        written += n;
    };
    auto u32 = [&](uint32_t v) { bytes(&v, 4); };
    auto u64 = [&](uint64_t v) { bytes(&v, 8); };
    auto str = [&](const std::string& s) {
        u64(s.size());
        bytes(s.data(), s.size());
    };
    std::function<void(const GgufValue&)> value = [&](const GgufValue& v) {
        if (const auto* s = v.asString()) {
            str(*s);
        } else if (const auto* a = v.asArray()) {
            u32(static_cast<uint32_t>(a->element_type));
            u64(a->size());
            for (const auto& item : a->strings) str(item);
            for (const auto& nested : a->arrays) value(nested);
            bytes(a->scalars.data(), a->scalars.size());
        } else {
            const uint64_t bits = v.scalarBits();
            bytes(&bits, scalarSize(v.type()));
        }
    };
    auto pad = [&] {
        static const std::byte zeros[256] = {};
        while (written % alignment_) bytes(zeros, std::min<uint64_t>(sizeof(zeros), alignment_ - written % alignment_));
    };

    bytes("GGUF", 4);
    u32(3);
    u64(tensors_.size());
    u64(metadata_.size());
    for (const auto& kv : metadata_) {
        str(kv.key);
        u32(static_cast<uint32_t>(kv.value.type()));
        value(kv.value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        str(t.name);
        u32(static_cast<uint32_t>(t.shape.size()));
        for (uint64_t d : t.shape) u64(d);
        u32(static_cast<uint32_t>(t.type));
        u64(offset);
        offset = alignUp(offset + t.size, alignment_);
    }
    pad();
    for (const auto& t : tensors_) {
        const uint64_t start = written;
        t.produce([&](std::span<const std::byte> piece) { bytes(piece.data(), piece.size()); });
        if (written - start != t.size)
            throw Error(ErrorCode::kInternal, "tensor " + t.name + ": producer wrote " +
                                                  std::to_string(written - start) + " bytes, expected " +
                                                  std::to_string(t.size));
        pad();
    }
}

void GgufWriter::write(const std::filesystem::path& path) const {
    const std::filesystem::path tmp = path.string() + ".tmp";
    std::error_code ec;
    try {
        std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
        if (!file) throw Error(ErrorCode::kIo, "cannot create " + tmp.string());
        writeTo([&](std::span<const std::byte> piece) {
            file.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
            if (!file) throw Error(ErrorCode::kIo, "cannot write " + tmp.string() + " (disk full?)");
        });
        file.close();
        if (!file) throw Error(ErrorCode::kIo, "cannot write " + tmp.string() + " (disk full?)");
    } catch (...) {
        std::filesystem::remove(tmp, ec);
        throw;
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw Error(ErrorCode::kIo, "cannot rename " + tmp.string() + " to " + path.string());
    }
}

std::vector<std::byte> GgufWriter::writeToMemory() const {
    std::vector<std::byte> out;
    writeTo([&](std::span<const std::byte> piece) { out.insert(out.end(), piece.begin(), piece.end()); });
    return out;
}

}  // namespace vki::model
