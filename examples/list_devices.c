/* Minimal embedding through the C ABI: list the Vulkan devices vkinfer sees.
 * Exit code 0 when at least one device is found. */
#include <stdio.h>
#include <stdlib.h>

#include "vkinfer/vkinfer.h"

int main(void) {
    uint32_t count = 0;
    vki_status status = vki_list_devices(NULL, 0, &count);
    if (status != VKI_OK) {
        fprintf(stderr, "vkinfer %s: %s: %s\n", vki_version(), vki_status_name(status), vki_last_error());
        return 1;
    }
    vki_device_info* infos = calloc(count, sizeof(vki_device_info));
    if (!infos) return 1;
    status = vki_list_devices(infos, count, &count);
    if (status != VKI_OK) {
        fprintf(stderr, "%s: %s\n", vki_status_name(status), vki_last_error());
        free(infos);
        return 1;
    }
    printf("vkinfer %s, %u device(s)\n", vki_version(), count);
    for (uint32_t i = 0; i < count; ++i)
        printf("  %u: %s (driver %s, subgroup %u, %.1f GiB device-local%s)\n", i, infos[i].name, infos[i].driver_name,
               infos[i].subgroup_size, (double)infos[i].device_local_bytes / (1 << 30),
               infos[i].unified_memory ? ", unified" : "");
    free(infos);
    return 0;
}
