#include "core/roi_pool.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace detkit {

namespace {

// Clipped [start, end) edges of the `pooled` bins of one RoI axis, as pairs in `edges`.
template <class T>
void bin_edges(int64_t start, int64_t extent, int64_t pooled, int64_t size, int64_t* edges) {
  const T bin = static_cast<T>(extent) / static_cast<T>(pooled);
  for (int64_t p = 0; p < pooled; ++p) {
    const int64_t lo = static_cast<int64_t>(std::floor(static_cast<T>(p) * bin)) + start;
    const int64_t hi = static_cast<int64_t>(std::ceil(static_cast<T>(p + 1) * bin)) + start;
    edges[2 * p] = std::clamp<int64_t>(lo, 0, size);
    edges[2 * p + 1] = std::clamp<int64_t>(hi, 0, size);
  }
}

// Bin edges of every RoI: rows (K, pooled_height, 2) and columns (K, pooled_width, 2).
template <class T>
void pool_bins(const T* rois, int64_t num_rois, const RoiShape& shape, double spatial_scale,
               std::vector<int64_t>& rows, std::vector<int64_t>& cols) {
  const T scale = static_cast<T>(spatial_scale);
  rows.resize(static_cast<size_t>(num_rois * shape.pooled_height * 2));
  cols.resize(static_cast<size_t>(num_rois * shape.pooled_width * 2));
  for (int64_t k = 0; k < num_rois; ++k) {
    const T* r = rois + 5 * k;
    // std::round rounds half away from zero, as torchvision does.
    const int64_t sx = static_cast<int64_t>(std::round(r[1] * scale));
    const int64_t sy = static_cast<int64_t>(std::round(r[2] * scale));
    const int64_t ex = static_cast<int64_t>(std::round(r[3] * scale));
    const int64_t ey = static_cast<int64_t>(std::round(r[4] * scale));
    bin_edges<T>(sy, std::max<int64_t>(ey - sy + 1, 1), shape.pooled_height, shape.height,
                 rows.data() + k * shape.pooled_height * 2);
    bin_edges<T>(sx, std::max<int64_t>(ex - sx + 1, 1), shape.pooled_width, shape.width,
                 cols.data() + k * shape.pooled_width * 2);
  }
}

// One row of bins of one RoI on one plane: rows [hs, he) (non-empty), columns [c0, c0 + span)
// (span > 0) cut into bins by c_edge. First the maximum of each column over the rows, then per bin
// the maximum of its columns. With kArgmax, the column maxima keep their first row and a bin's
// argmax is, among its columns at the maximum, the smallest row then the smallest column: the
// row-major first maximum of the bin. Selects are written branch-free with integer masks, the
// form GCC vectorises (float32).
template <bool kArgmax, class T, class Row>
void pool_bin_row(const T* __restrict plane, int64_t width, int64_t hs, int64_t he, int64_t c0, int64_t span,
                  const int64_t* c_edge, int64_t pw_n, T* __restrict best, Row* __restrict best_row,
                  T* out, int64_t* arg) {
  const T lowest = static_cast<T>(-FLT_MAX);
  for (int64_t h = hs; h < he; ++h) {
    const T* __restrict src = plane + h * width + c0;
    const Row hr = static_cast<Row>(h);
    if (h == hs) {
      for (int64_t j = 0; j < span; ++j) {
        const T v = src[j];
        best[j] = v > lowest ? v : lowest;
        if (kArgmax) best_row[j] = (hr & -static_cast<Row>(v > lowest)) | (Row(-1) & ~-static_cast<Row>(v > lowest));
      }
    } else {
      for (int64_t j = 0; j < span; ++j) {
        const T v = src[j], m = best[j];
        best[j] = v > m ? v : m;
        if (kArgmax) best_row[j] = (hr & -static_cast<Row>(v > m)) | (best_row[j] & ~-static_cast<Row>(v > m));
      }
    }
  }
  for (int64_t pw = 0; pw < pw_n; ++pw) {
    const int64_t ws = c_edge[2 * pw] - c0, we = c_edge[2 * pw + 1] - c0;
    T value = we > ws ? lowest : T(0);
    for (int64_t j = ws; j < we; ++j) value = best[j] > value ? best[j] : value;
    out[pw] = value;
    if (kArgmax) {
      // Among the columns holding the maximum, the smallest row, then the smallest column. A bin
      // where nothing exceeded -FLT_MAX only has rows -1 at its maximum, giving -1.
      constexpr Row kNone = std::numeric_limits<Row>::max();
      Row row = kNone;
      int64_t col = 0;
      for (int64_t j = ws; j < we; ++j) {
        const Row at_max = -static_cast<Row>(best[j] == value);
        const Row r = (best_row[j] & at_max) | (kNone & ~at_max);
        col = r < row ? j : col;
        row = r < row ? r : row;
      }
      const bool found = row >= 0 && row != kNone;
      arg[pw] = found ? row * width + c0 + col : -1;
    }
  }
}

}  // namespace

