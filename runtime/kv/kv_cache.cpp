#include "runtime/kv/kv_cache.hpp"

#include <algorithm>
#include <string>

#include "common/error.hpp"
#include "runtime/vk/command.hpp"
#include "runtime/vk/device.hpp"

namespace vki::kv {

uint64_t pageBytesPerLayer(const KvShape& s) {
    const uint64_t elements = uint64_t{2} * s.kv_heads * s.page_tokens * s.head_dim;  // K and V
    switch (s.type) {
        case quant::DType::kF16:
            return elements * 2;
        case quant::DType::kQ8_0:
            if (s.head_dim % 32 != 0) {
                throw Error(ErrorCode::kUnsupported,
                            "a q8_0 KV cache needs a head size that is a multiple of 32; "
                            "this model's is " +
                                std::to_string(s.head_dim) + ": use an f16 KV cache");
            }
            return elements + elements / 32 * 2;  // int8 codes, an f16 scale per 32
        default:
            throw Error(ErrorCode::kUnsupported,
                        std::string("the KV cache holds f16 or q8_0, not ") + quant::traits(s.type).name);
    }
}

uint64_t pageBytes(const KvShape& s) {
    return pageBytesPerLayer(s) * s.layers;
}

KvCache::KvCache(vk::MemoryAllocator& memory, const KvShape& shape, uint32_t pages, uint32_t slots, uint32_t max_tokens,
                 uint64_t seed, const KvWindow& window)
    : device_(memory.device()),
      shape_(shape),
      window_(window),
      slots_(slots),
      max_tokens_(max_tokens),
      ring_pages_(sequencePages(shape, max_tokens, window)),
      pool_(pages, shape.page_tokens, seed) {
    VKI_ASSERT(shape.layers > 0 && shape.page_tokens > 0 && pages > 0 && slots > 0 && max_tokens > 0);
    const uint64_t layer_bytes = pageBytesPerLayer(shape) * pages;
    const uint64_t range = memory.device().caps().max_storage_buffer_range;
    if (layer_bytes > range) {
        throw Error(ErrorCode::kUnsupported,
                    "the KV cache needs " + std::to_string(layer_bytes >> 20) +
                        " MiB per layer, beyond this device's " + std::to_string(range >> 20) +
                        " MiB storage-buffer range: use a shorter context or a smaller budget");
    }
    for (uint32_t l = 0; l < shape.layers; ++l) {
        layers_.push_back(
            memory.createBuffer(layer_bytes, vk::MemoryKind::kDevice, "KV cache layer " + std::to_string(l)));
    }
    seqs_.resize(slots);
    tables_.assign(size_t{slots} * ring_pages_, 0);
}

uint64_t KvCache::bytes() const {
    return pageBytes(shape_) * pool_.pages();
}

uint32_t KvCache::sequencePages(const KvShape& shape, uint32_t max_tokens, const KvWindow& window) {
    const uint32_t all = (max_tokens + shape.page_tokens - 1) / shape.page_tokens;
    if (!window.window) return all;
    VKI_ASSERT(window.step_tokens > 0);
    // A step's reach spans at most this many pages, however it is aligned: they are
    // distinct entries of the ring.
    const uint32_t reach = window.window - 1 + window.step_tokens - 1;
    return std::min(all, reach / shape.page_tokens + 2);
}

uint32_t KvCache::pagesFor(uint32_t tokens) const {
    return std::min((tokens + shape_.page_tokens - 1) / shape_.page_tokens, ring_pages_);
}

uint32_t KvCache::unreachable(uint32_t tokens) const {
    if (!window_.window) return 0;
    // The step's first token is at tokens - step_tokens or later and reads from
    // window - 1 positions before it.
    const uint32_t reach = window_.window - 1 + window_.step_tokens;
    return tokens > reach ? (tokens - reach) / shape_.page_tokens : 0;
}

void KvCache::letGo(uint32_t slot, uint32_t keep) {
    Sequence& seq = seqs_[slot];
    for (; seq.let_go < std::min<size_t>(keep, seq.pages.size()); ++seq.let_go) {
        pool_.release(seq.pages[seq.let_go]);
        seq.pages[seq.let_go] = kLetGo;
    }
}

uint32_t KvCache::capacity(uint32_t slot) const {
    VKI_ASSERT(slot < slots_);
    return static_cast<uint32_t>(seqs_[slot].pages.size()) * shape_.page_tokens;
}

uint32_t KvCache::attachPrefix(uint32_t slot, std::span<const uint32_t> tokens) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    VKI_ASSERT_MSG(seq.pages.empty(), "attachPrefix on a slot that holds pages");
    const size_t usable = std::min<size_t>(tokens.size(), maxTokens());
    seq.pages = pool_.acquirePrefix(tokens.first(usable));
    for (uint32_t page : seq.pages) seq.keys.push_back(pool_.key(page));
    const uint32_t covered = static_cast<uint32_t>(seq.pages.size()) * shape_.page_tokens;
    // A long prefix of a windowed model: the next step reads its last pages only.
    letGo(slot, unreachable(covered + 1));
    for (uint32_t i = seq.let_go; i < seq.pages.size(); ++i) entry(slot, i) = seq.pages[i];
    return covered;
}

