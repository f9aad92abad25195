// GGUF reader and writer: round trips of every value type, and hostile files that
// must end in a clear error (never a crash, an over-read or an absurd allocation).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>

#include "common/error.hpp"
#include "model/gguf.hpp"

// Allocation accounting for this test executable: bytes live and the peak since the
// last reset, so a test can bound what parsing a file allocates.
namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
}  // namespace

void* operator new(size_t n) {
    void* p = std::malloc(n + 16);
    if (!p) throw std::bad_alloc();
    std::memcpy(p, &n, sizeof(n));
    const int64_t live = g_live.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
    int64_t peak = g_peak.load();
    while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
    }
    return static_cast<char*>(p) + 16;
}
void operator delete(void* p) noexcept {
    if (!p) return;
    char* base = static_cast<char*>(p) - 16;
    size_t n;
    std::memcpy(&n, base, sizeof(n));
    g_live.fetch_sub(static_cast<int64_t>(n));
    std::free(base);
}
void operator delete(void* p, size_t) noexcept {
    operator delete(p);
}

namespace vki::model {
namespace {

using quant::DType;

// A writer with one key of every type and three tensors of different types.
GgufWriter sampleWriter(uint64_t alignment = 32) {
    GgufWriter w(alignment);
    w.set("general.architecture", GgufValue::string("llama"));
    w.set("t.u8", GgufValue::u8(200));
    w.set("t.i8", GgufValue::i8(-100));
    w.set("t.u16", GgufValue::u16(60000));
    w.set("t.i16", GgufValue::i16(-30000));
    w.set("t.u32", GgufValue::u32(4000000000u));
    w.set("t.i32", GgufValue::i32(-2000000000));
    w.set("t.f32", GgufValue::f32(1.5f));
    w.set("t.bool", GgufValue::boolean(true));
    w.set("t.u64", GgufValue::u64(UINT64_MAX));
    w.set("t.i64", GgufValue::i64(INT64_MIN));
    w.set("t.f64", GgufValue::f64(-2.25));
    w.set("t.string", GgufValue::string("héllo\nworld"));
    w.set("t.strings", GgufValue::stringArray({"a", "", "ccc"}));
    const float floats[] = {1.0f, -2.0f, 3.5f};
    w.set("t.floats", GgufValue::f32Array(floats));
    const int32_t ints[] = {7, -8};
    w.set("t.ints", GgufValue::i32Array(ints));
    GgufArray nested;
    nested.element_type = GgufType::kArray;
    nested.arrays.push_back(GgufValue::i32Array(ints));
    nested.arrays.push_back(GgufValue::stringArray({"x"}));
    w.set("t.nested", GgufValue::array(nested));
    GgufArray empty;
    empty.element_type = GgufType::kU16;
    w.set("t.empty", GgufValue::array(empty));

    std::vector<std::byte> f32(4 * 8 * 3), f16(2 * 16), q8(34 * 2);
    for (size_t i = 0; i < f32.size(); ++i) f32[i] = std::byte(i * 7);
    for (size_t i = 0; i < f16.size(); ++i) f16[i] = std::byte(i * 3 + 1);
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = std::byte(i * 5 + 2);
    w.addTensor("a.weight", {8, 3}, DType::kF32, f32);
    w.addTensor("b.weight", {16}, DType::kF16, f16);
    w.addTensor("c.weight", {32, 2}, DType::kQ8_0, q8);
    return w;
}

template <typename Fn>
Error expectBadFile(const std::vector<std::byte>& bytes, Fn&& check) {
    try {
        // A private copy so AddressSanitizer sees any read past the end.
        std::vector<std::byte> copy(bytes);
        GgufFile::fromMemory(copy);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kBadFile) << e.what();
        check(std::string(e.what()));
        return e;
    }
    ADD_FAILURE() << "expected a kBadFile error";
    return Error(ErrorCode::kInternal, "none");
}

TEST(Gguf, RoundTripsEveryValueTypeAndTensor) {
    const GgufWriter w = sampleWriter();
    const auto bytes = w.writeToMemory();
    const GgufFile f = GgufFile::fromMemory(bytes);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    ASSERT_EQ(f.metadata().size(), 18u);
    EXPECT_EQ(f.getString("general.architecture"), "llama");
    EXPECT_EQ(f.getInt("t.u8"), 200);
    EXPECT_EQ(f.getInt("t.i8"), -100);
    EXPECT_EQ(f.getInt("t.u16"), 60000);
    EXPECT_EQ(f.getInt("t.i16"), -30000);
    EXPECT_EQ(f.getInt("t.u32"), 4000000000ll);
    EXPECT_EQ(f.getInt("t.i32"), -2000000000);
    EXPECT_EQ(f.getFloat("t.f32"), 1.5);
    EXPECT_TRUE(f.getBoolOr("t.bool", false));
    EXPECT_EQ(f.find("t.u64")->scalarBits(), UINT64_MAX);
    EXPECT_FALSE(f.find("t.u64")->asInt().has_value()) << "u64 beyond int64 is not silently wrapped";
    EXPECT_EQ(f.getInt("t.i64"), INT64_MIN);
    EXPECT_EQ(f.getFloat("t.f64"), -2.25);
    EXPECT_EQ(f.getString("t.string"), "héllo\nworld");
    EXPECT_EQ(f.getArray("t.strings").strings, (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(f.getArray("t.floats").floatAt(2), 3.5);
    EXPECT_EQ(f.getArray("t.ints").intAt(1), -8);
    EXPECT_EQ(f.getArray("t.nested").arrays.size(), 2u);
    EXPECT_EQ(f.getArray("t.nested").arrays[1].asArray()->strings[0], "x");
    EXPECT_EQ(f.getArray("t.empty").size(), 0u);
    // Every value equals what was written, in order.
    const GgufFile again = GgufFile::fromMemory(bytes);
    for (size_t i = 0; i < f.metadata().size(); ++i) EXPECT_TRUE(f.metadata()[i].value == again.metadata()[i].value);

    ASSERT_EQ(f.tensors().size(), 3u);
    const GgufTensorInfo* c = f.findTensor("c.weight");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->type, DType::kQ8_0);
    EXPECT_EQ(c->shape, (std::vector<uint64_t>{32, 2}));
    EXPECT_EQ(c->elements, 64u);
    EXPECT_EQ(c->size, 68u);
    EXPECT_EQ(c->offset % 32, 0u);
    const auto data = f.tensorData(*c);
    for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], std::byte(i * 5 + 2));
    // Writing what was read gives the same bytes.
    GgufWriter copy;
    for (const auto& kv : f.metadata()) copy.set(kv.key, kv.value);
    for (const auto& t : f.tensors()) copy.addTensor(t.name, t.shape, t.type, f.tensorData(t));
    EXPECT_EQ(copy.writeToMemory(), bytes);
}

