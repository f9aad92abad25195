#include "graph/reference_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.hpp"

namespace vki::graph::ref {

std::vector<float> dequantRows(quant::DType dtype, std::span<const std::byte> w, uint32_t rows, uint32_t k) {
    const uint64_t row_bytes = quant::byteSize(dtype, k);
    VKI_ASSERT(w.size() >= row_bytes * rows);
    std::vector<float> out(static_cast<size_t>(rows) * k);
    for (uint32_t r = 0; r < rows; ++r) {
        quant::dequantize(dtype, w.subspan(r * row_bytes, row_bytes), std::span(out).subspan(size_t{r} * k, k));
    }
    return out;
}

void rmsNorm(std::span<const float> x, std::span<const float> g, float eps, std::span<float> y) {
    VKI_ASSERT(g.size() == x.size() && y.size() == x.size() && !x.empty());
    double sum = 0;
    for (float v : x) sum += double{v} * v;
    const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(x.size()) + eps));
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * scale * g[i];
}

namespace {

float silu(float v) {
    return v / (1.0f + std::exp(-v));
}

// The shader's recipQ8_1: every step a correctly rounded fp32 multiply or subtract;
// volatile keeps a compiler from contracting them into an fma.
float recipQ8_1(float a) {
    uint32_t bits;
    std::memcpy(&bits, &a, 4);
    bits = 0x7EF311C3u - bits;
    float y;
    std::memcpy(&y, &bits, 4);
    for (int i = 0; i < 4; ++i) {
        volatile float t = a * y;
        volatile float u = 2.0f - t;
        y = y * u;
    }
    return y;
}

double dot(const float* a, const float* b, uint32_t k) {
    double s = 0;
    for (uint32_t i = 0; i < k; ++i) s += double{a[i]} * b[i];
    return s;
}

}  // namespace

void matMul(const MatMul& m, std::span<const float> x, uint32_t n, std::span<float> y) {
    const std::vector<float> w = dequantRows(m.dtype, m.w, m.rows, m.k);
    const std::vector<float> up = m.up.empty() ? std::vector<float>{} : dequantRows(m.dtype, m.up, m.rows, m.k);
    matMul(MatMulF32{.k = m.k,
                     .rows = m.rows,
                     .w = w,
                     .up = up,
                     .norm = m.norm,
                     .eps = m.eps,
                     .bias = m.bias,
                     .accumulate = m.accumulate},
           x, n, y);
}

void matMul(const MatMulF32& m, std::span<const float> x, uint32_t n, std::span<float> y) {
    VKI_ASSERT(x.size() >= size_t{n} * m.k && y.size() >= size_t{n} * m.rows);
    VKI_ASSERT(m.w.size() == size_t{m.rows} * m.k && (m.up.empty() || m.up.size() == m.w.size()));
    VKI_ASSERT(m.norm.empty() || m.norm.size() == m.k);
    VKI_ASSERT(m.bias.empty() || m.bias.size() == m.rows);
    std::vector<float> xn(m.k);
    for (uint32_t c = 0; c < n; ++c) {
        const auto xc = x.subspan(size_t{c} * m.k, m.k);
        if (m.norm.empty()) {
            std::copy(xc.begin(), xc.end(), xn.begin());
        } else {
            rmsNorm(xc, m.norm, m.eps, xn);
        }
        for (uint32_t r = 0; r < m.rows; ++r) {
            float v = static_cast<float>(dot(&m.w[size_t{r} * m.k], xn.data(), m.k));
            if (!m.bias.empty()) v += m.bias[r];
            if (!m.up.empty()) v = silu(v) * static_cast<float>(dot(&m.up[size_t{r} * m.k], xn.data(), m.k));
            float& out = y[size_t{c} * m.rows + r];
            out = m.accumulate ? out + v : v;
        }
    }
}

Q8_1 quantizeQ8_1(std::span<const float> x, uint32_t k, uint32_t n) {
    VKI_ASSERT(k % 32 == 0 && x.size() >= size_t{n} * k);
    constexpr float kInv127 = 0x1.020408p-7f;  // fl(1/127), bits 0x3C010204
    Q8_1 q;
    q.codes.resize(size_t{n} * k);
    q.d.resize(size_t{n} * k / 32);
    q.s.resize(q.d.size());
    for (size_t b = 0; b < q.d.size(); ++b) {
        const float* v = &x[b * 32];
        float amax = 0.0f;
        for (int e = 0; e < 32; ++e) amax = std::max(amax, std::fabs(v[e]));
        float d = amax * kInv127;
        if (d < std::numeric_limits<float>::min()) d = 0.0f;
        const float id = d != 0.0f ? recipQ8_1(d) : 0.0f;
        int sum = 0;
        for (int e = 0; e < 32; ++e) {
            const int c = static_cast<int>(std::round(v[e] * id));
            q.codes[b * 32 + e] = static_cast<int8_t>(c);
            sum += c;
        }
        q.d[b] = d;
        q.s[b] = d * static_cast<float>(sum);
    }
    return q;
}

