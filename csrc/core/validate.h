// Single-pass input checks for the Python validation layer (detkit._validation). numpy needs
// several passes and temporaries for the same tests, which dominate the cost of fast kernels on
// millions of boxes; these only find the first offender, the caller builds the error message.
#pragma once

#include <cstdint>

namespace detkit {

// Index of the first element that is NaN or infinite, or -1.
template <class T>
int64_t first_non_finite(const T* values, int64_t n);

// Index of the first of n (x1, y1, c2, c3) rows that has a non-finite coordinate or is inverted,
// or -1. xyxy: inverted means c2 < x1 or c3 < y1; otherwise (xywh, cxcywh) c2 < 0 or c3 < 0.
template <class T>
int64_t first_invalid_box(const T* boxes, int64_t n, bool xyxy);

}  // namespace detkit
