// Where vocabularies come from and go to: the tokenizer.ggml.* / tokenizer.chat_template
// keys of a GGUF, and tokenizer files of Hugging Face and SentencePiece.
#pragma once

#include <filesystem>

#include "model/gguf.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model {

// Throws kBadFile naming the key when one is missing, mistyped or inconsistent
// (e.g. scores and tokens of different lengths), kUnsupported for a tokenizer model
// other than "llama" / "gpt2".
Vocab readVocab(const GgufFile& file);

void writeVocab(GgufWriter& writer, const Vocab& vocab);

// A vocabulary from a tokenizer source: a .gguf file, a Hugging Face tokenizer.json
// (with tokenizer_config.json beside it when present), a SentencePiece tokenizer.model,
// or a folder holding one of them (tokenizer.json preferred). kIo when nothing is there.
Vocab loadVocab(const std::filesystem::path& source);

}  // namespace vki::model