TEST(Gguf, ReadsVersion2) {
    auto bytes = sampleWriter().writeToMemory();
    bytes[4] = std::byte(2);
    const GgufFile f = GgufFile::fromMemory(bytes);
    EXPECT_EQ(f.version(), 2u);
    EXPECT_EQ(f.tensors().size(), 3u);
}

TEST(Gguf, HonoursAlignment) {
    const auto bytes = sampleWriter(128).writeToMemory();
    const GgufFile f = GgufFile::fromMemory(bytes);
    EXPECT_EQ(f.alignment(), 128u);
    EXPECT_EQ(f.dataOffset() % 128, 0u);
    for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 128, 0u) << t.name;
}

TEST(Gguf, FileRoundTripThroughMmap) {
    const auto path = std::filesystem::temp_directory_path() / ("vkinfer-gguf-" + std::to_string(::getpid()) + ".gguf");
    sampleWriter().write(path);
    {
        const GgufFile f = GgufFile::open(path);
        EXPECT_EQ(f.tensors().size(), 3u);
        EXPECT_EQ(f.fileSize(), std::filesystem::file_size(path));
    }
    std::filesystem::remove(path);
    try {
        GgufFile::open(path);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kIo);
        EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
    }
    try {
        GgufFile::open(std::filesystem::temp_directory_path());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kIo);
    }
}

