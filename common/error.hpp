// Errors and assertions shared by every module.
//
// vki::Error (public, vkinfer.hpp) is for what the caller cannot foresee; VKI_ASSERT
// is for programmer misuse and aborts with file:line in every build type.
#pragma once

#include <string>
#include <string_view>

#include "vkinfer/vkinfer.hpp"

namespace vki {

[[noreturn]] void assertionFailed(const char* expr, const char* file, int line, std::string_view message);

// Bytes as a short human-readable string: "512 B", "3.0 KiB", "1.25 GiB".
std::string formatBytes(unsigned long long bytes);

}  // namespace vki

#define VKI_ASSERT(cond)                                                    \
    do {                                                                    \
        if (!(cond)) ::vki::assertionFailed(#cond, __FILE__, __LINE__, {}); \
    } while (0)

#define VKI_ASSERT_MSG(cond, msg)                                              \
    do {                                                                       \
        if (!(cond)) ::vki::assertionFailed(#cond, __FILE__, __LINE__, (msg)); \
    } while (0)
