#include "runtime/executor.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>

#include "common/error.hpp"
#include "common/log.hpp"
#include "graph/build.hpp"
#include "runtime/ops/attention.hpp"
#include "runtime/ops/matmul.hpp"
#include "runtime/ops/matmul_int8.hpp"
#include "runtime/ops/matvec.hpp"
#include "runtime/ops/norm.hpp"
#include "runtime/vk/command.hpp"
#include "runtime/vk/memory.hpp"
#include "runtime/vk/pipeline.hpp"
#include "runtime/vk/transfer.hpp"

namespace vki {

namespace {

using Clock = std::chrono::steady_clock;

double microseconds(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

uint64_t alignUp(uint64_t v, uint64_t a) {
    return (v + a - 1) / a * a;
}

// A weight on the device: matrices as row slabs in GGUF block layout, norms and
// biases as one buffer of floats.
struct Slab {
    vk::Buffer buffer;
    uint32_t row0 = 0;
    uint32_t rows = 0;
};
struct DeviceWeight {
    std::vector<Slab> slabs;
    vk::Buffer floats;
};

// One recording of a bucket's graph.
struct Recording {
    uint32_t columns = 0;  // output columns: the bucket's last ones (all n, or fewer)
    // Attention by the decode kernel (split over the keys, per token) instead of flash
    // attention: a prompt bucket's recording for steps of one token per sequence.
    bool split_attention = false;
    std::optional<vk::CommandBuffer> forward;      // the graph, then the ids to the host
    std::optional<vk::CommandBuffer> read_logits;  // the logits rows to the host
    uint32_t dispatches = 0;
    std::unique_ptr<vk::TimestampPool> timestamps;  // profile: one after each op
};

// One shape bucket: its recordings and the sizes they were recorded for.
struct Plan {
    uint32_t n = 0;
    graph::MemoryPlan memory;
    std::unique_ptr<vk::DescriptorArena> arena;
    // The recordings, fewest output columns first. Decode buckets have one (every
    // column, split attention). Prompt buckets (flash attention) also have ones whose
    // output matrix and argmax run on their last 1 or 8 columns only, where the column
    // is bindable (the other tokens of a prompt chunk need no logits), and up to 64
    // tokens, where the slots can fill them with one token each, one for batched
    // decode steps (split attention, every column).
    std::vector<Recording> recordings;
    bool batched_decode = false;  // has a split-attention recording of every column
};

// The output-column counts of the partial recordings of prompt buckets.
constexpr uint32_t kTailColumns[] = {1, 8};
// Largest batched decode step recorded with split attention.
constexpr uint32_t kMaxSplitAttentionColumns = 64;

}  // namespace

struct Executor::Impl {
    vk::Device& device;
    const model::GgufFile& file;
    graph::Graph graph;
    uint32_t n_ctx = 0;
    uint32_t max_n = 0;
    uint64_t slab_limit = 0;
    vk::MemoryAllocator memory;
    vk::PipelineCache pipeline_cache;
    ops::KernelCache kernels;
    std::vector<DeviceWeight> weights;
    uint64_t weight_bytes = 0;
    uint64_t weight_bytes_per_step = 0;
    vk::Buffer inv_freq;
    std::unique_ptr<kv::KvCache> kv;
    ops::AttentionSplit split;

    // Step buffer: ids | positions | slots | page tables, each section aligned for
    // binding; written by the host, mirrored to device memory on discrete GPUs.
    uint64_t ids_off = 0, pos_off = 0, slot_off = 0, table_off = 0, step_bytes = 0;
    vk::Buffer step_host, step_device;
    vk::Buffer activations, partials;
    // Where RMSNorm runs as its own dispatch instead of a matvec prologue: its output.
    bool separate_norm = false;
    vk::Buffer normed;
    // ExecutorOptions::int8_activations: the quantized x of the prompt matmuls that use them.
    bool int8 = false;
    vk::Buffer quantized;
    vk::Buffer ids_readback, logits_readback;
    std::map<uint32_t, Plan> plans;
    StepTiming timing;
    // The last step's outputs: token c's row is c + row_shift; rows of tokens
    // [outputs_first, logits_end) were read back.
    int64_t row_shift = 0;
    uint32_t outputs_first = 0, logits_end = 0;
    bool profile = false;
    const Recording* last_recording = nullptr;

