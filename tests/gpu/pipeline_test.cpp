// Pipelines, the on-disk pipeline cache, command buffers and timestamps.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "registry.hpp"
#include "runtime/ops/elementwise.hpp"
#include "support/gpu.hpp"

namespace vki::test {
namespace {

namespace fs = std::filesystem;

class Pipelines : public GpuTest {
protected:
    void SetUp() override {
        GpuTest::SetUp();
        dir_ = fs::temp_directory_path() / ("vkinfer-cache-test-" + std::to_string(seed_));
        fs::remove_all(dir_);
        const char* old = std::getenv("VKINFER_CACHE_DIR");
        old_ = old ? old : "";
        setenv("VKINFER_CACHE_DIR", dir_.c_str(), 1);
    }
    void TearDown() override {
        if (old_.empty())
            unsetenv("VKINFER_CACHE_DIR");
        else
            setenv("VKINFER_CACHE_DIR", old_.c_str(), 1);
        fs::remove_all(dir_);
        GpuTest::TearDown();
    }
    fs::path dir_;
    std::string old_;
};

TEST_F(Pipelines, SpecializationSetsLocalSize) {
    for (uint32_t wg : {32u, 64u, 128u}) {
        const vk::SpecConstant spec[] = {{0, wg}};
        vk::Kernel k(device(), shaders::blob(shaders::ShaderId::add_f32), spec, VK_NULL_HANDLE);
        EXPECT_EQ(k.localSize()[0], wg);
        EXPECT_EQ(k.bindingCount(), 3u);
    }
}

TEST_F(Pipelines, TooLargeWorkgroupIsUnsupported) {
    const vk::SpecConstant spec[] = {{0, device().caps().max_workgroup_invocations + 1}};
    try {
        vk::Kernel k(device(), shaders::blob(shaders::ShaderId::copy_f32), spec, VK_NULL_HANDLE);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    }
}

TEST_F(Pipelines, CacheIsPersistedAndReloaded) {
    fs::path file;
    {
        vk::PipelineCache cache(device());
        EXPECT_FALSE(cache.loadedFromDisk());
        file = cache.path();
        EXPECT_EQ(file.parent_path(), dir_);
        const vk::SpecConstant spec[] = {{0, 64}};
        vk::Kernel k(device(), shaders::blob(shaders::ShaderId::sum_f32), spec, cache.handle());
    }
    ASSERT_TRUE(fs::exists(file)) << file;
    EXPECT_GE(fs::file_size(file), 32u) << "at least the cache header";
    vk::PipelineCache again(device());
    EXPECT_TRUE(again.loadedFromDisk());
    EXPECT_EQ(again.loadedBytes(), fs::file_size(file));
}

TEST_F(Pipelines, CorruptCacheFileIsIgnored) {
    fs::path file;
    { file = vk::PipelineCache(device()).path(); }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << "this is not a pipeline cache, but it is 32+ bytes";
    vk::PipelineCache cache(device());
    EXPECT_FALSE(cache.loadedFromDisk());
    const vk::SpecConstant spec[] = {{0, 64}};
    vk::Kernel k(device(), shaders::blob(shaders::ShaderId::copy_f32), spec, cache.handle());
    EXPECT_NE(k.pipeline(), VK_NULL_HANDLE);
}

TEST_F(Pipelines, RecordedCommandBufferReplays) {
    const size_t n = 1000;
    auto a = randomFloats(n);
    vk::Buffer src = upload(a, "src");
    vk::Buffer dst = poisoned(n, "dst");
    vk::CommandBuffer cmd(device(), vk::QueueKind::kCompute);
    cmd.begin(/*reusable=*/true);
    ops::recordBinary(ctx(), cmd, ops::BinaryOp::kAdd, vk::wholeRange(dst), vk::wholeRange(src), vk::wholeRange(dst), n,
                      n);
    cmd.barrierToHost();
    cmd.end();
    // dst = poison + a is NaN; replaying the same recording must not change that...
    cmd.submitAndWait();
    // ...so reset dst to zero through a transfer, then replay three times: dst = 3a.
    std::vector<float> zeros(n, 0.0f);
    transfer().upload(dst, 0, std::as_bytes(std::span(zeros)));
    for (int i = 0; i < 3; ++i) cmd.submitAndWait();
    const auto out = download(dst, n);
    for (size_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(out[i], (a[i] + a[i]) + a[i]) << i;
}

TEST_F(Pipelines, TimestampsMeasureADispatch) {
    if (!device().caps().timestamps) GTEST_SKIP() << "no timestamps on this queue";
    const size_t n = 1 << 20;
    vk::Buffer src = upload(randomFloats(n), "src");
    vk::Buffer dst = poisoned(n, "dst");
    vk::TimestampPool ts(device(), 2);
    vk::CommandBuffer cmd(device(), vk::QueueKind::kCompute);
    cmd.begin();
    cmd.resetTimestamps(ts);
    cmd.timestamp(ts, 0);
    ops::recordCopy(ctx(), cmd, vk::wholeRange(src), vk::wholeRange(dst), n);
    cmd.timestamp(ts, 1);
    cmd.end();
    cmd.submitAndWait();
    const double ns = ts.elapsedNs(0, 1);
    EXPECT_GT(ns, 0.0);
    EXPECT_LT(ns, 60e9);
}

}  // namespace
}  // namespace vki::test
