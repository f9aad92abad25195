// Every test in vkinfer_tests, and every CLI process a test starts, runs with the
// Khronos validation layer and a pipeline cache private to the build tree. Set here,
// before main, rather than through CTest: gtest_discover_tests splits list-valued
// ENVIRONMENT properties.
#include <cstdlib>

namespace {

const bool kEnvironmentSet = [] {
    setenv("VKINFER_VALIDATION", "1", 0);
    setenv("VKINFER_CACHE_DIR", VKI_TEST_CACHE_DIR, 0);
    return true;
}();

}  // namespace
