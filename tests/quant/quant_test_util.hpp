// Helpers shared by the quant tests: byte buffers, round trips and test data.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "quant/quant.hpp"

namespace vki::quant::test {

inline std::vector<std::byte> bytesOf(std::initializer_list<unsigned> values) {
    std::vector<std::byte> bytes;
    for (unsigned v : values) bytes.push_back(static_cast<std::byte>(v));
    return bytes;
}

inline std::vector<std::byte> quantized(DType type, const std::vector<float>& x) {
    std::vector<std::byte> bytes(byteSize(type, x.size()));
    quantize(type, x, bytes);
    return bytes;
}

inline std::vector<float> dequantized(DType type, const std::vector<std::byte>& bytes, size_t n) {
    std::vector<float> x(n);
    dequantize(type, bytes, x);
    return x;
}

inline std::vector<float> roundTrip(DType type, const std::vector<float>& x) {
    return dequantized(type, quantized(type, x), x.size());
}

// Test data, generated block by block (block = the format's block, or 32 for the float
// types) so that the all-equal and zero distributions line up with real blocks.
enum class Distribution {
    kUniform,    // U(-1, 1)
    kGaussian,   // N(0, 1)
    kOutliers,   // N(0, 1) with 1 in 64 elements scaled by ±(10 .. 30)
    kAllEqual,   // each block one value from N(0, 1)
    kZero,       // all zeros
    kBlockScale  // N(0, s^2) with s log-uniform in [1e-2, 1e2], one s per block
};

inline const char* distributionName(Distribution d) {
    switch (d) {
        case Distribution::kUniform:
            return "uniform";
        case Distribution::kGaussian:
            return "gaussian";
        case Distribution::kOutliers:
            return "outliers";
        case Distribution::kAllEqual:
            return "all-equal";
        case Distribution::kZero:
            return "zero";
        case Distribution::kBlockScale:
            return "block-scale";
    }
    return "?";
}

inline constexpr Distribution kAllDistributions[] = {Distribution::kUniform,  Distribution::kGaussian,
                                                     Distribution::kOutliers, Distribution::kAllEqual,
                                                     Distribution::kZero,     Distribution::kBlockScale};

inline std::vector<float> generate(Distribution dist, size_t n_blocks, size_t block, std::mt19937& rng) {
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::normal_distribution<float> gaussian(0.0f, 1.0f);
    std::uniform_real_distribution<float> log_scale(-2.0f, 2.0f);
    std::uniform_real_distribution<float> outlier(10.0f, 30.0f);
    std::vector<float> x(n_blocks * block);
    for (size_t b = 0; b < n_blocks; ++b) {
        float* y = x.data() + b * block;
        const float constant = gaussian(rng);
        const float scale = std::pow(10.0f, log_scale(rng));
        for (size_t i = 0; i < block; ++i) {
            switch (dist) {
                case Distribution::kUniform:
                    y[i] = uniform(rng);
                    break;
                case Distribution::kGaussian:
                    y[i] = gaussian(rng);
                    break;
                case Distribution::kOutliers:
                    y[i] = gaussian(rng);
                    if (rng() % 64 == 0) y[i] = (rng() % 2 ? 1.0f : -1.0f) * outlier(rng);
                    break;
                case Distribution::kAllEqual:
                    y[i] = constant;
                    break;
                case Distribution::kZero:
                    y[i] = 0.0f;
                    break;
                case Distribution::kBlockScale:
                    y[i] = scale * gaussian(rng);
                    break;
            }
        }
    }
    return x;
}

// A fresh seed per run, reported through SCOPED_TRACE by the caller.
inline uint32_t freshSeed() {
    return std::random_device{}();
}

inline std::string seedTrace(uint32_t seed) {
    return "seed " + std::to_string(seed);
}

}  // namespace vki::quant::test
