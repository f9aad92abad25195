// A one-line terminal progress bar on stderr. On a terminal it redraws in place;
// otherwise it prints each new step once, so logs stay readable.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace vki::tools {

class ProgressBar {
public:
    explicit ProgressBar(std::string title);
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    // fraction in [0, 1]; step names what is happening now.
    void update(double fraction, std::string_view step);
    // Clears the line (terminal) so normal output follows.
    void finish();

private:
    std::string title_;
    std::string last_step_;
    bool terminal_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace vki::tools
