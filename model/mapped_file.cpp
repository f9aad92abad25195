#include "model/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.hpp"

namespace vki::model {

MappedFile MappedFile::open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(ErrorCode::kIo, path.string() + " is not a regular file");
    }
    MappedFile file;
    if (st.st_size > 0) {
        void* address = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (address == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(err == ENOMEM ? ErrorCode::kOutOfMemory : ErrorCode::kIo,
                        "cannot map " + path.string() + ": " + std::strerror(err));
        }
        file.address_ = address;
        file.size_ = static_cast<size_t>(st.st_size);
    }
    ::close(fd);
    return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (address_) ::munmap(address_, size_);
        address_ = std::exchange(other.address_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (address_) ::munmap(address_, size_);
}

}  // namespace vki::model
