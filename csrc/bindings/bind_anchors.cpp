#include "bindings/common.h"
#include "core/anchors.h"

#include <limits>
#include <vector>

namespace detkit::bind {

namespace {

// Throws ValueError unless the levels' anchor coordinates (4 per anchor) can be counted in int64.
void check_anchor_count(const std::vector<AnchorLevel>& levels) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 4;
  int64_t total = 0;
  for (const AnchorLevel& lv : levels) {
    int64_t n = lv.height;
    for (const int64_t factor : {lv.width, lv.num_cells}) {
      if (factor != 0 && n > kMax / factor) throw py::value_error("levels give too many anchors");
      n *= factor;
    }
    if (n > kMax - total) throw py::value_error("levels give too many anchors");
    total += n;
  }
}

// levels: (L, 4) int64 rows [height, width, first_cell, num_cells]; strides: (L, 2) [sy, sx].
template <class T>
py::array_t<T> grid(const CArray<T>& cells, const CArray<int64_t>& levels,
                    const CArray<double>& strides, double offset) {
  const int64_t k = rows_of(cells, 4, "cells");
  const int64_t num_levels = rows_of(levels, 4, "levels");
  if (rows_of(strides, 2, "strides") != num_levels)
    throw py::value_error("strides must have one row per level");
  std::vector<AnchorLevel> lv(static_cast<size_t>(num_levels));
  for (int64_t l = 0; l < num_levels; ++l) {
    const int64_t* row = levels.data() + 4 * l;
    if (row[0] < 0 || row[1] < 0 || row[2] < 0 || row[3] < 0 || row[2] > k || row[3] > k - row[2])
      throw py::value_error("levels row " + std::to_string(l) + " is out of range");
    lv[l] = AnchorLevel{row[0], row[1], strides.data()[2 * l], strides.data()[2 * l + 1], row[2], row[3]};
  }
  check_anchor_count(lv);
  const int64_t total = grid_anchor_count(lv.data(), num_levels);
  py::array_t<T> out({total, int64_t{4}});
  T* po = out.mutable_data();
  const T* pc = cells.data();
  {
    py::gil_scoped_release release;
    grid_anchors<T>(pc, lv.data(), num_levels, offset, po);
  }
  return out;
}

}  // namespace

void bind_anchors(py::module_& m) {
  m.def("grid_anchors", &grid<float>, py::arg("cells"), py::arg("levels"), py::arg("strides"),
        py::arg("offset"));
  m.def("grid_anchors", &grid<double>, py::arg("cells"), py::arg("levels"), py::arg("strides"),
        py::arg("offset"));
}

}  // namespace detkit::bind
