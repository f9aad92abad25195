// libFuzzer target: the GGUF reader, and the model description read from it.
// Any input must end in a parse or a vki::Error; crashes, over-reads (ASan) and
// undefined behaviour (UBSan) are findings. Run with -malloc_limit_mb=64 and
// -max_len=4096: a small file must never make the loader allocate a lot.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/error.hpp"
#include "model/arch.hpp"
#include "model/gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace vki::model;
    try {
        const GgufFile file = GgufFile::fromMemory({reinterpret_cast<const std::byte*>(data), size});
        size_t touched = 0;
        for (const auto& kv : file.metadata()) touched += kv.value.summary().size();
        for (const auto& t : file.tensors()) touched += file.tensorData(t).size();
        try {
            const ModelConfig config = readConfig(file);
            touched += tensorSpecs(config).size();
        } catch (const vki::Error&) {
        }
        return touched == SIZE_MAX;
    } catch (const vki::Error&) {
        return 0;
    }
}
