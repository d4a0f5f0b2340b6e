// ByteArena (cache/byte_arena.h): blocks keep their bytes and addresses while more are added,
// chunks are shared by small blocks and a block larger than a chunk gets its own.

#include "cache/byte_arena.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace mm::cache {
namespace {

TEST(ByteArenaTest, BlocksKeepTheirBytesAndAddresses) {
  ByteArena arena;
  std::vector<std::pair<uint32_t, std::string>> blocks;
  std::vector<const char*> addresses;
  std::set<uint32_t> refs;
  for (int i = 0; i < 20000; ++i) {  // ~600 KB: many chunks
    std::string text = "usr_" + std::to_string(i * 7919) + std::string(static_cast<size_t>(i % 40), 'x');
    uint32_t ref = arena.Allocate(text.size());
    std::memcpy(arena.At(ref), text.data(), text.size());
    EXPECT_TRUE(refs.insert(ref).second) << "reference handed out twice: " << ref;
    blocks.emplace_back(ref, text);
    addresses.push_back(arena.At(ref));
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto& [ref, text] = blocks[i];
    EXPECT_EQ(arena.At(ref), addresses[i]) << "block moved";
    EXPECT_EQ(std::string(arena.At(ref), text.size()), text) << i;
  }
}

TEST(ByteArenaTest, SmallBlocksShareChunks) {
  ByteArena arena;
  EXPECT_EQ(arena.allocated_bytes(), 0u);
  uint32_t a = arena.Allocate(60);
  uint32_t b = arena.Allocate(60);
  EXPECT_EQ(arena.allocated_bytes(), ByteArena::kChunkBytes);
  EXPECT_EQ(arena.At(b), arena.At(a) + 60);  // packed, no per-block overhead
  // Filling the chunk exactly does not start another one; the next block does.
  arena.Allocate(ByteArena::kChunkBytes - 120);
  EXPECT_EQ(arena.allocated_bytes(), ByteArena::kChunkBytes);
  uint32_t c = arena.Allocate(1);
  EXPECT_EQ(arena.allocated_bytes(), 2 * ByteArena::kChunkBytes);
  EXPECT_EQ(c & 0xFFFF, 0u);
}

TEST(ByteArenaTest, BlockLargerThanAChunkGetsItsOwn) {
  ByteArena arena;
  uint32_t small = arena.Allocate(10);
  std::memcpy(arena.At(small), "0123456789", 10);
  const size_t big_size = ByteArena::kChunkBytes * 3 + 5;
  uint32_t big = arena.Allocate(big_size);
  std::memset(arena.At(big), 'b', big_size);
  EXPECT_EQ(arena.allocated_bytes(), ByteArena::kChunkBytes + big_size);
  // The shared chunk is still the one small blocks go to.
  uint32_t next = arena.Allocate(10);
  EXPECT_EQ(arena.At(next), arena.At(small) + 10);
  EXPECT_EQ(std::string(arena.At(small), 10), "0123456789");
  EXPECT_EQ(arena.At(big)[big_size - 1], 'b');
}

TEST(ByteArenaTest, ZeroSizeBlocksAreDistinct) {
  ByteArena arena;
  EXPECT_NE(arena.Allocate(0), arena.Allocate(0));
}

}  // namespace
}  // namespace mm::cache
