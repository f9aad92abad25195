// Logging through spdlog, quiet by default. VKINFER_LOG=trace|debug|info|warn|error|off
// sets the level; the first use reads it. spdlog stays out of public headers.
#pragma once

#include <spdlog/spdlog.h>

namespace vki {

// The library's logger (stderr, "vkinfer" name), created on first use.
spdlog::logger& logger();

}  // namespace vki

#define VKI_LOG_TRACE(...) ::vki::logger().trace(__VA_ARGS__)
#define VKI_LOG_DEBUG(...) ::vki::logger().debug(__VA_ARGS__)
#define VKI_LOG_INFO(...) ::vki::logger().info(__VA_ARGS__)
#define VKI_LOG_WARN(...) ::vki::logger().warn(__VA_ARGS__)
#define VKI_LOG_ERROR(...) ::vki::logger().error(__VA_ARGS__)
