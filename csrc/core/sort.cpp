#include "core/sort.h"

#include <array>

namespace detkit {

void stable_radix_sort(std::vector<uint64_t>& keys, std::vector<int64_t>& items) {
  const size_t n = keys.size();
  if (n < 2) return;
  std::array<std::array<size_t, 256>, 8> counts{};
  for (size_t i = 0; i < n; ++i) {
    const uint64_t k = keys[i];
    for (int d = 0; d < 8; ++d) ++counts[d][(k >> (8 * d)) & 0xff];
  }
  std::vector<uint64_t> keys_tmp(n);
  std::vector<int64_t> items_tmp(n);
  for (int d = 0; d < 8; ++d) {
    auto& count = counts[d];
    const size_t first_digit = (keys[0] >> (8 * d)) & 0xff;
    if (count[first_digit] == n) continue;  // every key has this digit: the pass is a no-op
    size_t offset = 0;
    for (auto& c : count) {
      const size_t here = c;
      c = offset;
      offset += here;
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t slot = count[(keys[i] >> (8 * d)) & 0xff]++;
      keys_tmp[slot] = keys[i];
      items_tmp[slot] = items[i];
    }
    keys.swap(keys_tmp);
    items.swap(items_tmp);
  }
}

}  // namespace detkit
