/* vkinfer C ABI.
 *
 * Stable, C99, nothing throws across it. Every function that can fail returns a
 * vki_status; on failure the message for the calling thread is kept until that
 * thread's next failing call and is read with vki_last_error().
 */
#ifndef VKINFER_H
#define VKINFER_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(VKI_BUILDING_LIBRARY)
#define VKI_API __declspec(dllexport)
#else
#define VKI_API __declspec(dllimport)
#endif
#else
#define VKI_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. The numeric values are part of the ABI and never change. */
typedef enum vki_status {
    VKI_OK = 0,
    VKI_ERROR_INVALID_ARGUMENT = 1, /* a caller passed something unusable */
    VKI_ERROR_NO_VULKAN = 2,        /* no Vulkan loader (libvulkan.so.1) could be opened */
    VKI_ERROR_NO_DEVICE = 3,        /* the loader works but no (matching) device exists */
    VKI_ERROR_UNSUPPORTED = 4,      /* the device lacks a feature that is needed */
    VKI_ERROR_OUT_OF_MEMORY = 5,    /* host or device memory ran out */
    VKI_ERROR_DEVICE_LOST = 6,      /* the device was lost; recreate everything */
    VKI_ERROR_TIMEOUT = 7,          /* the GPU did not finish in time */
    VKI_ERROR_BAD_FILE = 8,         /* a file is corrupt, truncated or of an unknown kind */
    VKI_ERROR_IO = 9,               /* a file could not be read or written */
    VKI_ERROR_VULKAN = 10,          /* any other failed Vulkan call */
    VKI_ERROR_INTERNAL = 11         /* a bug in vkinfer: please report it */
} vki_status;

/* Library version, "MAJOR.MINOR.PATCH". Static storage; never NULL. */
VKI_API const char* vki_version(void);

/* Name of a status code, e.g. "VKI_ERROR_NO_DEVICE". Static storage; never NULL. */
VKI_API const char* vki_status_name(vki_status status);

/* Message of the calling thread's last failure, or "" if none. Valid until the
 * thread's next call into vkinfer. Thread-safe (the message is per thread). */
VKI_API const char* vki_last_error(void);

typedef enum vki_device_type {
    VKI_DEVICE_OTHER = 0,
    VKI_DEVICE_INTEGRATED_GPU = 1,
    VKI_DEVICE_DISCRETE_GPU = 2,
    VKI_DEVICE_VIRTUAL_GPU = 3,
    VKI_DEVICE_CPU = 4
} vki_device_type;

/* One Vulkan device as vkinfer sees it. */
typedef struct vki_device_info {
    char name[256];        /* NUL-terminated */
    char driver_name[256]; /* NUL-terminated, "" if the driver does not say */
    uint32_t vendor_id;    /* PCI vendor id (0x10DE NVIDIA, 0x1002 AMD, 0x8086 Intel, ...) */
    uint32_t device_id;
    vki_device_type type;
    uint32_t api_version;        /* VK_MAKE_API_VERSION encoding */
    uint8_t uuid[16];            /* VkPhysicalDeviceIDProperties::deviceUUID */
    uint64_t device_local_bytes; /* size of the largest device-local heap */
    uint32_t subgroup_size;
    uint32_t unified_memory; /* 1 when device memory is host visible (integrated / CPU) */
} vki_device_info;

/* Lists the Vulkan devices, in the loader's order (the index used by --device).
 * Writes at most `capacity` entries to `out_infos` (which may be NULL when capacity
 * is 0) and the total number of devices to `*out_count`. Thread-safe.
 * Errors: VKI_ERROR_NO_VULKAN, VKI_ERROR_NO_DEVICE (zero devices), VKI_ERROR_INVALID_ARGUMENT. */
VKI_API vki_status vki_list_devices(vki_device_info* out_infos, uint32_t capacity, uint32_t* out_count);

#ifdef __cplusplus
}
#endif

#endif /* VKINFER_H */
