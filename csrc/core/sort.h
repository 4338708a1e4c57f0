// Stable LSD radix sorts used to order candidates (by score, by class) in linear time.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace detkit {

// Maps a double to an unsigned key whose ascending order is the numeric order of the doubles;
// -0.0 and +0.0 get the same key (they compare equal, so they must tie). NaN is never passed in.
inline uint64_t ascending_key(double value) {
  value += 0.0;  // turns -0.0 into +0.0
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x8000000000000000ull) ? ~bits : (bits | 0x8000000000000000ull);
}

inline uint64_t descending_key(double value) { return ~ascending_key(value); }

inline uint64_t ascending_key(int64_t value) {
  return static_cast<uint64_t>(value) ^ 0x8000000000000000ull;
}

// Reorders `items` (and their `keys`, in step) so keys ascend; equal keys keep their relative
// order. Byte positions on which all keys agree are skipped, so narrow key ranges cost one or two
// passes.
void stable_radix_sort(std::vector<uint64_t>& keys, std::vector<int64_t>& items);

}  // namespace detkit
