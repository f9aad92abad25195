// Runs a shell command as a test sees a user run it: exit code, whether a signal ended
// it, and its standard output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace vki::test {

struct ShellResult {
    int exit_code = -1;
    bool signaled = false;
    std::string output;
};

inline ShellResult runShell(const std::string& command) {
    ShellResult r;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
    const int status = pclose(pipe);
    r.signaled = WIFSIGNALED(status);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace vki::test
