// VKI_VK(call): every fallible vk* call goes through it. A failed VkResult becomes a
// vki::Error carrying the call text, the result's name and file:line, with the code
// mapped so callers can react (out of memory, device lost, ...).
#pragma once

#include <volk.h>

#include "common/error.hpp"

namespace vki::vk {

const char* resultName(VkResult result);

// The vki::ErrorCode a failed VkResult maps to.
ErrorCode errorCodeOf(VkResult result);

[[noreturn]] void throwVkError(VkResult result, const char* call, const char* file, int line);

}  // namespace vki::vk

#define VKI_VK(call)                                                                                \
    do {                                                                                            \
        VkResult vki_vk_result_ = (call);                                                           \
        if (vki_vk_result_ < 0) ::vki::vk::throwVkError(vki_vk_result_, #call, __FILE__, __LINE__); \
    } while (0)
