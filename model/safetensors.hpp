// Safetensors files (Hugging Face checkpoints): an 8-byte header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the data. Checked
// like GGUF: every size and offset against the file before use; errors name the
// file and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "model/mapped_file.hpp"

namespace vki::model {

enum class SafetensorsDType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

const char* safetensorsDTypeName(SafetensorsDType type);
size_t safetensorsDTypeSize(SafetensorsDType type);

struct SafetensorsTensor {
    std::string name;
    SafetensorsDType dtype = SafetensorsDType::kF32;
    std::vector<uint64_t> shape;  // PyTorch order: the last dimension is contiguous
    uint64_t elements = 0;
    uint64_t offset = 0;  // from the start of the file
    uint64_t size = 0;
};

class SafetensorsFile {
public:
    // Maps the file read-only. kIo when it cannot be opened, kBadFile when invalid.
    static SafetensorsFile open(const std::filesystem::path& path);
    // The bytes must outlive the returned object.
    static SafetensorsFile fromMemory(std::span<const std::byte> bytes, std::string name = "<memory>");

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    ~SafetensorsFile();

    const std::string& name() const { return name_; }
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    const SafetensorsTensor* find(std::string_view tensor_name) const;
    std::span<const std::byte> data(const SafetensorsTensor& tensor) const;

private:
    SafetensorsFile() = default;
    void parse();

    std::string name_;
    MappedFile mapping_;
    std::span<const std::byte> bytes_;
    std::vector<SafetensorsTensor> tensors_;
};

}  // namespace vki::model
