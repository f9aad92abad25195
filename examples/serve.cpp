// Embedding the C++ engine (libvkinfer.so): several prompts generated at once, text
// streamed by callback for the first one, the rest waited for.
//   serve model.gguf "prompt one" "prompt two" ...
#include <cstdio>
#include <string_view>
#include <vector>

#include "vkinfer/vkinfer.hpp"

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s model.gguf \"prompt\" [\"prompt\" ...]\n", argv[0]);
        return 2;
    }
    try {
        vki::EngineOptions options;
        options.model = argv[1];
        options.parallel = static_cast<uint32_t>(argc - 2);
        vki::Engine engine(options);
        std::vector<uint64_t> ids;
        for (int i = 2; i < argc; ++i) {
            vki::GenerationRequest request;
            request.prompt = argv[i];
            request.max_tokens = 32;
            request.sampling.temperature = 0;
            if (i == 2) {
                request.on_text = [](std::string_view text) {
                    std::fwrite(text.data(), 1, text.size(), stdout);
                    std::fflush(stdout);
                };
            }
            ids.push_back(engine.submit(std::move(request)));
        }
        for (size_t i = 0; i < ids.size(); ++i) {
            const vki::Completion c = engine.wait(ids[i]);
            if (i == 0) std::printf("\n");
            if (c.stop_reason == "error") {
                std::fprintf(stderr, "prompt %zu: %s\n", i + 1, c.error.c_str());
                continue;
            }
            std::printf("[%zu] %zu tokens (%s), first token after %.3f s: %s\n", i + 1, c.tokens.size(),
                        c.stop_reason.c_str(), c.ttft_seconds, c.text.c_str());
        }
        const vki::EngineStats s = engine.stats();
        std::printf("%llu tokens generated, %.1f tok/s while busy\n",
                    static_cast<unsigned long long>(s.generated_tokens), s.tokens_per_second);
    } catch (const vki::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