uint32_t KvCache::fork(uint32_t from, uint32_t to, uint32_t tokens) {
    VKI_ASSERT(from < slots_ && to < slots_ && from != to && tokens <= capacity(from));
    const Sequence& src = seqs_[from];
    Sequence& dst = seqs_[to];
    VKI_ASSERT_MSG(dst.pages.empty(), "fork into a slot that holds pages");
    const uint32_t P = shape_.page_tokens, full = tokens / P;
    const bool partial = tokens % P != 0;
    if (tokens == 0 || src.let_go > 0 || src.shifted || (partial && availablePages() == 0)) return 0;
    for (uint32_t i = 0; i < full; ++i) {
        pool_.retain(src.pages[i]);
        dst.pages.push_back(src.pages[i]);
    }
    if (partial) {
        const std::optional<uint32_t> page = pool_.allocate();
        VKI_ASSERT(page.has_value());
        dst.pages.push_back(*page);
        const std::pair<uint32_t, uint32_t> copy{src.pages[full], *page};
        try {
            copyPages(std::span(&copy, 1));
        } catch (...) {
            release(to);
            throw;
        }
    }
    dst.keys.assign(src.keys.begin(), src.keys.begin() + std::min<size_t>(src.keys.size(), full));
    dst.shifted = src.shifted;
    for (uint32_t i = 0; i < dst.pages.size(); ++i) entry(to, i) = dst.pages[i];
    return tokens;
}

void KvCache::copyPages(std::span<const std::pair<uint32_t, uint32_t>> copies) {
    const uint64_t bytes = pageBytesPerLayer(shape_);
    vk::CommandBuffer cmd(device_, vk::QueueKind::kCompute);
    cmd.begin();
    cmd.barrier();  // the steps that wrote the pages
    for (const vk::Buffer& layer : layers_) {
        for (const auto& [from, to] : copies)
            cmd.copy({layer.handle(), from * bytes, bytes}, {layer.handle(), to * bytes, bytes});
    }
    cmd.barrier();  // and the steps that read the copies
    cmd.end();
    cmd.submitAndWait();
}

std::optional<std::vector<uint32_t>> KvCache::shift(uint32_t slot, uint32_t keep, uint32_t drop) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    const uint32_t P = shape_.page_tokens;
    VKI_ASSERT(keep % P == 0 && drop % P == 0 && drop > 0 && (keep + drop) / P <= seq.pages.size());
    if (seq.let_go > 0) return std::nullopt;
    const auto first = seq.pages.begin() + (keep + drop) / P;
    const auto shared = static_cast<uint32_t>(
        std::count_if(first, seq.pages.end(), [&](uint32_t page) { return pool_.refs(page) > 1; }));
    if (shared > availablePages()) return std::nullopt;
    std::vector<std::pair<uint32_t, uint32_t>> copies;
    for (auto it = first; it != seq.pages.end(); ++it) {
        if (pool_.refs(*it) > 1) {
            const std::optional<uint32_t> page = pool_.allocate();
            VKI_ASSERT(page.has_value());
            copies.emplace_back(*it, *page);
            pool_.release(*it);
            *it = *page;
        } else {
            pool_.unpublish(*it);
        }
    }
    if (!copies.empty()) copyPages(copies);
    std::vector<uint32_t> moved(first, seq.pages.end());
    for (auto it = seq.pages.begin() + keep / P; it != first; ++it) pool_.release(*it);
    seq.pages.erase(seq.pages.begin() + keep / P, first);
    seq.keys.resize(std::min<size_t>(seq.keys.size(), keep / P));
    seq.shifted = true;
    for (uint32_t i = 0; i < seq.pages.size(); ++i) entry(slot, i) = seq.pages[i];
    return moved;
}

