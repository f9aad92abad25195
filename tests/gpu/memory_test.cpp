// Device memory: sub-allocation, kinds, staging and in-place transfers, errors.
#include <sys/resource.h>

#include <cstring>
#include <fstream>

#include "support/gpu.hpp"

namespace vki::test {
namespace {

using vk::MemoryKind;

class Memory : public GpuTest {};

TEST_F(Memory, BuffersShareBlocksAndAreReused) {
    vk::MemoryAllocator allocator(device(), 8ull << 20);
    {
        std::vector<vk::Buffer> buffers;
        for (int i = 0; i < 10; ++i)
            buffers.push_back(allocator.createBuffer(100000 + i * 777, MemoryKind::kDevice, "small"));
        const auto s = allocator.stats(MemoryKind::kDevice);
        EXPECT_EQ(s.blocks, 1u) << "ten small buffers fit one 8 MiB block";
        EXPECT_EQ(s.buffers, 10u);
    }
    const auto after = allocator.stats(MemoryKind::kDevice);
    EXPECT_EQ(after.buffers, 0u);
    EXPECT_EQ(after.used, 0u);
    vk::Buffer again = allocator.createBuffer(1 << 20, MemoryKind::kDevice, "reuse");
    EXPECT_EQ(allocator.stats(MemoryKind::kDevice).blocks, 1u) << "freed space is reused, no new block";
}

TEST_F(Memory, LargeBuffersGetTheirOwnAllocation) {
    vk::MemoryAllocator allocator(device(), 4ull << 20);
    {
        vk::Buffer big = allocator.createBuffer(10ull << 20, MemoryKind::kDevice, "big");
        EXPECT_EQ(allocator.stats(MemoryKind::kDevice).reserved, 10ull << 20);
    }
    EXPECT_EQ(allocator.stats(MemoryKind::kDevice).blocks, 0u) << "a dedicated allocation is freed with its buffer";
}

TEST_F(Memory, HostKindsAreMapped) {
    vk::Buffer up = memory().createBuffer(4096, MemoryKind::kUpload, "up");
    vk::Buffer down = memory().createBuffer(4096, MemoryKind::kReadback, "down");
    EXPECT_NE(up.mapped(), nullptr);
    EXPECT_NE(down.mapped(), nullptr);
    vk::Buffer dev = memory().createBuffer(4096, MemoryKind::kDevice, "dev");
    EXPECT_EQ(dev.mapped() != nullptr, device().caps().uma) << "device memory is mapped exactly on UMA devices";
}

TEST_F(Memory, MoveKeepsOneOwner) {
    vk::Buffer a = memory().createBuffer(1024, MemoryKind::kDevice, "a");
    const VkBuffer handle = a.handle();
    vk::Buffer b = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_EQ(b.handle(), handle);
    b = vk::Buffer();
    EXPECT_EQ(memory().stats(MemoryKind::kDevice).buffers, 0u);
}

TEST_F(Memory, ZeroAndOversizedRequestsAreClearErrors) {
    try {
        memory().createBuffer(0, MemoryKind::kDevice, "empty tensor");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("empty tensor"), std::string::npos);
    }
    const uint64_t limit = device().caps().max_memory_allocation_size;
    ASSERT_GT(limit, 0u);
    try {
        memory().createBuffer(limit + 1, MemoryKind::kDevice, "huge tensor");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("maxMemoryAllocationSize"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("huge tensor"), std::string::npos) << e.what();
    }
}

// Capping the address space makes the driver run out of memory for real: the
// allocator must turn that into kOutOfMemory naming the buffer, then keep working.
TEST_F(Memory, ExhaustionIsAClearErrorAndRecoverable) {
    if (!device().caps().uma || device().caps().device_type != VK_PHYSICAL_DEVICE_TYPE_CPU)
        GTEST_SKIP() << "address-space capping only exhausts a CPU driver's memory";
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer's shadow memory does not live under an address-space cap";
#endif
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t current = static_cast<rlim_t>(pages) * 4096;
    struct rlimit old_limit;
    ASSERT_EQ(getrlimit(RLIMIT_AS, &old_limit), 0);
    struct rlimit limit = old_limit;
    limit.rlim_cur = current + (512ull << 20);
    ASSERT_EQ(setrlimit(RLIMIT_AS, &limit), 0);

    vk::MemoryAllocator allocator(device(), 64ull << 20);
    std::vector<vk::Buffer> held;
    bool out_of_memory = false;
    try {
        for (int i = 0; i < 64; ++i)
            held.push_back(allocator.createBuffer(48ull << 20, MemoryKind::kDevice, "kv pages"));
    } catch (const Error& e) {
        out_of_memory = true;
        EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
        EXPECT_NE(std::string(e.what()).find("kv pages"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("out of"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(out_of_memory) << "3 GiB did not fit in a 512 MiB address-space margin";
    // The validation layer reports the failed vkAllocateMemory itself; that and
    // nothing else is expected here.
    for (const auto& m : instance().validationMessages())
        EXPECT_NE(m.find("VK_ERROR_OUT_OF_DEVICE_MEMORY"), std::string::npos) << m;
    instance().clearValidationMessages();
    EXPECT_GT(held.size(), 0u);
    held.clear();
    ASSERT_EQ(setrlimit(RLIMIT_AS, &old_limit), 0);
    vk::Buffer after = allocator.createBuffer(48ull << 20, MemoryKind::kDevice, "after");
    EXPECT_TRUE(after);
}

class TransferPaths : public GpuTest, public ::testing::WithParamInterface<vk::TransferPath> {};

TEST_P(TransferPaths, RoundTripsOddSizesAtOffsets) {
    // Small staging (2 x 32 KiB) so every size above spans many chunks.
    vk::Transfer transfer(device(), memory(), 64 << 10, GetParam());
    for (size_t n : {1ul, 4095ul, 32768ul, 100003ul, (1ul << 20) + 5}) {
        SCOPED_TRACE("bytes " + std::to_string(n));
        std::vector<std::byte> data(n);
        for (auto& b : data) b = std::byte(rng_() & 0xFF);
        const uint64_t offset = 12;
        vk::Buffer buffer = memory().createBuffer(n + offset + 7, MemoryKind::kDevice, "roundtrip");
        const uint64_t staged_before = transfer.stagedBytes();
        transfer.upload(buffer, offset, data);
        std::vector<std::byte> back(n, std::byte{0xAB});
        transfer.download(buffer, offset, back);
        EXPECT_EQ(std::memcmp(data.data(), back.data(), n), 0);
        const bool staged = GetParam() == vk::TransferPath::kStaging || !buffer.mapped();
        EXPECT_EQ(transfer.stagedBytes() - staged_before, staged ? 2 * n : 0);
    }
}

TEST_P(TransferPaths, ProducerFillsChunksInOrder) {
    vk::Transfer transfer(device(), memory(), 16 << 10, GetParam());
    const uint64_t n = 100000;
    vk::Buffer buffer = memory().createBuffer(n, MemoryKind::kDevice, "produced");
    uint64_t expected_offset = 0, max_chunk = 0;
    transfer.upload(buffer, 0, n, [&](std::byte* out, uint64_t offset, uint64_t size) {
        EXPECT_EQ(offset, expected_offset);
        for (uint64_t i = 0; i < size; ++i) out[i] = std::byte((offset + i) % 251);
        expected_offset += size;
        max_chunk = std::max(max_chunk, size);
    });
    EXPECT_EQ(expected_offset, n);
    if (GetParam() == vk::TransferPath::kStaging) {
        EXPECT_LE(max_chunk, transfer.chunkBytes()) << "never a full copy";
    }
    bool ok = true;
    transfer.download(buffer, 0, n, [&](const std::byte* in, uint64_t offset, uint64_t size) {
        for (uint64_t i = 0; i < size; ++i) ok &= in[i] == std::byte((offset + i) % 251);
    });
    EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(, TransferPaths, ::testing::Values(vk::TransferPath::kAuto, vk::TransferPath::kStaging),
                         [](const auto& param_info) {
                             return param_info.param == vk::TransferPath::kAuto ? std::string("Auto")
                                                                                : std::string("Staging");
                         });

}  // namespace
}  // namespace vki::test
