#include "core/validate.h"

#include <algorithm>

#include "core/dispatch.h"

namespace detkit {

namespace {

// v - v is 0 for finite v and NaN for NaN and +-inf; NaN compares false. The block loops
// accumulate int flags from comparisons (not bools, not early exits) so that GCC vectorises them.
template <class T>
inline bool finite(T v) {
  return v - v == T(0);
}

constexpr int64_t kBlock = 1024;  // rows tested branch-free before looking for the offender

template <class T>
DETKIT_VECTOR_CLONES bool block_has_non_finite(const T* __restrict values, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= finite(values[i]) ? 0 : 1;
  return bad != 0;
}

template <class T>
DETKIT_VECTOR_CLONES bool block_has_invalid_box(const T* __restrict b, int64_t n, bool xyxy) {
  // low = scale * corner: the corner itself for xyxy, 0 (a signed zero) for widths/heights; a
  // non-finite corner makes `finite_sum` NaN anyway.
  const T scale = xyxy ? T(1) : T(0);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x1 = b[4 * i], y1 = b[4 * i + 1], c2 = b[4 * i + 2], c3 = b[4 * i + 3];
    const T finite_sum = (x1 - x1) + (y1 - y1) + (c2 - c2) + (c3 - c3);
    bad |= finite_sum == T(0) ? 0 : 1;
    bad |= c2 >= scale * x1 ? 0 : 1;
    bad |= c3 >= scale * y1 ? 0 : 1;
  }
  return bad != 0;
}

}  // namespace

template <class T>
int64_t first_non_finite(const T* values, int64_t n) {
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    if (!block_has_non_finite(values + start, len)) continue;
    for (int64_t i = start; i < start + len; ++i)
      if (!finite(values[i])) return i;
  }
  return -1;
}

template <class T>
int64_t first_invalid_box(const T* boxes, int64_t n, bool xyxy) {
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t len = std::min(kBlock, n - start);
    if (!block_has_invalid_box(boxes + 4 * start, len, xyxy)) continue;
    for (int64_t i = start; i < start + len; ++i)
      if (block_has_invalid_box(boxes + 4 * i, 1, xyxy)) return i;
  }
  return -1;
}

template int64_t first_non_finite<float>(const float*, int64_t);
template int64_t first_non_finite<double>(const double*, int64_t);
template int64_t first_invalid_box<float>(const float*, int64_t, bool);
template int64_t first_invalid_box<double>(const double*, int64_t, bool);

}  // namespace detkit