    Impl(vk::Device& d, const model::GgufFile& f, const ExecutorOptions& options, const Progress& progress);
    void uploadWeights(const Progress& progress);
    void record(Plan& plan, Recording& rec);
    // Whether the output matrix's input column c starts at a bindable offset.
    bool columnBindable(uint32_t c, uint64_t align) const {
        for (const graph::Op& op : graph.ops) {
            if (op.kind == graph::OpKind::kMatMul && op.out == graph.logits)
                return uint64_t{c} * graph.values[op.in[0].value].width * sizeof(float) % align == 0;
        }
        return false;
    }
    const vk::Buffer& stepBuffer() const { return step_device ? step_device : step_host; }
    vk::BufferRange stepRange(uint64_t offset, uint64_t bytes) const { return {stepBuffer().handle(), offset, bytes}; }
};

Executor::Impl::Impl(vk::Device& d, const model::GgufFile& f, const ExecutorOptions& options, const Progress& progress)
    : device(d),
      file(f),
      graph(graph::buildGraph(f)),
      memory(d),
      pipeline_cache(d),
      kernels(d, pipeline_cache.handle()) {
    graph::fuse(graph);
    const vk::DeviceCaps& caps = device.caps();
    for (const graph::Weight& w : graph.weights) {
        if (w.rows > 1) ops::checkMatVecSupport(caps, w.dtype);
    }
    if (!caps.storage_buffer_16bit) {
        throw Error(ErrorCode::kUnsupported,
                    "device " + caps.name + " lacks storageBuffer16BitAccess, which the f16 KV cache needs");
    }
    if (!caps.hasSubgroupOps(VK_SUBGROUP_FEATURE_ARITHMETIC_BIT)) {
        throw Error(
            ErrorCode::kUnsupported,
            "device " + caps.name + " lacks subgroup arithmetic in compute shaders, which vkinfer's kernels use");
    }
    n_ctx = options.n_ctx ? options.n_ctx : std::min<uint32_t>(graph.config.n_ctx, 4096);
    VKI_ASSERT(!options.buckets.empty());

    const graph::AttentionConfig& a = graph.attention;
    const kv::KvShape shape{graph.config.n_layer, a.n_head_kv, a.head_dim, options.page_tokens, options.kv_type};
    const uint64_t page_bytes = kv::pageBytes(shape);  // refuses a KV type the model cannot use before the upload

    slab_limit = options.max_slab_bytes ? std::min(options.max_slab_bytes, caps.max_storage_buffer_range)
                                        : caps.max_storage_buffer_range;
    uploadWeights(progress);
    inv_freq = memory.createBuffer(a.inv_freq.size() * sizeof(float), vk::MemoryKind::kDevice, "rope frequencies");
    vk::Transfer transfer(device, memory);
    transfer.upload(inv_freq, 0, std::as_bytes(std::span(a.inv_freq)));

    // A sliding-window model's sequences hold the pages of their window and of one
    // step (of at most the largest bucket), whatever the context.
    const kv::KvWindow window{a.window, *std::max_element(options.buckets.begin(), options.buckets.end())};
    const uint64_t seed = std::hash<std::string>{}(graph.config.name) | 1;
    const uint32_t pages_per_seq = kv::KvCache::sequencePages(shape, n_ctx, window);
    uint64_t pages = uint64_t{pages_per_seq} * options.slots;
    uint64_t kv_bytes = options.kv_bytes;
    if (!kv_bytes && options.kv_fraction != 0) {
        if (!(options.kv_fraction > 0 && options.kv_fraction <= 1))
            throw Error(ErrorCode::kInvalidArgument, "the KV fraction must be in (0, 1]");
        const uint64_t heap = caps.device_local_bytes;
        if (heap <= weight_bytes) {
            throw Error(ErrorCode::kOutOfMemory, "the weights fill the device's " + std::to_string(heap >> 20) +
                                                     " MiB: no memory is left for the KV cache");
        }
        kv_bytes = static_cast<uint64_t>(double(heap - weight_bytes) * options.kv_fraction);
    }
    if (kv_bytes) {
        pages = kv_bytes / page_bytes;
        if (pages == 0) {
            throw Error(ErrorCode::kInvalidArgument, "a KV budget of " + std::to_string(kv_bytes) +
                                                         " bytes is less than one page (" + std::to_string(page_bytes) +
                                                         " bytes of " + std::to_string(shape.page_tokens) + " tokens)");
        }
    }
    if (pages > UINT32_MAX) throw Error(ErrorCode::kInvalidArgument, "the KV budget is too large");
    kv = std::make_unique<kv::KvCache>(memory, shape, static_cast<uint32_t>(pages), options.slots, n_ctx, seed, window);
    split = ops::attentionSplit(caps, a.window ? std::min(n_ctx, a.window) : n_ctx, options.attention_chunk);
    profile = options.profile;

    const uint64_t align = std::max<uint64_t>(caps.min_storage_buffer_offset_alignment, 16);
    // Buckets whose largest activation would exceed one binding are dropped.
    for (uint32_t n : options.buckets) {
        VKI_ASSERT(n >= 1);
        graph::MemoryPlan plan_memory = graph::planMemory(graph, n, align);
        uint64_t widest = 0;
        for (const graph::Value& v : graph.values) widest = std::max<uint64_t>(widest, uint64_t{n} * v.width * 4);
        if (widest > caps.max_storage_buffer_range) {
            VKI_LOG_DEBUG("executor: bucket {} dropped: an activation of {} bytes exceeds the binding range", n,
                          widest);
            continue;
        }
        Plan& plan = plans[n];
        plan.n = n;
        plan.memory = std::move(plan_memory);
    }
    if (plans.empty()) {
        throw Error(ErrorCode::kUnsupported, "no step size fits device \"" + caps.name +
                                                 "\"'s storage-buffer range: the logits of one token exceed it");
    }
    max_n = plans.rbegin()->first;
    // Prompt buckets that serve batched decode steps (one token from each of up to
    // `slots` sequences) get a split-attention recording too; its partials are sized
    // for the widest of them.
    uint32_t decode_n = 0, below = 0;
    for (auto& [n, plan] : plans) {
        plan.batched_decode = n <= ops::kMaxMatVecColumns || (n <= kMaxSplitAttentionColumns && below < options.slots);
        if (plan.batched_decode) decode_n = n;
        below = n;
    }
    ids_off = 0;
    pos_off = alignUp(ids_off + max_n * 4, align);
    slot_off = alignUp(pos_off + max_n * 4, align);
    table_off = alignUp(slot_off + max_n * 4, align);
    step_bytes = alignUp(table_off + kv->pageTables().size_bytes(), align);
    step_host = memory.createBuffer(step_bytes, vk::MemoryKind::kUpload, "step parameters");
    if (!caps.uma) step_device = memory.createBuffer(step_bytes, vk::MemoryKind::kDevice, "step parameters (device)");

    uint64_t activation_bytes = 0;
    for (const auto& [n, plan] : plans) activation_bytes = std::max(activation_bytes, plan.memory.bytes);
    activations = memory.createBuffer(activation_bytes, vk::MemoryKind::kDevice, "activations");
    // Kernel choice: on CPU drivers a folded RMSNorm repeats its pass over x in each of
    // the matvec's many small workgroups (the output matrix's 32000 rows: 16000 times),
    // which costs more than a dispatch of its own. The prompt matmul has no norm
    // prologue: prompt buckets always run it separately.
    separate_norm = caps.device_type == VK_PHYSICAL_DEVICE_TYPE_CPU;
    if (separate_norm || max_n > ops::kMaxMatVecColumns) {
        uint32_t widest = 1;
        for (const graph::Op& op : graph.ops) {
            if (op.norm != graph::kNone) widest = std::max(widest, op.in[0].width);
        }
        normed = memory.createBuffer(uint64_t{max_n} * widest * sizeof(float), vk::MemoryKind::kDevice, "normed");
    }
    int8 = options.int8_activations && max_n > ops::kMaxMatVecColumns;
    if (int8) {
        uint32_t widest = 0;
        for (const graph::Op& op : graph.ops) {
            if (op.kind == graph::OpKind::kMatMul && ops::intDotSupported(caps, graph.weights[op.w].dtype))
                widest = std::max(widest, graph.weights[op.w].cols);
        }
        int8 = widest > 0;
        if (int8)
            quantized = memory.createBuffer(ops::q8_1Bytes(widest, max_n), vk::MemoryKind::kDevice, "int8 activations");
    }
    partials = memory.createBuffer(
        ops::attentionPartialFloats({a.n_head, a.n_head_kv, a.head_dim}, split, decode_n) * sizeof(float),
        vk::MemoryKind::kDevice, "attention partials");
    ids_readback = memory.createBuffer(max_n * 4, vk::MemoryKind::kReadback, "sampled ids");
    logits_readback =
        memory.createBuffer(uint64_t{max_n} * graph.config.n_vocab * 4, vk::MemoryKind::kReadback, "logits");
    for (auto& [n, plan] : plans) {
        plan.arena = std::make_unique<vk::DescriptorArena>(device, static_cast<uint32_t>(graph.ops.size() * 8 + 128),
                                                           static_cast<uint32_t>(graph.ops.size() * 80 + 512));
        const bool prompt = n > ops::kMaxMatVecColumns;
        if (prompt) {
            for (uint32_t columns : kTailColumns) {
                if (columns < n && columnBindable(n - columns, align)) plan.recordings.push_back({.columns = columns});
            }
        }
        plan.recordings.push_back({.columns = n, .split_attention = !prompt});
        if (prompt && plan.batched_decode) plan.recordings.push_back({.columns = n, .split_attention = true});
        for (Recording& rec : plan.recordings) record(plan, rec);
    }
    VKI_LOG_DEBUG(
        "executor: {} on {}, {} weights {:.1f} MiB, KV {:.1f} MiB ({}, {} pages of {} tokens), "
        "activations {:.2f} MiB, {}",
        graph.config.name, caps.name, graph.weights.size(), weight_bytes / 1048576.0, kv->bytes() / 1048576.0,
        quant::traits(shape.type).name, kv->pages(), shape.page_tokens, activation_bytes / 1048576.0, graph.summary());
}

void Executor::Impl::uploadWeights(const Progress& progress) {
    // Which weights are read as floats (norms, biases) and which as matrices.
    std::vector<bool> as_floats(graph.weights.size(), false), as_matrix(graph.weights.size(), false);
    for (const graph::Op& op : graph.ops) {
        if (op.norm != graph::kNone) as_floats[op.norm] = true;
        if (op.bias != graph::kNone) as_floats[op.bias] = true;
        if (op.w != graph::kNone) as_matrix[op.w] = true;
        if (op.up != graph::kNone) as_matrix[op.up] = true;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < graph.weights.size(); ++i) {
        const graph::Weight& w = graph.weights[i];
        if (as_matrix[i]) total += quant::byteSize(w.dtype, uint64_t{w.rows} * w.cols);
        if (as_floats[i]) total += uint64_t{w.rows} * w.cols * 4;
    }
    vk::Transfer transfer(device, memory);
    const uint64_t range = slab_limit;
    uint64_t done = 0;
    weights.resize(graph.weights.size());
    for (size_t i = 0; i < graph.weights.size(); ++i) {
        const graph::Weight& w = graph.weights[i];
        // The weight's bytes: its parts one after another (parts stack by rows).
        std::vector<std::span<const std::byte>> parts;
        for (const std::string& name : w.parts) parts.push_back(file.tensorData(*file.findTensor(name)));
        if (as_floats[i]) {
            std::vector<float> values;
            for (size_t p = 0; p < parts.size(); ++p) {
                const model::GgufTensorInfo& t = *file.findTensor(w.parts[p]);
                const size_t at = values.size();
                values.resize(at + t.elements);
                quant::dequantize(t.type, parts[p], std::span(values).subspan(at));
            }
            weights[i].floats = memory.createBuffer(values.size() * 4, vk::MemoryKind::kDevice, w.name);
            transfer.upload(weights[i].floats, 0, std::as_bytes(std::span(values)));
            done += values.size() * 4;
            if (progress) progress(done, total);
        }
        if (!as_matrix[i]) continue;
        const uint64_t row_bytes = quant::byteSize(w.dtype, w.cols);
        const uint64_t rows_per_slab = std::min<uint64_t>(w.rows, range / row_bytes);
        if (rows_per_slab == 0) {
            throw Error(ErrorCode::kUnsupported, "a row of " + w.name + " exceeds the device's storage-buffer range");
        }
        auto copyBytes = [&](std::byte* out, uint64_t offset, uint64_t size) {
            for (const auto& part : parts) {
                if (offset >= part.size()) {
                    offset -= part.size();
                    continue;
                }
                const uint64_t take = std::min<uint64_t>(size, part.size() - offset);
                std::memcpy(out, part.data() + offset, take);
                out += take;
                size -= take;
                offset = 0;
                if (size == 0) break;
            }
        };
        for (uint64_t row0 = 0; row0 < w.rows; row0 += rows_per_slab) {
            const uint32_t rows = static_cast<uint32_t>(std::min<uint64_t>(rows_per_slab, w.rows - row0));
            Slab slab{memory.createBuffer(rows * row_bytes, vk::MemoryKind::kDevice,
                                          w.name + (w.rows > rows_per_slab ? " rows " + std::to_string(row0) : "")),
                      static_cast<uint32_t>(row0), rows};
            const uint64_t base = row0 * row_bytes;
            transfer.upload(slab.buffer, 0, rows * row_bytes, [&](std::byte* out, uint64_t offset, uint64_t size) {
                copyBytes(out, base + offset, size);
                if (progress) progress(done + offset + size, total);
            });
            done += rows * row_bytes;
            weight_bytes += rows * row_bytes;
            weights[i].slabs.push_back(std::move(slab));
        }
        if (progress) progress(done, total);
    }
    for (const graph::Op& op : graph.ops) {
        if (op.kind != graph::OpKind::kMatMul) continue;
        for (graph::WeightId id : {op.w, op.up}) {
            if (id == graph::kNone) continue;
            const graph::Weight& w = graph.weights[id];
            weight_bytes_per_step += quant::byteSize(w.dtype, uint64_t{w.rows} * w.cols);
        }
    }
}

void Executor::Impl::record(Plan& plan, Recording& rec) {
    const uint32_t n = plan.n;
    // Prompt buckets run the tiled matmul, flash attention and a separate RMSNorm.
    const bool prompt = n > ops::kMaxMatVecColumns;
    const graph::AttentionConfig& a = graph.attention;
    ops::OpContext ctx{device, kernels, *plan.arena};
    auto value = [&](graph::ValueId v) {
        return vk::BufferRange{activations.handle(), plan.memory.offsets[v],
                               uint64_t{n} * graph.values[v].width * sizeof(float)};
    };
    auto strided = [&](const graph::Operand& o) {
        return ops::Strided{value(o.value), graph.values[o.value].width, o.offset};
    };
    const ops::TokenPlacement tokens{stepRange(pos_off, n * 4),
                                     stepRange(slot_off, n * 4),
                                     stepRange(table_off, kv->pageTables().size_bytes()),
                                     kv->maxPages(),
                                     kv->shape().page_tokens,
                                     a.window};
    const ops::HeadShape heads{a.n_head, a.n_head_kv, a.head_dim};
    auto floats = [&](graph::WeightId id) {
        return id == graph::kNone ? vk::BufferRange{} : vk::wholeRange(weights[id].floats);
    };
    const vk::BufferRange ids_device = stepRange(ids_off, n * 4);

    rec.forward.emplace(device, vk::QueueKind::kCompute);
    vk::CommandBuffer& cmd = *rec.forward;
    cmd.begin(true);
    if (step_device) {
        cmd.copy(vk::wholeRange(step_host), vk::wholeRange(step_device));
        cmd.barrier();
    }
    if (profile) {
        rec.timestamps = std::make_unique<vk::TimestampPool>(device, static_cast<uint32_t>(graph.ops.size() + 1));
        cmd.resetTimestamps(*rec.timestamps);
        cmd.timestamp(*rec.timestamps, 0);
    }
    uint32_t dispatches = 0;
    vk::BufferRange argmax_ids;
    for (size_t op_index = 0; op_index < graph.ops.size(); ++op_index) {
        const graph::Op& op = graph.ops[op_index];
        switch (op.kind) {
            case graph::OpKind::kEmbed: {
                const graph::Weight& w = graph.weights[op.w];
                for (const Slab& slab : weights[op.w].slabs) {
                    ops::recordEmbed(ctx, cmd,
                                     {.dtype = w.dtype,
                                      .k = w.cols,
                                      .rows = slab.rows,
                                      .row0 = slab.row0,
                                      .n = n,
                                      .table = vk::wholeRange(slab.buffer),
                                      .ids = ids_device,
                                      .y = value(op.out),
                                      .y_stride = graph.values[op.out].width});
                    ++dispatches;
                }
                break;
            }
            case graph::OpKind::kMatMul: {
                const graph::Weight& w = graph.weights[op.w];
                const auto& slabs = weights[op.w].slabs;
                vk::BufferRange x = value(op.in[0].value);
                uint32_t x_stride = graph.values[op.in[0].value].width;
                // The output matrix of a last-token recording reads that token's column.
                const bool output = op.out == graph.logits;
                const uint32_t cols = output ? rec.columns : n;
                if (cols < n) {
                    const uint64_t skip = uint64_t{n - cols} * x_stride * sizeof(float);
                    x = {x.buffer, x.offset + skip, x.size - skip};
                }
                vk::BufferRange norm = floats(op.norm);
                if ((separate_norm || prompt) && op.norm != graph::kNone) {
                    const vk::BufferRange y{normed.handle(), 0, uint64_t{cols} * w.cols * sizeof(float)};
                    ops::recordRmsNorm(ctx, cmd, x, x_stride, norm, y, w.cols, w.cols, cols, graph.eps);
                    cmd.barrier();
                    ++dispatches;
                    x = y;
                    x_stride = w.cols;
                    norm = {};
                }
                // Int8 activations: quantized once for all the slabs.
                vk::BufferRange q8_1;
                if (int8 && cols > ops::kMaxMatVecColumns && ops::intDotSupported(device.caps(), w.dtype)) {
                    q8_1 = {quantized.handle(), 0, ops::q8_1Bytes(w.cols, cols)};
                    ops::recordQuantizeQ8_1(ctx, cmd, x, x_stride, w.cols, cols, q8_1);
                    cmd.barrier();
                    ++dispatches;
                }
                for (size_t s = 0; s < slabs.size(); ++s) {
                    const ops::MatVecArgs args{.dtype = w.dtype,
                                               .k = w.cols,
                                               .rows = slabs[s].rows,
                                               .row0 = slabs[s].row0,
                                               .n = cols,
                                               .w = vk::wholeRange(slabs[s].buffer),
                                               .up = op.up == graph::kNone
                                                         ? vk::BufferRange{}
                                                         : vk::wholeRange(weights[op.up].slabs[s].buffer),
                                               .x = x,
                                               .x_stride = x_stride,
                                               .y = value(op.out),
                                               .y_stride = graph.values[op.out].width,
                                               .norm = norm,
                                               .eps = graph.eps,
                                               .bias = floats(op.bias),
                                               .accumulate = op.accumulate};
                    if (q8_1.buffer != VK_NULL_HANDLE)
                        ops::recordMatMulQ8_1(ctx, cmd, args, q8_1);
                    else if (cols > ops::kMaxMatVecColumns)
                        ops::recordMatMul(ctx, cmd, args);
                    else
                        ops::recordMatVec(ctx, cmd, args);
                    ++dispatches;
                }
                break;
            }
            case graph::OpKind::kRopeKv:
                ops::recordRopeKv(ctx, cmd,
                                  {.n = n,
                                   .heads = heads,
                                   .neox = a.rope == graph::RopeKind::kNeox,
                                   .mscale = a.rope_mscale,
                                   .inv_freq = vk::wholeRange(inv_freq),
                                   .q = strided(op.in[0]),
                                   .k = strided(op.in[1]),
                                   .v = strided(op.in[2]),
                                   .out = {value(op.out), graph.values[op.out].width, 0},
                                   .tokens = tokens,
                                   .cache = vk::wholeRange(kv->layer(op.layer)),
                                   .cache_type = kv->shape().type});
                ++dispatches;
                break;
            case graph::OpKind::kAttention:
                if (!rec.split_attention) {
                    ops::recordFlashAttention(ctx, cmd,
                                              {.n = n,
                                               .heads = heads,
                                               .scale = a.scale,
                                               .q = strided(op.in[0]),
                                               .out = {value(op.out), graph.values[op.out].width, 0},
                                               .tokens = tokens,
                                               .cache = vk::wholeRange(kv->layer(op.layer)),
                                               .cache_type = kv->shape().type});
                    ++dispatches;
                    break;
                }
                ops::recordAttention(ctx, cmd,
                                     {.n = n,
                                      .heads = heads,
                                      .scale = a.scale,
                                      .split = split,
                                      .q = strided(op.in[0]),
                                      .out = {value(op.out), graph.values[op.out].width, 0},
                                      .tokens = tokens,
                                      .cache = vk::wholeRange(kv->layer(op.layer)),
                                      .cache_type = kv->shape().type,
                                      .partials = vk::wholeRange(partials)});
                dispatches += 2;
                break;
            case graph::OpKind::kArgMax: {
                const graph::Operand& in = op.in[0];
                argmax_ids = {ids_readback.handle(), 0, rec.columns * 4};
                ops::recordArgMax(ctx, cmd, value(in.value), in.width, graph.values[in.value].width, rec.columns,
                                  argmax_ids);
                ++dispatches;
                break;
            }
            default:
                throw Error(ErrorCode::kUnsupported,
                            std::string("no Vulkan kernel runs unfused op '") + graph::opName(op.kind) + "'");
        }
        cmd.barrier();
        if (profile) cmd.timestamp(*rec.timestamps, static_cast<uint32_t>(op_index + 1));
    }
    VKI_ASSERT_MSG(argmax_ids.buffer != VK_NULL_HANDLE, "the graph ends without argmax");
    cmd.barrierToHost();
    cmd.end();
    rec.dispatches = dispatches;

    rec.read_logits.emplace(device, vk::QueueKind::kCompute);
    vk::CommandBuffer& copy = *rec.read_logits;
    copy.begin(true);
    copy.barrier();
    const vk::BufferRange logits = value(graph.logits);
    copy.copy({logits.buffer, logits.offset, uint64_t{rec.columns} * graph.config.n_vocab * sizeof(float)},
              {logits_readback.handle(), 0, uint64_t{rec.columns} * graph.config.n_vocab * sizeof(float)});
    copy.barrierToHost();
    copy.end();
}

Executor::Executor(vk::Device& device, const model::GgufFile& file, const ExecutorOptions& options,
                   const Progress& progress)
    : impl_(std::make_unique<Impl>(device, file, options, progress)) {}

Executor::~Executor() = default;

const graph::Graph& Executor::graph() const {
    return impl_->graph;
}
vk::Device& Executor::device() const {
    return impl_->device;
}
uint32_t Executor::contextLength() const {
    return impl_->n_ctx;
}
uint32_t Executor::maxStepTokens() const {
    return impl_->max_n;
}
uint32_t Executor::vocabSize() const {
    return impl_->graph.config.n_vocab;
}
kv::KvCache& Executor::kvCache() {
    return *impl_->kv;
}

bool Executor::shiftKv(uint32_t slot, uint32_t keep, uint32_t drop) {
    Impl& m = *impl_;
    // What the re-rotation needs is allocated before the cache's books change.
    const uint32_t layers = m.graph.config.n_layer;
    vk::Buffer pages =
        m.memory.createBuffer(uint64_t{m.kv->maxPages()} * sizeof(uint32_t), vk::MemoryKind::kUpload, "shifted pages");
    vk::DescriptorArena arena(m.device, layers, 3 * layers);
    const std::optional<std::vector<uint32_t>> moved = m.kv->shift(slot, keep, drop);
    if (!moved) return false;
    if (moved->empty()) return true;
    const uint32_t n = static_cast<uint32_t>(moved->size());
    std::memcpy(pages.mapped(), moved->data(), n * sizeof(uint32_t));
    ops::OpContext ctx{m.device, m.kernels, arena};
    const graph::AttentionConfig& a = m.graph.attention;
    vk::CommandBuffer cmd(m.device, vk::QueueKind::kCompute);
    cmd.begin();
    cmd.barrier();  // the steps (and page copies) that wrote the pages
    for (uint32_t l = 0; l < layers; ++l) {
        ops::recordRopeShift(ctx, cmd,
                             {.n_pages = n,
                              .heads = {a.n_head, a.n_head_kv, a.head_dim},
                              .page_tokens = m.kv->shape().page_tokens,
                              .neox = a.rope == graph::RopeKind::kNeox,
                              .delta = -static_cast<int32_t>(drop),
                              .inv_freq = vk::wholeRange(m.inv_freq),
                              .pages = vk::wholeRange(pages),
                              .cache = vk::wholeRange(m.kv->layer(l)),
                              .cache_type = m.kv->shape().type});
    }
    cmd.barrier();
    cmd.end();
    cmd.submitAndWait();
    return true;
}
const StepTiming& Executor::lastTiming() const {
    return impl_->timing;
}
uint64_t Executor::weightBytes() const {
    return impl_->weight_bytes;
}
uint64_t Executor::weightBytesPerStep() const {
    return impl_->weight_bytes_per_step;
}

uint32_t Executor::dispatches(uint32_t n) const {
    VKI_ASSERT(n >= 1 && n <= impl_->max_n);
    return impl_->plans.lower_bound(n)->second.recordings.back().dispatches;
}

const graph::MemoryPlan& Executor::memoryPlan(uint32_t n) const {
    VKI_ASSERT(n >= 1 && n <= impl_->max_n);
    return impl_->plans.lower_bound(n)->second.memory;
}

std::span<const uint32_t> Executor::step(std::span<const uint32_t> tokens, std::span<const uint32_t> positions,
                                         std::span<const uint32_t> slots, StepOutputs outputs) {
    Impl& m = *impl_;
    const auto start = Clock::now();
    const uint32_t n = static_cast<uint32_t>(tokens.size());
    VKI_ASSERT(n > 0 && n <= m.max_n && positions.size() == n && slots.size() == n);
    for (uint32_t c = 0; c < n; ++c) {
        if (tokens[c] >= m.graph.config.n_vocab) {
            throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(tokens[c]) +
                                                         " is outside the vocabulary of " +
                                                         std::to_string(m.graph.config.n_vocab));
        }
        if (positions[c] >= m.n_ctx) {
            throw Error(ErrorCode::kInvalidArgument, "position " + std::to_string(positions[c]) +
                                                         " is beyond the context of " + std::to_string(m.n_ctx) +
                                                         " tokens");
        }
        if (slots[c] >= m.kv->slots()) throw Error(ErrorCode::kInvalidArgument, "sequence slot out of range");
    }
    for (uint32_t c = 0; c < n; ++c) {
        if (m.kv->capacity(slots[c]) <= positions[c]) m.kv->reserve(slots[c], positions[c] + 1);
    }
    Plan& plan = m.plans.lower_bound(n)->second;
    // Padding columns come first and repeat the first token: they write the same K/V
    // to the same place, and the step's tokens end at the bucket's last column.
    const uint32_t pad = plan.n - n;
    std::byte* host = m.step_host.mapped();
    auto put = [&](uint64_t off, std::span<const uint32_t> v) {
        for (uint32_t c = 0; c < plan.n; ++c) std::memcpy(host + off + c * 4, &v[c < pad ? 0 : c - pad], 4);
    };
    put(m.ids_off, tokens);
    put(m.pos_off, positions);
    put(m.slot_off, slots);
    std::memcpy(host + m.table_off, m.kv->pageTables().data(), m.kv->pageTables().size_bytes());

