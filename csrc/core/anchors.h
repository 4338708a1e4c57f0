// Grid anchors: cell anchors (boxes centred on the origin) shifted to every feature-map location.
//
// For level l with grid (h, w), strides (sy, sx) and A cell anchors, the output rows are ordered
// (y, x, anchor) and row ((y * w + x) * A + a) is
//   cell[a] + (shift_x, shift_y, shift_x, shift_y),  shift_x = T((x + offset) * sx),
//                                                    shift_y = T((y + offset) * sy)
// with the shifts computed in double and rounded once to T (as torchvision adds the integer shift
// to the float cell anchor). Levels follow each other in the output.
#pragma once

#include <cstdint>

namespace detkit {

struct AnchorLevel {
  int64_t height, width;      // feature-map grid size
  double stride_y, stride_x;  // pixels per cell
  int64_t first_cell;         // index of the level's first cell anchor in `cells`
  int64_t num_cells;          // cell anchors per location
};

// Total number of output rows for the levels.
int64_t grid_anchor_count(const AnchorLevel* levels, int64_t num_levels);

// cells is (total cells, 4) xyxy; out is (grid_anchor_count(...), 4).
template <class T>
void grid_anchors(const T* cells, const AnchorLevel* levels, int64_t num_levels, double offset, T* out);

}  // namespace detkit
