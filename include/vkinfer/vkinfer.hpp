// vkinfer C++ API. Exceptions thrown by vkinfer derive from vki::Error.
#pragma once

#include <stdexcept>
#include <string>

#include "vkinfer/vkinfer.h"

namespace vki {

// Mirrors vki_status; the values are the same.
enum class ErrorCode : int {
    kInvalidArgument = VKI_ERROR_INVALID_ARGUMENT,
    kNoVulkan = VKI_ERROR_NO_VULKAN,
    kNoDevice = VKI_ERROR_NO_DEVICE,
    kUnsupported = VKI_ERROR_UNSUPPORTED,
    kOutOfMemory = VKI_ERROR_OUT_OF_MEMORY,
    kDeviceLost = VKI_ERROR_DEVICE_LOST,
    kTimeout = VKI_ERROR_TIMEOUT,
    kBadFile = VKI_ERROR_BAD_FILE,
    kIo = VKI_ERROR_IO,
    kVulkan = VKI_ERROR_VULKAN,
    kInternal = VKI_ERROR_INTERNAL,
};

// What the caller could not foresee: a bad file, a missing feature, out of memory,
// a lost device. The message says what happened and what to do about it.
class VKI_API Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message);
    ~Error() override;

    ErrorCode code() const noexcept { return code_; }
    vki_status status() const noexcept { return static_cast<vki_status>(code_); }

private:
    ErrorCode code_;
};

}  // namespace vki