    // The bucket's last columns hold the tail's results: a recording of C output
    // columns serves a tail of up to C tokens. One token per sequence (a batched decode step) runs split attention
    // where the bucket has a recording for it.
    const uint32_t tail = std::min(outputs.tail, n);
    bool one_per_sequence = n <= kMaxSplitAttentionColumns;
    for (uint32_t c = 0; c < n && one_per_sequence; ++c) {
        for (uint32_t d = 0; d < c && one_per_sequence; ++d) one_per_sequence = slots[c] != slots[d];
    }
    auto pick = [&](bool split) -> Recording* {
        for (Recording& r : plan.recordings) {
            if (r.split_attention == split && r.columns >= tail) return &r;
        }
        return nullptr;
    };
    Recording* rec = one_per_sequence ? pick(true) : nullptr;
    if (!rec) rec = pick(false);
    if (!rec) rec = pick(true);
    vk::SyncPoint done = rec->forward->submit();
    if (outputs.logits) done = rec->read_logits->submit();
    const auto submitted = Clock::now();
    m.device.wait(done);
    const auto waited = Clock::now();
    m.row_shift = int64_t{rec->columns} - n;
    m.outputs_first = n - tail;
    m.logits_end = outputs.logits ? n : 0;
    m.last_recording = rec;
    m.timing.device_us = microseconds(waited - submitted);
    m.timing.host_us = microseconds(submitted - start) + microseconds(Clock::now() - waited);
    const auto* ids = reinterpret_cast<const uint32_t*>(m.ids_readback.mapped());
    return {ids + (rec->columns - tail), tail};
}

std::vector<OpTime> Executor::lastOpTimes() const {
    std::vector<OpTime> times;
    const Recording* plan = impl_->last_recording;
    if (!plan || !plan->timestamps || !plan->timestamps->supported()) return times;
    const graph::Graph& g = impl_->graph;
    for (size_t i = 0; i < g.ops.size(); ++i) {
        const graph::Op& op = g.ops[i];
        OpTime t{graph::opName(op.kind), "", plan->timestamps->elapsedNs(uint32_t(i), uint32_t(i + 1)) / 1000.0};
        if (op.w != graph::kNone) t.detail = quant::traits(g.weights[op.w].dtype).name;
        times.push_back(std::move(t));
    }
    return times;
}

std::span<const float> Executor::logits(uint32_t c) const {
    const Impl& m = *impl_;
    VKI_ASSERT_MSG(c >= m.outputs_first && c < m.logits_end,
                   "no logits for this token: run the step with outputs.logits and a tail that holds it");
    const uint32_t vocab = m.graph.config.n_vocab;
    return {reinterpret_cast<const float*>(m.logits_readback.mapped()) + size_t(c + m.row_shift) * vocab, vocab};
}

}  // namespace vki