TEST(Gguf, TruncatedAtEveryOffsetIsAClearError) {
    const auto bytes = sampleWriter().writeToMemory();
    // The writer pads after the last tensor too; cutting only padding leaves a valid file.
    uint64_t data_end = 0;
    const GgufFile whole = GgufFile::fromMemory(bytes);
    for (const auto& t : whole.tensors()) data_end = std::max(data_end, t.offset + t.size);
    for (size_t n = data_end; n <= bytes.size(); ++n)
        EXPECT_NO_THROW(GgufFile::fromMemory(std::span(bytes).first(n))) << "truncated to " << n;
    for (size_t n = 0; n < data_end; ++n) {
        SCOPED_TRACE("truncated to " + std::to_string(n) + " of " + std::to_string(bytes.size()));
        std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
        expectBadFile(prefix, [](const std::string& m) { EXPECT_NE(m.find("at byte"), std::string::npos) << m; });
    }
}

// Offsets into the sample file's header, for patching.
constexpr size_t kTensorCountAt = 8, kKvCountAt = 16, kFirstKeyAt = 24;

void patchU64(std::vector<std::byte>& b, size_t at, uint64_t v) {
    std::memcpy(b.data() + at, &v, 8);
}
void patchU32(std::vector<std::byte>& b, size_t at, uint32_t v) {
    std::memcpy(b.data() + at, &v, 4);
}

size_t find(const std::vector<std::byte>& b, std::string_view text) {
    const auto it = std::search(b.begin(), b.end(), reinterpret_cast<const std::byte*>(text.data()),
                                reinterpret_cast<const std::byte*>(text.data()) + text.size());
    EXPECT_NE(it, b.end()) << text;
    return static_cast<size_t>(it - b.begin());
}

TEST(Gguf, HostileHeadersAreClearErrors) {
    const auto good = sampleWriter().writeToMemory();
    auto contains = [](const char* what) {
        return [what](const std::string& m) { EXPECT_NE(m.find(what), std::string::npos) << m; };
    };
    {
        auto b = good;
        b[0] = std::byte('X');
        expectBadFile(b, contains("not a GGUF file"));
    }
    {
        auto b = good;
        patchU32(b, 4, 1);
        expectBadFile(b, contains("version 1"));
    }
    {
        auto b = good;
        patchU32(b, 4, 0x03000000);
        expectBadFile(b, contains("big-endian"));
    }
    {
        auto b = good;
        patchU64(b, kKvCountAt, uint64_t{1} << 60);
        expectBadFile(b, contains("metadata count"));
    }
    {
        auto b = good;
        patchU64(b, kTensorCountAt, UINT64_MAX);
        expectBadFile(b, contains("tensor count"));
    }
    {
        auto b = good;
        patchU64(b, kFirstKeyAt, uint64_t{1} << 40);  // length of the first key
        expectBadFile(b, contains("metadata key"));
    }
    {
        auto b = good;  // the value type of the first key
        patchU32(b, kFirstKeyAt + 8 + std::strlen("general.architecture"), 13);
        expectBadFile(b, contains("unknown value type 13"));
    }
    {
        auto b = good;  // the count of t.strings
        const size_t at = find(b, "t.strings") + std::strlen("t.strings") + 4 + 4;
        patchU64(b, at, uint64_t{1} << 58);
        expectBadFile(b, contains("cannot fit"));
    }
    {
        auto b = good;  // t.bool's byte
        const size_t at = find(b, "t.bool") + std::strlen("t.bool") + 4;
        b[at] = std::byte(2);
        expectBadFile(b, contains("neither 0 nor 1"));
    }
    {
        auto b = good;
        const size_t key = find(b, "t.u8");
        std::memcpy(b.data() + key, "t.i8", 4);  // now two keys are t.i8
        expectBadFile(b, contains("duplicate key"));
    }
}

