// Streaming kernels against the CPU reference, on fresh random data, with the
// output poisoned first and a guard tail that must stay poisoned.
#include <cmath>
#include <cstring>
#include <numeric>

#include "gpu/op_cases.hpp"
#include "runtime/ops/elementwise.hpp"
#include "runtime/ops/reduce.hpp"
#include "support/gpu.hpp"

namespace vki::test {
namespace {

constexpr size_t kGuard = 67;  // floats after the output that no kernel may touch

bool isPoison(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    return bits == kPoison;
}

class Ops : public GpuTest {
protected:
    // Runs `record` in one command buffer and returns dst[0..n + kGuard).
    template <typename Record>
    std::vector<float> run(const vk::Buffer& dst, size_t n, const Record& record) {
        runRecorded(record);
        return download(dst, n + kGuard);
    }
    void expectGuardIntact(const std::vector<float>& out, size_t n) {
        for (size_t i = n; i < out.size(); ++i) ASSERT_TRUE(isPoison(out[i])) << "wrote past the end at " << i;
    }
};

TEST_F(Ops, CopyIsExact) {
    for (size_t n : kStreamingSizes) {
        SCOPED_TRACE("n " + std::to_string(n));
        const auto a = randomFloats(n, -1e6f, 1e6f);
        vk::Buffer src = upload(a, "src");
        vk::Buffer dst = poisoned(n + kGuard, "dst");
        const auto out = run(dst, n, [&](vk::CommandBuffer& cmd) {
            ops::recordCopy(ctx(), cmd, vk::wholeRange(src), vk::wholeRange(dst), n);
        });
        ASSERT_EQ(std::memcmp(out.data(), a.data(), n * 4), 0);
        expectGuardIntact(out, n);
    }
}

TEST_F(Ops, CopyVec4IsExact) {
    for (size_t n4 : {1ul, 63ul, 64ul, 65ul, 25001ul}) {
        SCOPED_TRACE("vec4 count " + std::to_string(n4));
        const size_t n = n4 * 4;
        const auto a = randomFloats(n);
        vk::Buffer src = upload(a, "src");
        vk::Buffer dst = poisoned(n + kGuard, "dst");
        const auto out = run(dst, n, [&](vk::CommandBuffer& cmd) {
            ops::recordCopy(ctx(), cmd, vk::wholeRange(src), vk::wholeRange(dst), n4, true);
        });
        ASSERT_EQ(std::memcmp(out.data(), a.data(), n * 4), 0);
        expectGuardIntact(out, n);
    }
}

TEST_F(Ops, CopyWrapsTheGridStride) {
    const size_t n = kGridStrideSize;
    const auto a = randomFloats(n);
    vk::Buffer src = upload(a, "src");
    vk::Buffer dst = poisoned(n + kGuard, "dst");
    const auto out = run(dst, n, [&](vk::CommandBuffer& cmd) {
        ops::recordCopy(ctx(), cmd, vk::wholeRange(src), vk::wholeRange(dst), n);
    });
    ASSERT_EQ(std::memcmp(out.data(), a.data(), n * 4), 0);
    expectGuardIntact(out, n);
}

// Vulkan requires fp32 add and mul to be correctly rounded, so the result equals
// the CPU's float result exactly; inputs avoid denormals (which may flush).
TEST_F(Ops, BinaryMatchesReferenceExactly) {
    for (auto op : {ops::BinaryOp::kAdd, ops::BinaryOp::kMul}) {
        for (size_t n : kStreamingSizes) {
            for (size_t n_b : {n, size_t{1}, std::max<size_t>(1, n / 3)}) {
                SCOPED_TRACE((op == ops::BinaryOp::kAdd ? "add n " : "mul n ") + std::to_string(n) + " n_b " +
                             std::to_string(n_b));
                const auto a = randomFloats(n, -100.0f, 100.0f);
                const auto b = randomFloats(n_b, -100.0f, 100.0f);
                vk::Buffer ga = upload(a, "a"), gb = upload(b, "b");
                vk::Buffer dst = poisoned(n + kGuard, "dst");
                const auto out = run(dst, n, [&](vk::CommandBuffer& cmd) {
                    ops::recordBinary(ctx(), cmd, op, vk::wholeRange(ga), vk::wholeRange(gb), vk::wholeRange(dst), n,
                                      n_b);
                });
                for (size_t i = 0; i < n; ++i) {
                    const float ref = op == ops::BinaryOp::kAdd ? a[i] + b[i % n_b] : a[i] * b[i % n_b];
                    ASSERT_EQ(out[i], ref) << "at " << i;
                }
                expectGuardIntact(out, n);
            }
        }
    }
}

TEST_F(Ops, ReduceMatchesReference) {
    if (!ops::reduceSupported(device().caps())) GTEST_SKIP() << "no subgroup arithmetic";
    for (auto op : {ops::ReduceOp::kSum, ops::ReduceOp::kMax}) {
        for (size_t n : kStreamingSizes) {
            SCOPED_TRACE((op == ops::ReduceOp::kSum ? "sum n " : "max n ") + std::to_string(n));
            const auto a = randomFloats(n, -1.0f, 1.0f);
            vk::Buffer src = upload(a, "src");
            vk::Buffer scratch = poisoned(ops::reduceScratchCount(device().caps(), n), "scratch");
            vk::Buffer dst = poisoned(1 + kGuard, "dst");
            const auto out = run(dst, 1, [&](vk::CommandBuffer& cmd) {
                ops::recordReduce(ctx(), cmd, op, vk::wholeRange(src), vk::wholeRange(scratch), vk::wholeRange(dst), n);
            });
            if (op == ops::ReduceOp::kSum) {
                double ref = 0, magnitude = 0;
                for (float x : a) {
                    ref += x;
                    magnitude += std::fabs(x);
                }
                // Tolerance: fp32 accumulation in any order stays within n * eps * sum|x|;
                // the tree order used here is far better, 1e-6 * sum|x| is ample.
                EXPECT_NEAR(out[0], ref, 1e-6 * magnitude + 1e-6);
            } else {
                EXPECT_EQ(out[0], *std::max_element(a.begin(), a.end()));
            }
            expectGuardIntact(out, 1);
        }
    }
}

}  // namespace
}  // namespace vki::test