uint32_t KvCache::rewind(uint32_t slot, uint32_t tokens) {
    VKI_ASSERT(slot < slots_ && tokens <= capacity(slot));
    // Position `tokens` reads from tokens + 1 - window on.
    const uint32_t let_go = seqs_[slot].let_go;
    if (let_go == 0 || (tokens + 1 > window_.window && (tokens + 1 - window_.window) / shape_.page_tokens >= let_go))
        return tokens;
    release(slot);
    return 0;
}

uint32_t KvCache::pagesNeeded(uint32_t slot, uint32_t tokens) const {
    VKI_ASSERT(slot < slots_);
    const Sequence& seq = seqs_[slot];
    const uint32_t have = static_cast<uint32_t>(seq.pages.size());
    const uint32_t want = (tokens + shape_.page_tokens - 1) / shape_.page_tokens;
    // New pages: up to `want`, none of those no step will read.
    const uint32_t u = unreachable(tokens);
    const uint32_t fresh = want > std::max(have, u) ? want - std::max(have, u) : 0;
    // Pages let go of on the way that return to the pool (not shared with others).
    uint32_t returned = 0;
    for (uint32_t i = seq.let_go; i < std::min(u, have); ++i) returned += pool_.refs(seq.pages[i]) == 1;
    return fresh > returned ? fresh - returned : 0;
}

uint32_t KvCache::availablePages() const {
    const PagePool::Stats s = pool_.stats();
    return s.free + s.cached;
}

void KvCache::reserve(uint32_t slot, uint32_t tokens) {
    VKI_ASSERT(slot < slots_);
    if (tokens > maxTokens()) {
        throw Error(ErrorCode::kInvalidArgument, std::to_string(tokens) + " positions exceed the context of " +
                                                     std::to_string(maxTokens()) + " tokens");
    }
    const uint32_t u = unreachable(tokens);
    letGo(slot, u);
    const uint32_t more = pagesNeeded(slot, tokens);
    if (more > availablePages()) {
        const PagePool::Stats s = pool_.stats();
        throw Error(ErrorCode::kOutOfMemory, "the KV cache is full: " + std::to_string(more) + " more pages needed, " +
                                                 std::to_string(s.free) + " free and " + std::to_string(s.cached) +
                                                 " cached of " + std::to_string(pool_.pages()));
    }
    Sequence& seq = seqs_[slot];
    auto& pages = seq.pages;
    // Positions no step of this sequence reads (a caller jumping ahead) get no page.
    for (; pages.size() < u; ++seq.let_go) pages.push_back(kLetGo);
    for (uint32_t i = 0; i < more; ++i) {
        const std::optional<uint32_t> page = pool_.allocate();
        VKI_ASSERT(page.has_value());
        entry(slot, static_cast<uint32_t>(pages.size())) = *page;
        pages.push_back(*page);
    }
    VKI_ASSERT(pages.size() - seq.let_go <= ring_pages_);
}

void KvCache::publish(uint32_t slot, std::span<const uint32_t> tokens) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    const uint32_t P = shape_.page_tokens;
    const size_t full = std::min(tokens.size() / P, seq.pages.size());
    if (seq.shifted) return;
    // Publishing is a chain from the first page: it ends at a page let go of unkeyed.
    for (size_t i = seq.keys.size(); i < full && seq.pages[i] != kLetGo; ++i) {
        seq.keys.push_back(
            pool_.publish(seq.pages[i], seq.keys.empty() ? 0 : seq.keys.back(), tokens.subspan(i * P, P)));
    }
}

void KvCache::release(uint32_t slot) {
    VKI_ASSERT(slot < slots_);
    Sequence& seq = seqs_[slot];
    for (uint32_t page : seq.pages) {
        if (page != kLetGo) pool_.release(page);
    }
    seq = {};
    std::fill_n(tables_.begin() + size_t{slot} * ring_pages_, ring_pages_, 0u);
}

}  // namespace vki::kv
