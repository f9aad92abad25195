// A file mapped read-only into memory (POSIX mmap). Move-only.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace vki::model {

class MappedFile {
public:
    // Throws kIo when the path cannot be opened or is not a regular file,
    // kOutOfMemory when the address space is exhausted.
    static MappedFile open(const std::filesystem::path& path);

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(address_), size_}; }

private:
    void* address_ = nullptr;
    size_t size_ = 0;
};

}  // namespace vki::model
