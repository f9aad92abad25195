#include "common/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace vki {

Error::Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
Error::~Error() = default;

void assertionFailed(const char* expr, const char* file, int line, std::string_view message) {
    std::fprintf(stderr, "vkinfer: assertion failed: %s at %s:%d%s%.*s\n", expr, file, line,
                 message.empty() ? "" : ": ", static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
    std::abort();
}

std::string formatBytes(unsigned long long bytes) {
    static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024.0 && unit < 4) {
        value /= 1024.0;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof(text), "%.*f %s", value < 10.0 ? 2 : 1, value, kUnits[unit]);
    return text;
}

}  // namespace vki
