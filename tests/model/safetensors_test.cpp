// Safetensors reader: valid files parse; truncated and hostile ones give clear errors.
#include <gtest/gtest.h>

#include <cstring>

#include "common/error.hpp"
#include "model/safetensors.hpp"

namespace vki::model {
namespace {

std::vector<std::byte> makeFile(const std::string& header, size_t data_bytes) {
    std::vector<std::byte> out(8 + header.size() + data_bytes);
    const uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, header.data(), header.size());
    for (size_t i = 0; i < data_bytes; ++i) out[8 + header.size() + i] = std::byte(i & 0xFF);
    return out;
}

const std::string kHeader =
    R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},)"
    R"("b":{"dtype":"F32","shape":[3],"data_offsets":[12,24]},"e":{"dtype":"BF16","shape":[0,4],"data_offsets":[24,24]}})";

std::string parseError(const std::vector<std::byte>& bytes) {
    try {
        std::vector<std::byte> copy(bytes);
        SafetensorsFile::fromMemory(copy, "t.safetensors");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kBadFile) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "expected a kBadFile error";
    return {};
}

TEST(Safetensors, ParsesTensors) {
    const auto bytes = makeFile(kHeader, 24);
    const auto f = SafetensorsFile::fromMemory(bytes);
    ASSERT_EQ(f.tensors().size(), 3u);
    const auto* w = f.find("w");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->dtype, SafetensorsDType::kF16);
    EXPECT_EQ(w->shape, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(w->elements, 6u);
    EXPECT_EQ(f.data(*w).size(), 12u);
    const auto* b = f.find("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(f.data(*b)[0], std::byte(12));
    EXPECT_EQ(f.find("e")->elements, 0u);
    EXPECT_EQ(f.find("__metadata__"), nullptr);
}

TEST(Safetensors, TruncatedAtEveryOffsetIsAClearError) {
    const auto bytes = makeFile(kHeader, 24);
    for (size_t n = 0; n < bytes.size(); ++n) {
        SCOPED_TRACE("truncated to " + std::to_string(n));
        parseError(std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n)));
    }
}

TEST(Safetensors, HostileHeadersAreClearErrors) {
    auto expect = [](const std::vector<std::byte>& bytes, const char* what) {
        const std::string m = parseError(bytes);
        EXPECT_NE(m.find(what), std::string::npos) << m;
    };
    auto huge = makeFile(kHeader, 24);
    const uint64_t n = uint64_t{1} << 50;
    std::memcpy(huge.data(), &n, 8);
    expect(huge, "does not fit");
    expect(makeFile("{not json", 0), "not valid JSON");
    expect(makeFile("[1,2]", 0), "not a JSON object");
    expect(makeFile(R"({"w":{"dtype":"F16","shape":[2]}})", 4), "needs dtype, shape and data_offsets");
    expect(makeFile(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,4]}})", 4), "unsupported dtype");
    expect(makeFile(R"({"w":{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}})", 4), "shape holds");
    expect(makeFile(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,400]}})", 4), "outside");
    expect(makeFile(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}})", 4), "do not hold");
    expect(makeFile(R"({"w":{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "too large");
    expect(makeFile(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}})",
                    6),
           "overlap");
}

}  // namespace
}  // namespace vki::model
