#pragma once
// Realistic identity-provider ids for the benchmarks: Huudis ids are a prefix (`usr_`, `evt_`,
// `acc_`) + a 26-character ULID — 10 Crockford base32 characters of unix milliseconds, then 16
// of randomness (here from a seeded generator, so runs are reproducible).

#include <cstdint>
#include <string>

namespace mm::bench {

// splitmix64: advances `state` and returns the next pseudo-random value.
inline uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A ULID for `unix_ms`, its random part drawn from `rng`.
inline std::string Ulid(int64_t unix_ms, uint64_t& rng) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string out(26, '0');
  auto ms = static_cast<uint64_t>(unix_ms);
  for (int i = 9; i >= 0; --i, ms >>= 5) out[static_cast<size_t>(i)] = kAlphabet[ms & 31];
  uint64_t a = SplitMix(rng), b = SplitMix(rng);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(10 + i)] = kAlphabet[(a >> (5 * i)) & 31];
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(18 + i)] = kAlphabet[(b >> (5 * i)) & 31];
  return out;
}

}  // namespace mm::bench