TEST(Gguf, HostileTensorInfosAreClearErrors) {
    const auto good = sampleWriter().writeToMemory();
    auto contains = [](const char* what) {
        return [what](const std::string& m) { EXPECT_NE(m.find(what), std::string::npos) << m; };
    };
    const size_t a = find(good, "a.weight") + std::strlen("a.weight");  // n_dims of a.weight
    const size_t b_info = find(good, "b.weight") + std::strlen("b.weight");
    {
        auto b = good;
        patchU32(b, a, 5);
        expectBadFile(b, contains("5 dimensions"));
    }
    {
        auto b = good;
        patchU64(b, a + 4, 0);
        expectBadFile(b, contains("zero or too large"));
    }
    {
        auto b = good;
        patchU64(b, a + 4, uint64_t{1} << 40);
        patchU64(b, a + 12, uint64_t{1} << 40);
        expectBadFile(b, contains("too large"));
    }
    {
        auto b = good;
        patchU32(b, a + 4 + 16, 99);  // ggml type
        expectBadFile(b, contains("ggml type 99"));
    }
    {
        auto b = good;
        patchU64(b, a + 4 + 16 + 4, 3);  // offset not aligned
        expectBadFile(b, contains("not aligned"));
    }
    {
        auto b = good;
        patchU64(b, a + 4 + 16 + 4, uint64_t{1} << 62);  // offset past the end
        expectBadFile(b, contains("past the end"));
    }
    {
        auto b = good;
        patchU64(b, b_info + 4 + 8 + 4, 0);  // b.weight at a.weight's offset
        expectBadFile(b, contains("overlap"));
    }
    {
        auto b = good;
        std::memcpy(b.data() + b_info - 8, "a", 1);  // "b.weight" -> "a.weight"
        expectBadFile(b, contains("duplicate tensor"));
    }
    {
        auto b = good;
        patchU64(b, b_info + 4, 15);  // f16 row of 15 is fine; q8_0 row of 31 is not: use c
        const size_t c = find(b, "c.weight") + std::strlen("c.weight");
        patchU64(b, c + 4, 31);
        expectBadFile(b, contains("block size"));
    }
}

TEST(Gguf, BadAlignmentIsAClearError) {
    GgufWriter w;
    w.set("general.alignment", GgufValue::u32(3));
    expectBadFile(w.writeToMemory(),
                  [](const std::string& m) { EXPECT_NE(m.find("power-of-two"), std::string::npos); });
    GgufWriter s;
    s.set("general.alignment", GgufValue::string("32"));
    expectBadFile(s.writeToMemory(),
                  [](const std::string& m) { EXPECT_NE(m.find("general.alignment"), std::string::npos); });
}

TEST(Gguf, TypedGettersNameTheKey) {
    const auto bytes = sampleWriter().writeToMemory();
    const GgufFile f = GgufFile::fromMemory(bytes);
    try {
        f.getInt("t.string");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("t.string has type string, expected an integer"), std::string::npos)
            << e.what();
    }
    try {
        f.getString("llama.block_count");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("llama.block_count is missing"), std::string::npos) << e.what();
    }
    EXPECT_EQ(f.getIntOr("missing", 42), 42);
    EXPECT_EQ(f.getStringOr("missing", "x"), "x");
}

// Random mutations of a small valid file: every outcome is a parse or a kBadFile,
// and parsing a 4 KiB file never holds more than 64 MiB.
TEST(Gguf, MutatedSmallFilesStayBounded) {
    GgufWriter w = sampleWriter();
    std::vector<std::string> many(200, "tok");
    w.set("tokenizer.ggml.tokens", GgufValue::stringArray(many));
    const auto good = w.writeToMemory();
    ASSERT_LE(good.size(), 4096u);
    const uint32_t seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    int parsed = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        auto b = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t at = rng() % b.size();
            switch (rng() % 3) {
                case 0:
                    b[at] = std::byte(rng());
                    break;
                case 1:
                    b[at] = std::byte(0xFF);
                    break;
                default:
                    b.resize(at);
                    break;
            }
            if (b.empty()) break;
        }
        g_peak = g_live.load();
        const int64_t before = g_live.load();
        try {
            GgufFile::fromMemory(b);
            ++parsed;
        } catch (const Error& e) {
            ASSERT_EQ(e.code(), ErrorCode::kBadFile) << e.what();
        }
        ASSERT_LT(g_peak.load() - before, int64_t{64} << 20) << "iteration " << iter;
    }
    RecordProperty("parsed", parsed);
}

}  // namespace
}  // namespace vki::model
