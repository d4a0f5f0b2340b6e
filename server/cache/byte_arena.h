#pragma once
// An append-only arena of byte blocks addressed by 32-bit references, for compact tables of
// many small variable-size records (the user-state cache: ~1,000,000 users of ~60 bytes). A
// hash table of 4-byte references into it costs far less than one of std::string keys, each a
// 32-byte object plus its own heap block.
//
// Blocks never move and are freed only with the arena. Memory comes in 64 KiB chunks (a
// block larger than a chunk gets a chunk of its own), so the slack is at most one partly used
// chunk. A reference is (chunk index << 16 | offset in chunk): up to 65,536 chunks, 4 GiB.
//
// Not synchronized: the owner guards it (UserStateCache: by the shard's lock).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mm::cache {

class ByteArena {
 public:
  static constexpr size_t kChunkBytes = size_t{1} << 16;

  ByteArena() = default;
  ByteArena(const ByteArena&) = delete;
  ByteArena& operator=(const ByteArena&) = delete;

  // A new block of `size` bytes (uninitialized); throws std::length_error when the arena has
  // no references left.
  uint32_t Allocate(size_t size);

  char* At(uint32_t ref) { return chunks_[ref >> 16].get() + (ref & 0xFFFF); }
  const char* At(uint32_t ref) const { return chunks_[ref >> 16].get() + (ref & 0xFFFF); }

  // Bytes of chunks allocated (what the arena costs, slack included).
  size_t allocated_bytes() const { return allocated_; }

 private:
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_in_last_ = kChunkBytes;  // bytes used in the last shared chunk; full: none yet
  size_t last_shared_ = 0;             // index of the chunk new small blocks go to
  size_t allocated_ = 0;
};

}  // namespace mm::cache
