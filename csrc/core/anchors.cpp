#include "core/anchors.h"

#include <vector>

#include "core/parallel.h"

namespace detkit {

int64_t grid_anchor_count(const AnchorLevel* levels, int64_t num_levels) {
  int64_t total = 0;
  for (int64_t l = 0; l < num_levels; ++l) total += levels[l].height * levels[l].width * levels[l].num_cells;
  return total;
}

template <class T>
void grid_anchors(const T* cells, const AnchorLevel* levels, int64_t num_levels, double offset, T* out) {
  // Work items are (level, grid row) pairs, so small levels do not serialise behind big ones.
  std::vector<int64_t> row_start(static_cast<size_t>(num_levels) + 1, 0);
  std::vector<int64_t> out_start(static_cast<size_t>(num_levels), 0);
  for (int64_t l = 0; l < num_levels; ++l) {
    row_start[l + 1] = row_start[l] + levels[l].height;
    if (l + 1 < num_levels)
      out_start[l + 1] = out_start[l] + levels[l].height * levels[l].width * levels[l].num_cells;
  }
  const int64_t rows = row_start[num_levels];
  parallel_for(rows, 16, [&](int64_t begin, int64_t end) {
    int64_t l = 0;
    for (int64_t r = begin; r < end; ++r) {
      while (r >= row_start[l + 1]) ++l;
      const AnchorLevel& lv = levels[l];
      const int64_t y = r - row_start[l];
      const int64_t a = lv.num_cells;
      const T* cell = cells + 4 * lv.first_cell;
      const T sy = static_cast<T>((static_cast<double>(y) + offset) * lv.stride_y);
      T* dst = out + 4 * (out_start[l] + y * lv.width * a);
      for (int64_t x = 0; x < lv.width; ++x) {
        const T sx = static_cast<T>((static_cast<double>(x) + offset) * lv.stride_x);
        for (int64_t k = 0; k < a; ++k, dst += 4) {
          dst[0] = cell[4 * k] + sx;
          dst[1] = cell[4 * k + 1] + sy;
          dst[2] = cell[4 * k + 2] + sx;
          dst[3] = cell[4 * k + 3] + sy;
        }
      }
    }
  });
}

template void grid_anchors<float>(const float*, const AnchorLevel*, int64_t, double, float*);
template void grid_anchors<double>(const double*, const AnchorLevel*, int64_t, double, double*);

}  // namespace detkit
