// The standalone RMSNorm kernel against the CPU reference: odd widths, strided
// columns, poisoned outputs with the gaps between columns left untouched.
#include <cstring>

#include "graph/reference_ops.hpp"
#include "runtime/ops/norm.hpp"
#include "support/gpu.hpp"

namespace vki::test {
namespace {

class RmsNorm : public GpuTest {};

TEST_F(RmsNorm, MatchesReference) {
    for (const uint32_t k : {1u, 7u, 64u, 255u, 4099u}) {
        for (const uint32_t n : {1u, 3u, 8u}) {
            const uint32_t x_stride = k + 5, y_stride = k + 3;
            const auto x = randomFloats(size_t{n} * x_stride, -3.0f, 3.0f);
            const auto g = randomFloats(k, 0.5f, 1.5f);
            vk::Buffer xb = upload(x, "x"), gb = upload(g, "g");
            vk::Buffer y = poisoned(size_t{n} * y_stride, "y");
            runRecorded([&](vk::CommandBuffer& cmd) {
                ops::recordRmsNorm(ctx(), cmd, vk::wholeRange(xb), x_stride, vk::wholeRange(gb), vk::wholeRange(y),
                                   y_stride, k, n, 1e-5f);
            });
            const auto got = download(y, size_t{n} * y_stride);
            std::vector<float> expect(k);
            for (uint32_t c = 0; c < n; ++c) {
                graph::ref::rmsNorm(std::span(x).subspan(size_t{c} * x_stride, k), g, 1e-5f, expect);
                for (uint32_t i = 0; i < y_stride; ++i) {
                    const float v = got[size_t{c} * y_stride + i];
                    uint32_t bits;
                    std::memcpy(&bits, &v, 4);
                    if (i >= k) {
                        ASSERT_EQ(bits, kPoison) << "wrote between columns, k " << k << " column " << c;
                        continue;
                    }
                    // One rounding of the scale, one of each product: a few ulp of |y|.
                    ASSERT_NEAR(v, expect[i], 1e-5f * std::max(1.0f, std::abs(expect[i])))
                        << "k " << k << " column " << c << " element " << i;
                }
            }
        }
    }
}

}  // namespace
}  // namespace vki::test
