// vki::Engine (include/vkinfer/vkinfer.hpp): the batch assembler on a thread of its
// own. Callers' threads only queue requests and cancellations and read snapshots under
// the lock; the worker thread owns the executor and the assembler, and runs user
// callbacks with the lock released.
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/error.hpp"
#include "model/gguf.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/vocab_io.hpp"
#include "runtime/batch.hpp"
#include "runtime/executor.hpp"
#include "runtime/vk/device.hpp"
#include "runtime/vk/instance.hpp"

namespace vki {

struct Engine::Impl {
    std::unique_ptr<vk::Instance> instance;
    std::unique_ptr<vk::Device> device;
    std::unique_ptr<model::GgufFile> file;
    std::unique_ptr<model::Tokenizer> tokenizer;
    std::unique_ptr<Executor> executor;
    std::unique_ptr<BatchAssembler> batch;

    struct Record {
        Completion completion;
        bool keep = true;              // for wait(): requests without on_done
        std::vector<uint32_t> prompt;  // while pending: what a fork starts from
    };
    mutable std::mutex mu;
    std::condition_variable wake;      // the worker: new requests, cancellations, stop
    std::condition_variable finished;  // wait()
    uint64_t next_id = 1;
    std::unordered_map<uint64_t, Record> records;
    std::vector<std::pair<uint64_t, BatchRequest>> incoming;
    std::vector<std::pair<uint64_t, GenerationRequest>> callbacks;  // the user's sinks, by id
    std::vector<uint64_t> cancels;
    bool stopping = false;
    std::optional<Error> failure;  // what stopped the worker
    BatchStats stats;
    std::thread worker;

    explicit Impl(const EngineOptions& o);
    std::vector<uint32_t> encode(const GenerationRequest& request, bool add_bos) const;
    uint64_t enqueue(GenerationRequest&& request, std::vector<uint32_t> prompt, uint64_t fork_of);
    void run();
    BatchSink sinkFor(uint64_t id, GenerationRequest&& request);
};

Engine::Impl::Impl(const EngineOptions& o) {
    if (o.parallel == 0) throw Error(ErrorCode::kInvalidArgument, "parallel must be at least 1");
    instance = std::make_unique<vk::Instance>();
    device = std::make_unique<vk::Device>(*instance, o.device);
    file = std::make_unique<model::GgufFile>(model::GgufFile::open(o.model));
    tokenizer = std::make_unique<model::Tokenizer>(model::readVocab(*file));
    executor = std::make_unique<Executor>(
        *device, *file,
        ExecutorOptions{.n_ctx = o.context,
                        .page_tokens = o.page_tokens,
                        .slots = o.parallel,
                        .kv_bytes = o.kv_budget_bytes,
                        .kv_fraction = o.kv_budget_fraction,
                        .kv_type = o.kv_type == KvType::kQ8_0 ? quant::DType::kQ8_0 : quant::DType::kF16,
                        .int8_activations = o.int8_activations},
        [&](uint64_t done, uint64_t total) {
            if (o.progress) o.progress(total ? double(done) / double(total) : 1.0);
        });
    batch = std::make_unique<BatchAssembler>(
        *executor, *tokenizer, BatchOptions{.step_tokens = o.step_tokens, .prefix_cache = o.prefix_cache});
    stats = batch->stats();
    worker = std::thread([this] { run(); });
}

BatchSink Engine::Impl::sinkFor(uint64_t id, GenerationRequest&& request) {
    auto user = std::make_shared<GenerationRequest>(std::move(request));
    BatchSink sink;
    sink.on_token = [this, id, user](uint32_t token) {
        {
            std::lock_guard lock(mu);
            records[id].completion.tokens.push_back(token);
        }
        if (user->on_token) user->on_token(token);
    };
    sink.on_text = [this, id, user](std::string_view text) {
        {
            std::lock_guard lock(mu);
            records[id].completion.text += text;
        }
        if (user->on_text) user->on_text(text);
    };
    sink.on_done = [this, id, user](const Completion& c) {
        {
            std::lock_guard lock(mu);
            const auto it = records.find(id);
            if (it->second.keep) {
                it->second.completion = c;
                it->second.prompt = {};
            } else {
                records.erase(it);
            }
            stats = batch->stats();
        }
        finished.notify_all();
        if (user->on_done) user->on_done(c);
    };
    return sink;
}

void Engine::Impl::run() {
    std::vector<std::pair<uint64_t, BatchRequest>> requests;
    std::vector<std::pair<uint64_t, GenerationRequest>> users;
    auto hand = [&] {
        for (size_t i = 0; i < requests.size(); ++i) {
            auto& [id, request] = requests[i];
            const uint64_t got = batch->submit(std::move(request), sinkFor(id, std::move(users[i].second)));
            VKI_ASSERT_MSG(got == id, "engine and assembler request ids differ");
        }
        requests.clear();
        users.clear();
    };
    std::optional<Error> error;
    for (;;) {
        std::vector<uint64_t> cancelled;
        bool stop = false;
        {
            std::unique_lock lock(mu);
            wake.wait(lock, [&] { return stopping || !incoming.empty() || !cancels.empty() || !batch->idle(); });
            requests.swap(incoming);
            users.swap(callbacks);
            cancelled.swap(cancels);
            stop = stopping;
        }
        hand();
        for (uint64_t id : cancelled) batch->cancel(id);
        if (stop) break;
        try {
            batch->step();
        } catch (const Error& e) {
            error = e;  // the assembler has ended every request it held with it
            break;
        }
        std::lock_guard lock(mu);
        stats = batch->stats();
    }
    // Requests that arrived meanwhile end too; later submit() calls throw.
    {
        std::lock_guard lock(mu);
        requests.swap(incoming);
        users.swap(callbacks);
        if (error) failure = error;
    }
    hand();
    if (error)
        batch->failAll(*error);
    else
        batch->cancelAll();
    std::lock_guard lock(mu);
    stats = batch->stats();
}

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>(options)) {}

