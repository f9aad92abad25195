#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <string>

namespace vki {

spdlog::logger& logger() {
    static const std::shared_ptr<spdlog::logger> instance = [] {
        auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        auto log = std::make_shared<spdlog::logger>("vkinfer", sink);
        log->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
        const char* env = std::getenv("VKINFER_LOG");
        log->set_level(env ? spdlog::level::from_str(env) : spdlog::level::warn);
        return log;
    }();
    return *instance;
}

}  // namespace vki
