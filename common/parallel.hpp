// parallelFor: splits [0, n) into chunks run on worker threads (the calling thread
// works too). For CPU-side bulk work: quantizing, generating and checking tensors.
#pragma once

#include <cstddef>
#include <functional>

namespace vki {

// Calls body(begin, end) on disjoint ranges covering [0, n), each at most `grain`
// long, on up to `threads` threads (0: hardware concurrency). The first exception
// thrown by a body is rethrown after all threads stop.
void parallelFor(size_t n, size_t grain, const std::function<void(size_t begin, size_t end)>& body,
                 unsigned threads = 0);

}  // namespace vki