template <class T>
void roi_pool_forward(const T* input, const T* rois, int64_t num_rois, const RoiShape& shape,
                      double spatial_scale, T* output, int64_t* argmax) {
  // Row indices sized like T so the column-maximum loop vectorises.
  using Row = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  check_rois(rois, num_rois, shape, spatial_scale);
  std::vector<int64_t> rows, cols;
  pool_bins(rois, num_rois, shape, spatial_scale, rows, cols);
  const RoisByImage groups = group_rois_by_image(rois, num_rois, shape.batch);
  const int64_t ph_n = shape.pooled_height, pw_n = shape.pooled_width, width = shape.width;
  for_each_plane_chunk(shape, groups, [&](int64_t b, int64_t c, const int64_t* first, const int64_t* last) {
    const T* plane = input + (b * shape.channels + c) * shape.plane();
    std::vector<T> col_max(static_cast<size_t>(width));
    std::vector<Row> col_row(static_cast<size_t>(width));
    for (const int64_t* it = first; it != last; ++it) {
      const int64_t k = *it;
      T* out = output + (k * shape.channels + c) * shape.bins();
      int64_t* arg = argmax ? argmax + (k * shape.channels + c) * shape.bins() : nullptr;
      const int64_t* r_edge = rows.data() + k * ph_n * 2;
      const int64_t* c_edge = cols.data() + k * pw_n * 2;
      const int64_t c0 = c_edge[0], span = c_edge[2 * pw_n - 1] - c0;
      for (int64_t ph = 0; ph < ph_n; ++ph) {
        const int64_t hs = r_edge[2 * ph], he = r_edge[2 * ph + 1];
        if (he <= hs || span <= 0) {
          std::fill(out + ph * pw_n, out + (ph + 1) * pw_n, T(0));
          if (arg) std::fill(arg + ph * pw_n, arg + (ph + 1) * pw_n, int64_t{-1});
          continue;
        }
        if (arg)
          pool_bin_row<true>(plane, width, hs, he, c0, span, c_edge, pw_n, col_max.data(), col_row.data(),
                             out + ph * pw_n, arg + ph * pw_n);
        else
          pool_bin_row<false>(plane, width, hs, he, c0, span, c_edge, pw_n, col_max.data(), col_row.data(),
                              out + ph * pw_n, arg);
      }
    }
  });
}

template <class T>
void roi_pool_backward(const T* grad_output, const int64_t* argmax, const T* rois, int64_t num_rois,
                       const RoiShape& shape, T* grad_input) {
  if (shape.height < 1 || shape.width < 1 || shape.batch < 0 || shape.channels < 0 || shape.bins() < 1)
    throw std::invalid_argument("roi_pool_backward: invalid shape");
  check_roi_batch_indices(rois, num_rois, shape.batch);
  const RoisByImage groups = group_rois_by_image(rois, num_rois, shape.batch);
  const int64_t bins = shape.bins(), plane_size = shape.plane();
  // One task per plane: a plane's gradient is written by exactly one thread.
  parallel_for(shape.batch * shape.channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t b = p / shape.channels, c = p % shape.channels;
      T* plane = grad_input + p * plane_size;
      std::fill(plane, plane + plane_size, T(0));
      for (int64_t i = groups.start[b]; i < groups.start[b + 1]; ++i) {
        const int64_t offset = (groups.order[i] * shape.channels + c) * bins;
        for (int64_t j = 0; j < bins; ++j) {
          const int64_t a = argmax[offset + j];
          if (a < -1 || a >= plane_size) throw std::invalid_argument("argmax must be in [-1, H * W)");
          if (a >= 0) plane[a] += grad_output[offset + j];
        }
      }
    }
  });
}

template void roi_pool_forward<float>(const float*, const float*, int64_t, const RoiShape&, double,
                                      float*, int64_t*);
template void roi_pool_forward<double>(const double*, const double*, int64_t, const RoiShape&, double,
                                       double*, int64_t*);
template void roi_pool_backward<float>(const float*, const int64_t*, const float*, int64_t,
                                       const RoiShape&, float*);
template void roi_pool_backward<double>(const double*, const int64_t*, const double*, int64_t,
                                        const RoiShape&, double*);

}  // namespace detkit
