// SentencePiece tokenizer.model -> Vocab. The file is a serialized ModelProto
// (sentencepiece_model.proto); the reader below knows just enough of the protobuf wire
// format to walk it, and checks every length against the bytes that are left.
#include <cstring>
#include <string>

#include "common/error.hpp"
#include "model/tokenizer/vocab.hpp"

namespace vki::model {

namespace {

[[noreturn]] void badModel(const std::string& what) {
    throw Error(ErrorCode::kBadFile, "SentencePiece model: " + what);
}

class ProtoReader {
public:
    enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kFixed32 = 5 };

    ProtoReader(std::span<const std::byte> data, size_t base) : data_(data), base_(base) {}

    // Reads the next field's tag; false at the end of the message.
    bool next() {
        if (pos_ == data_.size()) return false;
        const uint64_t tag = varint();
        field_ = static_cast<uint32_t>(tag >> 3);
        wire_ = static_cast<uint32_t>(tag & 7);
        if (field_ == 0 || tag >> 32 != 0) fail("invalid field tag");
        return true;
    }
    uint32_t field() const { return field_; }
    uint32_t wire() const { return wire_; }

    uint64_t varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ == data_.size()) fail("truncated varint");
            const auto byte = static_cast<uint8_t>(data_[pos_++]);
            value |= static_cast<uint64_t>(byte & 0x7F) << shift;
            if (byte < 0x80) return value;
        }
        fail("varint longer than 10 bytes");
    }
    uint32_t fixed32() {
        if (data_.size() - pos_ < 4) fail("truncated 32-bit field");
        uint32_t value = 0;
        for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(data_[pos_ + i]);
        pos_ += 4;
        return value;
    }
    // A length-delimited field's bytes; `offset` receives their position in the file.
    std::span<const std::byte> bytes(size_t* offset = nullptr) {
        const uint64_t length = varint();
        if (length > data_.size() - pos_) {
            fail("field " + std::to_string(field_) + " claims " + std::to_string(length) + " bytes, " +
                 std::to_string(data_.size() - pos_) + " remain (truncated file?)");
        }
        if (offset) *offset = base_ + pos_;
        const auto out = data_.subspan(pos_, static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return out;
    }
    void skip() {
        switch (wire_) {
            case kVarint:
                varint();
                break;
            case kFixed64:
                if (data_.size() - pos_ < 8) fail("truncated 64-bit field");
                pos_ += 8;
                break;
            case kLength:
                bytes();
                break;
            case kFixed32:
                fixed32();
                break;
            default:
                fail("unsupported wire type " + std::to_string(wire_));
        }
    }
    void expect(WireType wire) {
        if (wire_ != wire) {
            fail("field " + std::to_string(field_) + " has wire type " + std::to_string(wire_) + ", expected " +
                 std::to_string(wire));
        }
    }
    int32_t int32() {
        expect(kVarint);
        return static_cast<int32_t>(static_cast<uint32_t>(varint()));  // negatives are 10-byte varints
    }
    bool boolean() {
        expect(kVarint);
        return varint() != 0;
    }
    std::string string() {
        expect(kLength);
        const auto b = bytes();
        return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    }

    [[noreturn]] void fail(const std::string& what) const {
        badModel(what + " at byte " + std::to_string(base_ + pos_));
    }

private:
    std::span<const std::byte> data_;
    size_t base_;  // offset of data_ in the file, for messages
    size_t pos_ = 0;
    uint32_t field_ = 0;
    uint32_t wire_ = 0;
};

struct TrainerSpec {
    int32_t model_type = 1;  // proto default: UNIGRAM
    int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
    bool treat_whitespace_as_suffix = false;
};

struct NormalizerSpec {
    bool add_dummy_prefix = true;
    bool escape_whitespaces = true;
};

void readPiece(std::span<const std::byte> data, size_t base, Vocab& v) {
    ProtoReader r(data, base);
    std::string piece;
    float score = 0.0f;
    int32_t type = 1;  // NORMAL
    while (r.next()) {
        switch (r.field()) {
            case 1:
                piece = r.string();
                break;
            case 2: {
                r.expect(ProtoReader::kFixed32);
                const uint32_t bits = r.fixed32();
                std::memcpy(&score, &bits, sizeof(score));
                break;
            }
            case 3:
                type = r.int32();
                break;
            default:
                r.skip();
        }
    }
    const size_t id = v.tokens.size();
    if (piece.empty()) badModel("piece " + std::to_string(id) + " is empty");
    if (type < 1 || type > static_cast<int32_t>(TokenType::kByte)) {
        badModel("piece " + std::to_string(id) + " has type " + std::to_string(type) + " (valid: 1..6)");
    }
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(static_cast<TokenType>(type));
}

