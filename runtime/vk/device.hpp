// Device selection and the logical device: a compute queue (plus a dedicated
// transfer queue where the hardware has one), each with a timeline semaphore so that
// work on one queue can wait for the other and the host can wait with a timeout.
#pragma once

#include <volk.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/vk/caps.hpp"
#include "runtime/vk/instance.hpp"

namespace vki::vk {

// Caps of every device the instance sees, in the loader's order.
std::vector<DeviceCaps> probeAllDevices(const Instance& instance);

// Picks a device: "" or "auto" ranks discrete > integrated > virtual > CPU > other
// (ties: more device-local memory, then lower index); a number is an index; anything
// else is a case-insensitive name substring (first match). Throws kNoDevice listing
// the devices when nothing matches.
uint32_t selectDevice(const std::vector<DeviceCaps>& devices, std::string_view spec);

// A point on a queue's timeline: reached when the submission that signalled it is done.
struct SyncPoint {
    VkSemaphore semaphore = VK_NULL_HANDLE;
    uint64_t value = 0;
};

enum class QueueKind { kCompute, kTransfer };

class Device {
public:
    // `spec` as for selectDevice. Throws kUnsupported when the device lacks what
    // vkinfer needs (Vulkan 1.2, timeline semaphores, a compute queue).
    Device(Instance& instance, std::string_view spec);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    Instance& instance() const { return instance_; }
    const DeviceCaps& caps() const { return caps_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkDevice handle() const { return device_; }
    // Device-level entry points of this device (never volk's global ones).
    const VolkDeviceTable& vk() const { return table_; }

    uint32_t queueFamily(QueueKind kind) const { return queues_[index(kind)].family; }
    bool hasDedicatedTransferQueue() const { return queues_[1].family != queues_[0].family; }
    // Distinct queue families in use: buffers are shared CONCURRENT between them.
    const std::vector<uint32_t>& queueFamilies() const { return families_; }

    // Submits one command buffer. It first waits for the other queue's latest work, so
    // a transfer never races a dispatch that writes what it copies, and vice versa.
    // Thread-safe.
    SyncPoint submit(QueueKind kind, VkCommandBuffer cmd);
    // Blocks until `point` is reached. Throws kTimeout after timeoutNs() (the GPU hung
    // or the work is far too big), kDeviceLost if the device is gone.
    void wait(SyncPoint point) const;
    void waitIdle() const;

    // VKINFER_GPU_TIMEOUT_MS (default 120000) in nanoseconds.
    static uint64_t timeoutNs();

private:
    struct Queue {
        uint32_t family = 0;
        VkQueue queue = VK_NULL_HANDLE;
        VkSemaphore timeline = VK_NULL_HANDLE;
        uint64_t value = 0;         // last value signalled
        uint64_t waited_other = 0;  // other queue's value this queue already waits for
    };
    static size_t index(QueueKind kind) { return kind == QueueKind::kCompute ? 0 : 1; }

    Instance& instance_;
    DeviceCaps caps_;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VolkDeviceTable table_{};
    Queue queues_[2];
    std::vector<uint32_t> families_;
    std::mutex submit_mutex_;
};

}  // namespace vki::vk
