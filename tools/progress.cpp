#include "tools/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace vki::tools {

ProgressBar::ProgressBar(std::string title)
    : title_(std::move(title)), terminal_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
    finish();
}

void ProgressBar::update(double fraction, std::string_view step) {
    fraction = std::clamp(fraction, 0.0, 1.0);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (!terminal_) {
        if (step != last_step_) std::fprintf(stderr, "%s: %.*s\n", title_.c_str(), int(step.size()), step.data());
        last_step_ = step;
        return;
    }
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth + 0.5);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%%  %5.1fs  %-24.*s", title_.c_str(), bar.c_str(),
                 static_cast<int>(fraction * 100 + 0.5), elapsed, int(step.size()), step.data());
    std::fflush(stderr);
    last_step_ = step;
}

void ProgressBar::finish() {
    if (finished_) return;
    finished_ = true;
    if (terminal_ && !last_step_.empty()) std::fprintf(stderr, "\r\033[2K");
    std::fflush(stderr);
}

}  // namespace vki::tools