TrainerSpec readTrainerSpec(std::span<const std::byte> data, size_t base) {
    ProtoReader r(data, base);
    TrainerSpec spec;
    while (r.next()) {
        switch (r.field()) {
            case 3:
                spec.model_type = r.int32();
                break;
            case 24:
                spec.treat_whitespace_as_suffix = r.boolean();
                break;
            case 40:
                spec.unk_id = r.int32();
                break;
            case 41:
                spec.bos_id = r.int32();
                break;
            case 42:
                spec.eos_id = r.int32();
                break;
            case 43:
                spec.pad_id = r.int32();
                break;
            default:
                r.skip();
        }
    }
    return spec;
}

NormalizerSpec readNormalizerSpec(std::span<const std::byte> data, size_t base) {
    ProtoReader r(data, base);
    NormalizerSpec spec;
    while (r.next()) {
        switch (r.field()) {
            case 3:
                spec.add_dummy_prefix = r.boolean();
                break;
            case 5:
                spec.escape_whitespaces = r.boolean();
                break;
            default:
                r.skip();
        }
    }
    return spec;
}

}  // namespace

Vocab vocabFromSpmModel(std::span<const std::byte> model_proto) {
    Vocab v;
    v.kind = TokenizerKind::kSpm;
    bool has_trainer = false;
    bool has_normalizer = false;
    TrainerSpec trainer;
    NormalizerSpec normalizer;

    ProtoReader r(model_proto, 0);
    while (r.next()) {
        size_t offset = 0;
        switch (r.field()) {
            case 1: {  // repeated SentencePiece pieces
                r.expect(ProtoReader::kLength);
                const auto piece = r.bytes(&offset);
                readPiece(piece, offset, v);
                break;
            }
            case 2: {
                r.expect(ProtoReader::kLength);
                const auto spec = r.bytes(&offset);
                trainer = readTrainerSpec(spec, offset);
                has_trainer = true;
                break;
            }
            case 3: {
                r.expect(ProtoReader::kLength);
                const auto spec = r.bytes(&offset);
                normalizer = readNormalizerSpec(spec, offset);
                has_normalizer = true;
                break;
            }
            default:
                r.skip();
        }
    }

    // SentencePiece writes both specs after the pieces: a file cut between pieces parses
    // as a shorter model, and their absence is what gives it away.
    if (v.tokens.empty()) badModel("no pieces (not a SentencePiece model?)");
    if (!has_trainer) badModel("no trainer_spec (truncated file?)");
    if (!has_normalizer) badModel("no normalizer_spec (truncated file?)");

    switch (trainer.model_type) {
        case 2:
            break;  // BPE
        case 1:
            throw Error(ErrorCode::kUnsupported, "SentencePiece model: Unigram models are not supported, only BPE");
        case 3:
        case 4:
            throw Error(ErrorCode::kUnsupported,
                        "SentencePiece model: word and char models are not supported, only BPE");
        default:
            badModel("unknown model_type " + std::to_string(trainer.model_type));
    }
    if (!normalizer.escape_whitespaces || trainer.treat_whitespace_as_suffix) {
        throw Error(ErrorCode::kUnsupported,
                    "SentencePiece model: only models that escape whitespace as a U+2581 prefix are supported");
    }

    const auto n = static_cast<int32_t>(v.tokens.size());
    const auto special = [&](int32_t id, const char* name) {
        if (id < -1 || id >= n) {
            badModel(std::string(name) + " " + std::to_string(id) + " is outside the " + std::to_string(n) + " pieces");
        }
        return id;
    };
    v.unk_id = special(trainer.unk_id, "unk_id");
    v.bos_id = special(trainer.bos_id, "bos_id");
    v.eos_id = special(trainer.eos_id, "eos_id");
    v.pad_id = special(trainer.pad_id, "pad_id");
    v.add_bos = v.bos_id >= 0;
    v.add_eos = false;
    v.add_space_prefix = normalizer.add_dummy_prefix;
    return v;
}

}  // namespace vki::model
