// The C ABI (include/vkinfer/vkinfer.h): exceptions end here and become a status
// plus a per-thread message.
#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "common/error.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/instance.hpp"

namespace {

thread_local std::string t_last_error;

template <typename Body>
vki_status guarded(const Body& body) {
    try {
        body();
        return VKI_OK;
    } catch (const vki::Error& e) {
        t_last_error = e.what();
        return e.status();
    } catch (const std::bad_alloc&) {
        t_last_error = "out of host memory";
        return VKI_ERROR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        t_last_error = std::string("internal error: ") + e.what();
        return VKI_ERROR_INTERNAL;
    } catch (...) {
        t_last_error = "internal error: unknown exception";
        return VKI_ERROR_INTERNAL;
    }
}

void copyText(char (&dst)[256], const std::string& src) {
    const size_t n = std::min(src.size(), sizeof(dst) - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

}  // namespace

extern "C" {

VKI_API const char* vki_version(void) {
    return VKINFER_VERSION;
}

VKI_API const char* vki_status_name(vki_status status) {
    switch (status) {
        case VKI_OK:
            return "VKI_OK";
        case VKI_ERROR_INVALID_ARGUMENT:
            return "VKI_ERROR_INVALID_ARGUMENT";
        case VKI_ERROR_NO_VULKAN:
            return "VKI_ERROR_NO_VULKAN";
        case VKI_ERROR_NO_DEVICE:
            return "VKI_ERROR_NO_DEVICE";
        case VKI_ERROR_UNSUPPORTED:
            return "VKI_ERROR_UNSUPPORTED";
        case VKI_ERROR_OUT_OF_MEMORY:
            return "VKI_ERROR_OUT_OF_MEMORY";
        case VKI_ERROR_DEVICE_LOST:
            return "VKI_ERROR_DEVICE_LOST";
        case VKI_ERROR_TIMEOUT:
            return "VKI_ERROR_TIMEOUT";
        case VKI_ERROR_BAD_FILE:
            return "VKI_ERROR_BAD_FILE";
        case VKI_ERROR_IO:
            return "VKI_ERROR_IO";
        case VKI_ERROR_VULKAN:
            return "VKI_ERROR_VULKAN";
        case VKI_ERROR_INTERNAL:
            return "VKI_ERROR_INTERNAL";
    }
    return "VKI_STATUS_UNKNOWN";
}

VKI_API const char* vki_last_error(void) {
    return t_last_error.c_str();
}

VKI_API vki_status vki_list_devices(vki_device_info* out_infos, uint32_t capacity, uint32_t* out_count) {
    return guarded([&] {
        if (!out_count) throw vki::Error(vki::ErrorCode::kInvalidArgument, "vki_list_devices: out_count is NULL");
        if (capacity > 0 && !out_infos)
            throw vki::Error(vki::ErrorCode::kInvalidArgument, "vki_list_devices: out_infos is NULL");
        vki::vk::Instance instance(vki::vk::InstanceOptions::fromEnvironment());
        const auto devices = vki::vk::probeAllDevices(instance);
        *out_count = static_cast<uint32_t>(devices.size());
        for (uint32_t i = 0; i < std::min<size_t>(capacity, devices.size()); ++i) {
            const auto& d = devices[i];
            vki_device_info& info = out_infos[i];
            std::memset(&info, 0, sizeof(info));
            copyText(info.name, d.name);
            copyText(info.driver_name, d.driver_name);
            info.vendor_id = d.vendor_id;
            info.device_id = d.device_id;
            info.type = static_cast<vki_device_type>(d.device_type);
            info.api_version = d.api_version;
            std::memcpy(info.uuid, d.device_uuid.data(), sizeof(info.uuid));
            info.device_local_bytes = d.device_local_bytes;
            info.subgroup_size = d.subgroup_size;
            info.unified_memory = d.uma ? 1 : 0;
        }
    });
}

}  // extern "C"