std::vector<float> dequantQ8_1(const Q8_1& q) {
    std::vector<float> out(q.codes.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = q.d[i / 32] * q.codes[i];
    return out;
}

namespace {

// Each pair of each head rotated by theta_i = steps * inv_freq[i], cos and sin times `scale`.
void rotate(std::span<float> x, uint32_t heads, const AttentionConfig& a, float steps, float scale) {
    const uint32_t hd = a.head_dim, half = hd / 2;
    VKI_ASSERT(x.size() == size_t{heads} * hd && a.inv_freq.size() == half);
    for (uint32_t h = 0; h < heads; ++h) {
        float* v = &x[size_t{h} * hd];
        for (uint32_t i = 0; i < half; ++i) {
            const float theta = steps * a.inv_freq[i];
            const float c = std::cos(theta) * scale, s = std::sin(theta) * scale;
            const uint32_t i0 = a.rope == RopeKind::kNormal ? 2 * i : i;
            const uint32_t i1 = a.rope == RopeKind::kNormal ? 2 * i + 1 : i + half;
            const float x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * c - x1 * s;
            v[i1] = x0 * s + x1 * c;
        }
    }
}

}  // namespace

void rope(std::span<float> x, uint32_t heads, const AttentionConfig& a, uint32_t position) {
    rotate(x, heads, a, static_cast<float>(position), a.rope_mscale);
}

void ropeShift(std::span<float> x, uint32_t heads, const AttentionConfig& a, int32_t delta) {
    rotate(x, heads, a, static_cast<float>(delta), 1.0f);
}

void attention(const AttentionConfig& a, std::span<const float> q, std::span<const float> keys,
               std::span<const float> values, uint32_t len, std::span<float> out) {
    const uint32_t hd = a.head_dim, kv_dim = a.n_head_kv * hd, group = a.n_head / a.n_head_kv;
    VKI_ASSERT(len > 0 && q.size() == size_t{a.n_head} * hd && out.size() == q.size());
    VKI_ASSERT(keys.size() >= size_t{len} * kv_dim && values.size() >= size_t{len} * kv_dim);
    const uint32_t lo = a.window != 0 && len > a.window ? len - a.window : 0;
    std::vector<double> p(len);
    for (uint32_t h = 0; h < a.n_head; ++h) {
        const float* qh = &q[size_t{h} * hd];
        const size_t kv_off = size_t{h / group} * hd;
        double max = -INFINITY;
        for (uint32_t t = lo; t < len; ++t) {
            p[t] = dot(qh, &keys[t * kv_dim + kv_off], hd) * a.scale;
            max = std::max(max, p[t]);
        }
        double sum = 0;
        for (uint32_t t = lo; t < len; ++t) sum += p[t] = std::exp(p[t] - max);
        for (uint32_t d = 0; d < hd; ++d) {
            double acc = 0;
            for (uint32_t t = lo; t < len; ++t) acc += p[t] * values[t * kv_dim + kv_off + d];
            out[size_t{h} * hd + d] = static_cast<float>(acc / sum);
        }
    }
}

float roundFp16(float x) {
    return quant::fp16ToFp32(quant::fp32ToFp16(x));
}

void embed(quant::DType dtype, std::span<const std::byte> table, uint32_t rows, uint32_t k,
           std::span<const uint32_t> ids, std::span<float> y) {
    const uint64_t row_bytes = quant::byteSize(dtype, k);
    VKI_ASSERT(y.size() >= ids.size() * k && table.size() >= row_bytes * rows);
    for (size_t c = 0; c < ids.size(); ++c) {
        VKI_ASSERT(ids[c] < rows);
        quant::dequantize(dtype, table.subspan(ids[c] * row_bytes, row_bytes), y.subspan(c * k, k));
    }
}

void swiGlu(std::span<const float> a, std::span<const float> b, std::span<float> y) {
    VKI_ASSERT(a.size() == b.size() && y.size() == a.size());
    for (size_t i = 0; i < a.size(); ++i) y[i] = silu(a[i]) * b[i];
}

uint32_t argMax(std::span<const float> x) {
    VKI_ASSERT(!x.empty());
    uint32_t best = 0;
    for (uint32_t i = 1; i < x.size(); ++i) {
        if (x[i] > x[best]) best = i;
    }
    return best;
}

}  // namespace vki::graph::ref
