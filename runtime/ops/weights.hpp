// Internal to runtime/ops: what the kernels that read GGUF weight rows (matvec,
// matmul, embed) share: the variant table per weight type and the argument checks.
#pragma once

#include <cstdint>

#include "quant/quant.hpp"
#include "registry.hpp"
#include "runtime/vk/caps.hpp"
#include "runtime/vk/command.hpp"

namespace vki::ops {

struct MatVecArgs;

struct WeightKernels {
    quant::DType dtype;
    shaders::ShaderId matvec;
    shaders::ShaderId matvec_glu;
    shaders::ShaderId matmul;
    shaders::ShaderId matmul_glu;
    shaders::ShaderId matmul_coopmat;
    shaders::ShaderId matmul_glu_coopmat;
    shaders::ShaderId embed;
};

// Null when no kernel reads `dtype`.
const WeightKernels* findKernels(quant::DType dtype);

// Throws kUnsupported when no kernel reads `dtype` or the device cannot load it;
// `op` names the op in the message.
void checkWeightSupport(const vk::DeviceCaps& caps, quant::DType dtype, const char* op);

// Weight words per row: 32-bit for f32, 16-bit for the rest (dequant.glsl's DQ_WORD).
uint32_t rowWords(quant::DType dtype, uint32_t k);

// Asserts that k is a positive multiple of the type's block.
void checkRowLength(quant::DType dtype, uint32_t k);

// Asserts what every weight-times-activations kernel needs of its arguments: rows and
// columns, column strides, slab, bias and (when `reads_x`) x and norm sizes, outputs
// indexable by 32 bits. Each kernel adds its own limits (n, norm, row length).
void checkProductArgs(const MatVecArgs& args, bool reads_x);

// The (x, y) grid of a tiled product: row tiles along x, column tiles along y.
struct TileGrid {
    uint32_t x = 0, y = 0;
};
TileGrid tileGrid(const vk::DeviceCaps& caps, const MatVecArgs& args, uint32_t tile_rows, uint32_t tile_cols);

inline bool present(const vk::BufferRange& r) {
    return r.buffer != VK_NULL_HANDLE;
}

// Floats that n columns of `len` at `stride` span.
inline uint64_t columnsSpan(uint32_t n, uint32_t stride, uint64_t len) {
    return uint64_t{n - 1} * stride + len;
}

}  // namespace vki::ops