Engine::~Engine() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    impl_->worker.join();
}

std::vector<uint32_t> Engine::Impl::encode(const GenerationRequest& request, bool add_bos) const {
    std::vector<uint32_t> ids = request.tokens;
    if (ids.empty() && !request.prompt.empty()) {
        for (int32_t id : tokenizer->encode(request.prompt, add_bos, true)) ids.push_back(static_cast<uint32_t>(id));
    }
    return ids;
}

uint64_t Engine::Impl::enqueue(GenerationRequest&& request, std::vector<uint32_t> prompt, uint64_t fork_of) {
    BatchRequest r;
    r.prompt = std::move(prompt);
    r.options.max_tokens = request.max_tokens;
    r.options.sampling = request.sampling;
    r.options.stop = request.stop;
    r.options.stop_at_eog = request.stop_at_eog;
    r.options.context_shift = request.context_shift;
    r.fork_of = fork_of;
    uint64_t id;
    {
        std::lock_guard lock(mu);
        if (failure) throw *failure;
        if (stopping) throw Error(ErrorCode::kInvalidArgument, "the engine is shutting down");
        id = next_id++;
        Record& rec = records[id];
        rec.keep = !request.on_done;
        rec.completion.id = id;
        rec.completion.prompt_tokens = static_cast<uint32_t>(r.prompt.size());
        rec.prompt = r.prompt;
        incoming.emplace_back(id, std::move(r));
        callbacks.emplace_back(id, std::move(request));
    }
    wake.notify_all();
    return id;
}

uint64_t Engine::submit(GenerationRequest request) {
    std::vector<uint32_t> prompt = impl_->encode(request, true);
    return impl_->enqueue(std::move(request), std::move(prompt), 0);
}

uint64_t Engine::fork(uint64_t parent, GenerationRequest request) {
    Impl& m = *impl_;
    const std::vector<uint32_t> suffix = m.encode(request, false);
    std::vector<uint32_t> prompt;
    {
        std::lock_guard lock(m.mu);
        const auto it = m.records.find(parent);
        if (it == m.records.end() || it->second.completion.finished) {
            throw Error(ErrorCode::kInvalidArgument, "request " + std::to_string(parent) +
                                                         " is not pending: only a queued or running request forks");
        }
        prompt = it->second.prompt;
    }
    prompt.insert(prompt.end(), suffix.begin(), suffix.end());
    return m.enqueue(std::move(request), std::move(prompt), parent);
}

bool Engine::cancel(uint64_t id) {
    Impl& m = *impl_;
    {
        std::lock_guard lock(m.mu);
        const auto it = m.records.find(id);
        if (it == m.records.end() || it->second.completion.finished) return false;
        m.cancels.push_back(id);
    }
    m.wake.notify_all();
    return true;
}

Completion Engine::poll(uint64_t id) const {
    std::lock_guard lock(impl_->mu);
    const auto it = impl_->records.find(id);
    if (it == impl_->records.end())
        throw Error(ErrorCode::kInvalidArgument, "no request " + std::to_string(id) + " is kept by this engine");
    return it->second.completion;
}

Completion Engine::wait(uint64_t id) {
    Impl& m = *impl_;
    std::unique_lock lock(m.mu);
    auto it = m.records.find(id);
    if (it == m.records.end() || !it->second.keep)
        throw Error(ErrorCode::kInvalidArgument, "no request " + std::to_string(id) + " is kept for wait()");
    m.finished.wait(lock, [&] {
        it = m.records.find(id);
        return it == m.records.end() || it->second.completion.finished;
    });
    if (it == m.records.end())
        throw Error(ErrorCode::kInvalidArgument, "request " + std::to_string(id) + " was taken by another wait()");
    Completion c = std::move(it->second.completion);
    m.records.erase(it);
    return c;
}

EngineStats Engine::stats() const {
    std::lock_guard lock(impl_->mu);
    const BatchStats& b = impl_->stats;
    EngineStats s;
    s.queued = b.queued + static_cast<uint32_t>(impl_->incoming.size());
    s.running = b.running;
    s.pages_used = b.pages.used;
    s.pages_cached = b.pages.cached;
    s.pages_free = b.pages.free;
    s.kv_bytes = impl_->executor->kvCache().bytes();
    s.prefix_hit_tokens = b.prefix_hit_tokens;
    s.computed_tokens = b.computed_tokens;
    s.generated_tokens = b.generated_tokens;
    s.steps = b.steps;
    s.preemptions = b.preemptions;
    s.busy_seconds = b.busy_seconds;
    s.tokens_per_second = b.busy_seconds > 0 ? double(b.generated_tokens) / b.busy_seconds : 0.0;
    return s;
}

std::vector<uint32_t> Engine::tokenize(std::string_view text, bool add_bos) const {
    std::vector<uint32_t> ids;
    for (int32_t id : impl_->tokenizer->encode(text, add_bos, true)) ids.push_back(static_cast<uint32_t>(id));
    return ids;
}

std::string Engine::detokenize(std::span<const uint32_t> tokens) const {
    std::vector<int32_t> ids(tokens.begin(), tokens.end());
    return impl_->tokenizer->decode(ids);
}

uint32_t Engine::contextLength() const {
    return impl_->executor->contextLength();
}

std::string Engine::deviceName() const {
    return impl_->device->caps().name;
}

std::string Engine::modelName() const {
    return impl_->executor->graph().config.name;
}

}  // namespace vki
