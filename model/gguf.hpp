// GGUF files (versions 2 and 3): reader and writer.
//
// The reader checks every count, size and offset against the bytes that are really
// there before it uses or allocates anything, so a truncated, corrupt or hostile
// file ends in a vki::Error(kBadFile) naming the field and its byte offset. Memory
// use is bounded by a small multiple of the file's metadata size, whatever counts
// the file claims. Tensor data is never copied: it is read in place (mmap, or the
// caller's buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/mapped_file.hpp"
#include "quant/quant.hpp"

namespace vki::model {

// GGUF metadata value types (the numbers are the file format's).
enum class GgufType : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
};

const char* ggufTypeName(GgufType type);

class GgufValue;

// An array value. Scalars are kept packed as in the file (little-endian), strings
// and nested arrays as objects.
struct GgufArray {
    GgufType element_type = GgufType::kU8;
    std::vector<std::byte> scalars;    // count * element size bytes, for scalar element types
    std::vector<std::string> strings;  // for kString elements
    std::vector<GgufValue> arrays;     // for kArray elements

    uint64_t size() const;
    // Element i of an integer array, or nullopt (not an integer type / out of int64 range).
    std::optional<int64_t> intAt(uint64_t i) const;
    // Element i of a float (or integer) array.
    std::optional<double> floatAt(uint64_t i) const;

    bool operator==(const GgufArray& other) const;
};

class GgufValue {
public:
    GgufValue() : GgufValue(GgufType::kU8, uint64_t{0}) {}
    static GgufValue u8(uint8_t v) { return GgufValue(GgufType::kU8, v); }
    static GgufValue i8(int8_t v) { return GgufValue(GgufType::kI8, static_cast<uint64_t>(static_cast<uint8_t>(v))); }
    static GgufValue u16(uint16_t v) { return GgufValue(GgufType::kU16, v); }
    static GgufValue i16(int16_t v) { return GgufValue(GgufType::kI16, static_cast<uint16_t>(v)); }
    static GgufValue u32(uint32_t v) { return GgufValue(GgufType::kU32, v); }
    static GgufValue i32(int32_t v) { return GgufValue(GgufType::kI32, static_cast<uint32_t>(v)); }
    static GgufValue u64(uint64_t v) { return GgufValue(GgufType::kU64, v); }
    static GgufValue i64(int64_t v) { return GgufValue(GgufType::kI64, static_cast<uint64_t>(v)); }
    static GgufValue f32(float v);
    static GgufValue f64(double v);
    static GgufValue boolean(bool v) { return GgufValue(GgufType::kBool, v ? 1 : 0); }
    static GgufValue string(std::string v);
    static GgufValue array(GgufArray v);
    static GgufValue stringArray(std::vector<std::string> v);
    static GgufValue f32Array(std::span<const float> v);
    static GgufValue i32Array(std::span<const int32_t> v);

    GgufType type() const { return type_; }
    // Any integer type whose value fits int64; bool is not an integer.
    std::optional<int64_t> asInt() const;
    // f32 / f64, or an integer.
    std::optional<double> asFloat() const;
    std::optional<bool> asBool() const;
    const std::string* asString() const { return std::get_if<std::string>(&data_); }
    const GgufArray* asArray() const { return std::get_if<GgufArray>(&data_); }
    // Raw little-endian bits of a scalar (for the writer and equality).
    uint64_t scalarBits() const;

    bool operator==(const GgufValue& other) const;
    // A short human-readable rendering ("[32000 strings]" for long arrays).
    std::string summary(size_t max_items = 8) const;

private:
    GgufValue(GgufType type, uint64_t bits) : type_(type), data_(bits) {}
    GgufType type_;
    std::variant<uint64_t, std::string, GgufArray> data_;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<uint64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
    quant::DType type = quant::DType::kF32;
    uint64_t offset = 0;  // from the start of the file
    uint64_t size = 0;    // bytes
    uint64_t elements = 0;
};

struct GgufKeyValue {
    std::string key;
    GgufValue value;
};

class GgufFile {
public:
    // Maps the file read-only. Throws kIo when it cannot be opened, kBadFile when it
    // is not a valid GGUF.
    static GgufFile open(const std::filesystem::path& path);
    // Reads a GGUF held in memory. The bytes are not copied: they must outlive the
    // returned object and everything taken from it.
    static GgufFile fromMemory(std::span<const std::byte> bytes, std::string name = "<memory>");

    GgufFile(GgufFile&&) noexcept;
    GgufFile& operator=(GgufFile&&) noexcept;
    ~GgufFile();

    const std::string& name() const { return name_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t dataOffset() const { return data_offset_; }
    uint64_t fileSize() const { return bytes_.size(); }

    const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
    const GgufValue* find(std::string_view key) const;
    // Typed access with clear errors: kBadFile "metadata <key> is missing" or "has type
    // <t>, expected <u>". The *Or variants return the fallback when the key is absent.
    std::string getString(std::string_view key) const;
    std::string getStringOr(std::string_view key, std::string fallback) const;
    int64_t getInt(std::string_view key) const;
    int64_t getIntOr(std::string_view key, int64_t fallback) const;
    double getFloat(std::string_view key) const;
    double getFloatOr(std::string_view key, double fallback) const;
    bool getBoolOr(std::string_view key, bool fallback) const;
    const GgufArray& getArray(std::string_view key) const;

    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* findTensor(std::string_view name) const;
    // The tensor's bytes, in place.
    std::span<const std::byte> tensorData(const GgufTensorInfo& tensor) const;

private:
    GgufFile() = default;
    void parse();

    std::string name_;
    MappedFile mapping_;  // holds the bytes when they are a mapped file
    std::span<const std::byte> bytes_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKeyValue> metadata_;
    std::vector<GgufTensorInfo> tensors_;
};

// Builds a GGUF (version 3). Tensor data can be produced at write time, so a model
// never has to sit in memory whole.
class GgufWriter {
public:
    // Writes `size` bytes of tensor data to `out`, in pieces of any size.
    using Producer = std::function<void(const std::function<void(std::span<const std::byte>)>& out)>;

    explicit GgufWriter(uint64_t alignment = 32);

    // Adds or replaces a key (order of first insertion is kept).
    void set(std::string key, GgufValue value);
    // Tensor with its data now (copied) or produced when written. `shape` in ggml order.
    void addTensor(std::string name, std::vector<uint64_t> shape, quant::DType type, std::span<const std::byte> data);
    void addTensor(std::string name, std::vector<uint64_t> shape, quant::DType type, Producer produce);

    // Writes atomically (temporary file, then rename). Throws kIo on failure, kInternal
    // if a producer wrote the wrong number of bytes.
    void write(const std::filesystem::path& path) const;
    std::vector<std::byte> writeToMemory() const;

private:
    struct Tensor {
        std::string name;
        std::vector<uint64_t> shape;
        quant::DType type;
        uint64_t size;
        Producer produce;
    };
    void writeTo(const std::function<void(std::span<const std::byte>)>& out) const;

    uint64_t alignment_;
    std::vector<GgufKeyValue> metadata_;
    std::vector<Tensor> tensors_;
};

}  // namespace vki::model
