#include "cache/byte_arena.h"

#include <stdexcept>

namespace mm::cache {

uint32_t ByteArena::Allocate(size_t size) {
  if (size == 0) size = 1;  // every block has its own address
  bool own_chunk = size > kChunkBytes;
  if (!own_chunk && used_in_last_ + size <= kChunkBytes) {
    auto ref = static_cast<uint32_t>(last_shared_ << 16 | used_in_last_);
    used_in_last_ += size;
    return ref;
  }
  if (chunks_.size() > 0xFFFF) throw std::length_error("ByteArena: no references left");
  size_t chunk_bytes = own_chunk ? size : kChunkBytes;
  // Not zeroed: pages become resident only as blocks are written.
  chunks_.push_back(std::make_unique_for_overwrite<char[]>(chunk_bytes));
  allocated_ += chunk_bytes;
  size_t index = chunks_.size() - 1;
  if (!own_chunk) {
    last_shared_ = index;
    used_in_last_ = size;
  }
  return static_cast<uint32_t>(index << 16);
}

}  // namespace mm::cache
