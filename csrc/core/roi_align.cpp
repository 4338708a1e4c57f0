#include "core/roi_align.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace detkit {

namespace {

// Merged bilinear taps of one RoI axis for every RoI. Each bin has a list of taps, a row (or
// column) index with its weight (already divided by the grid size of the axis); a row read by
// several samples of a bin appears once with the weights summed, and zero weights are dropped.
// The lists of one RoI axis are padded with zero-weight taps to a common length `count[k]`, so the
// kernels' inner loops have a fixed trip count per RoI: bin p of RoI k reads the taps
// [first[k] + p * count[k], first[k] + (p + 1) * count[k]). Indices are stored relative to the
// smallest one of the RoI axis, lo[k]; all lie in [0, span[k]).
template <class T>
struct AxisTaps {
  std::vector<int64_t> first;
  std::vector<int32_t> count;
  std::vector<int64_t> lo;
  std::vector<int64_t> span;
  std::vector<int32_t> index;
  std::vector<T> weight;
  // Scratch for one RoI axis before padding: bin p holds [bin_end[p - 1], bin_end[p]).
  std::vector<int32_t> raw_index;
  std::vector<T> raw_weight;
  std::vector<size_t> bin_end;
};

// First i in [lo, hi) where pred(i) holds, for a predicate that is false then true (hi if never).
template <class Pred>
int64_t first_true(int64_t lo, int64_t hi, Pred pred) {
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (pred(mid))
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// Appends the taps of the `pooled` bins of one RoI axis: bins of size `bin` from `start`, `grid`
// samples each, on an axis of `size` pixels.
template <class T>
void append_axis(T start, T bin, int64_t pooled, int64_t grid, int64_t size, AxisTaps<T>& taps) {
  taps.raw_index.clear();
  taps.raw_weight.clear();
  taps.bin_end.clear();
  const T lo_edge = T(-1);
  const T hi_edge = static_cast<T>(size);
  const T grid_t = static_cast<T>(grid);
  for (int64_t p = 0; p < pooled; ++p) {
    const T base = start + static_cast<T>(p) * bin;
    auto at = [&](int64_t i) { return base + static_cast<T>(static_cast<float>(i) + 0.5f) * bin / grid_t; };
    // Samples move monotonically with i (every IEEE operation above is monotone), so the ones
    // inside [-1, size] form one run, found by bisection: huge RoIs cost O(size), not O(grid).
    int64_t first, last;
    if (bin >= T(0)) {
      first = first_true(0, grid, [&](int64_t i) { return at(i) >= lo_edge; });
      last = first_true(first, grid, [&](int64_t i) { return at(i) > hi_edge; });
    } else {  // an inverted aligned RoI with a fixed sampling ratio
      first = first_true(0, grid, [&](int64_t i) { return at(i) <= hi_edge; });
      last = first_true(first, grid, [&](int64_t i) { return at(i) < lo_edge; });
    }
    const size_t bin_begin = taps.raw_index.size();
    auto add = [&](int64_t index, T w) {
      if (w == T(0)) return;
      // Consecutive samples read non-decreasing rows, so a repeated row is one of the last two.
      const size_t n = taps.raw_index.size();
      for (size_t t = std::max(bin_begin, n >= 2 ? n - 2 : size_t{0}); t < n; ++t) {
        if (taps.raw_index[t] == index) {
          taps.raw_weight[t] += w;
          return;
        }
      }
      taps.raw_index.push_back(static_cast<int32_t>(index));
      taps.raw_weight.push_back(w);
    };
    for (int64_t i = first; i < last; ++i) {
      T v = at(i);
      if (v <= T(0)) v = T(0);
      int64_t low = static_cast<int64_t>(v);
      int64_t high = low + 1;
      if (low >= size - 1) {
        low = high = size - 1;
        v = static_cast<T>(low);
      }
      const T frac = v - static_cast<T>(low);
      add(low, (T(1) - frac) / grid_t);
      add(high, frac / grid_t);
    }
    taps.bin_end.push_back(taps.raw_index.size());
  }
  size_t count = 0;
  for (int64_t p = 0; p < pooled; ++p)
    count = std::max(count, taps.bin_end[p] - (p > 0 ? taps.bin_end[p - 1] : 0));
  int32_t lo = 0, hi = -1;
  if (!taps.raw_index.empty()) {
    const auto [min_it, max_it] = std::minmax_element(taps.raw_index.begin(), taps.raw_index.end());
    lo = *min_it;
    hi = *max_it;
  }
  taps.first.push_back(static_cast<int64_t>(taps.index.size()));
  taps.count.push_back(static_cast<int32_t>(count));
  taps.lo.push_back(lo);
  taps.span.push_back(int64_t{hi} - lo + 1);
  for (int64_t p = 0; p < pooled; ++p) {
    const size_t begin = p > 0 ? taps.bin_end[p - 1] : 0, end = taps.bin_end[p];
    for (size_t t = begin; t < end; ++t) taps.index.push_back(taps.raw_index[t] - lo);
    taps.weight.insert(taps.weight.end(), taps.raw_weight.begin() + begin, taps.raw_weight.begin() + end);
    taps.index.resize(taps.index.size() + (count - (end - begin)), 0);
    taps.weight.resize(taps.weight.size() + (count - (end - begin)), T(0));
  }
}

template <class T>
void build_taps(const T* rois, int64_t num_rois, const RoiShape& shape, const RoiAlignOptions& opt,
                AxisTaps<T>& ys, AxisTaps<T>& xs) {
  const T scale = static_cast<T>(opt.spatial_scale);
  const T shift = opt.aligned ? T(0.5) : T(0);
  const T ph = static_cast<T>(shape.pooled_height);
  const T pw = static_cast<T>(shape.pooled_width);
  for (int64_t k = 0; k < num_rois; ++k) {
    const T* r = rois + 5 * k;
    const T start_x = r[1] * scale - shift;
    const T start_y = r[2] * scale - shift;
    T roi_w = (r[3] * scale - shift) - start_x;
    T roi_h = (r[4] * scale - shift) - start_y;
    if (!opt.aligned) {
      roi_w = std::max(roi_w, T(1));
      roi_h = std::max(roi_h, T(1));
    }
    const T bin_h = roi_h / ph;
    const T bin_w = roi_w / pw;
    const int64_t grid_h = opt.sampling_ratio > 0 ? opt.sampling_ratio : static_cast<int64_t>(std::ceil(roi_h / ph));
    const int64_t grid_w = opt.sampling_ratio > 0 ? opt.sampling_ratio : static_cast<int64_t>(std::ceil(roi_w / pw));
    append_axis(start_y, bin_h, shape.pooled_height, grid_h, shape.height, ys);
    append_axis(start_x, bin_w, shape.pooled_width, grid_w, shape.width, xs);
  }
}

// The taps of RoI k along one axis.
template <class T>
struct RoiAxis {
  const int32_t* index;
  const T* weight;
  int64_t count, lo, span;
};

template <class T>
RoiAxis<T> axis_of(const AxisTaps<T>& taps, int64_t k) {
  return {taps.index.data() + taps.first[k], taps.weight.data() + taps.first[k], taps.count[k], taps.lo[k],
          taps.span[k]};
}

// Calls f(std::integral_constant<int, n>) for the common tap counts 1..4 (sampling_ratio <= 2
// reads at most 4 rows or columns per bin), so the innermost loop is unrolled; f(<0>) otherwise.
template <class F>
void with_count(int64_t n, F&& f) {
  switch (n) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    default: f(std::integral_constant<int, 0>{});
  }
}

// Output bins of one RoI on one plane, one row of bins at a time: first the bin row's y taps
// combine the RoI's columns into `line` (contiguous, vectorised), then each bin sums its x taps
// of `line`. NX > 0 is x.count known at compile time; line holds >= x.span values.
template <int NX, class T>
void align_bins(const T* plane, int64_t width, RoiAxis<T> y, RoiAxis<T> x, int64_t ph_n, int64_t pw_n,
                T* __restrict line, T* out) {
  const int64_t nx = NX > 0 ? NX : x.count;
  if (y.count == 0 || nx == 0) {
    std::fill(out, out + ph_n * pw_n, T(0));
    return;
  }
  const T* origin = plane + y.lo * width + x.lo;
  for (int64_t ph = 0; ph < ph_n; ++ph) {
    const int32_t* yi = y.index + ph * y.count;
    const T* yw = y.weight + ph * y.count;
    {
      const T* __restrict src = origin + yi[0] * width;
      const T w = yw[0];
      for (int64_t j = 0; j < x.span; ++j) line[j] = w * src[j];
    }
    for (int64_t a = 1; a < y.count; ++a) {
      const T* __restrict src = origin + yi[a] * width;
      const T w = yw[a];
      for (int64_t j = 0; j < x.span; ++j) line[j] += w * src[j];
    }
    for (int64_t pw = 0; pw < pw_n; ++pw) {
      const int32_t* xi = x.index + pw * nx;
      const T* xw = x.weight + pw * nx;
      T acc = T(0);
      for (int64_t b = 0; b < nx; ++b) acc += xw[b] * line[xi[b]];
      out[ph * pw_n + pw] = acc;
    }
  }
}

// Adds one RoI's output gradient on one plane back through its taps, in the reverse order of
// align_bins: each bin row's gradient is spread over `line` by the x taps, then added to the
// rows of its y taps.
template <int NX, class T>
void align_bins_backward(const T* grad, int64_t width, RoiAxis<T> y, RoiAxis<T> x, int64_t ph_n,
                         int64_t pw_n, T* __restrict line, T* plane) {
  const int64_t nx = NX > 0 ? NX : x.count;
  if (y.count == 0 || nx == 0) return;
  T* origin = plane + y.lo * width + x.lo;
  for (int64_t ph = 0; ph < ph_n; ++ph) {
    std::fill(line, line + x.span, T(0));
    for (int64_t pw = 0; pw < pw_n; ++pw) {
      const T g = grad[ph * pw_n + pw];
      const int32_t* xi = x.index + pw * nx;
      const T* xw = x.weight + pw * nx;
      for (int64_t b = 0; b < nx; ++b) line[xi[b]] += g * xw[b];
    }
    for (int64_t a = 0; a < y.count; ++a) {
      T* __restrict dst = origin + y.index[ph * y.count + a] * width;
      const T w = y.weight[ph * y.count + a];
      for (int64_t j = 0; j < x.span; ++j) dst[j] += w * line[j];
    }
  }
}

}  // namespace

template <class T>
void roi_align_forward(const T* input, const T* rois, int64_t num_rois, const RoiShape& shape,
                       const RoiAlignOptions& opt, T* output) {
  check_rois(rois, num_rois, shape, opt.spatial_scale);
  AxisTaps<T> ys, xs;
  build_taps(rois, num_rois, shape, opt, ys, xs);
  const RoisByImage groups = group_rois_by_image(rois, num_rois, shape.batch);
  for_each_plane_chunk(shape, groups, [&](int64_t b, int64_t c, const int64_t* first, const int64_t* last) {
    const T* plane = input + (b * shape.channels + c) * shape.plane();
    std::vector<T> line(static_cast<size_t>(shape.width));
    for (const int64_t* it = first; it != last; ++it) {
      const int64_t k = *it;
      T* out = output + (k * shape.channels + c) * shape.bins();
      const RoiAxis<T> y = axis_of(ys, k), x = axis_of(xs, k);
      with_count(x.count, [&](auto nx) {
        align_bins<decltype(nx)::value>(plane, shape.width, y, x, shape.pooled_height, shape.pooled_width,
                                        line.data(), out);
      });
    }
  });
}

template <class T>
void roi_align_backward(const T* grad_output, const T* rois, int64_t num_rois, const RoiShape& shape,
                        const RoiAlignOptions& opt, T* grad_input) {
  check_rois(rois, num_rois, shape, opt.spatial_scale);
  AxisTaps<T> ys, xs;
  build_taps(rois, num_rois, shape, opt, ys, xs);
  const RoisByImage groups = group_rois_by_image(rois, num_rois, shape.batch);
  // One task per plane: a plane's gradient is written by exactly one thread.
  parallel_for(shape.batch * shape.channels, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> line(static_cast<size_t>(shape.width));
    for (int64_t p = begin; p < end; ++p) {
      const int64_t b = p / shape.channels, c = p % shape.channels;
      T* plane = grad_input + p * shape.plane();
      std::fill(plane, plane + shape.plane(), T(0));
      for (int64_t i = groups.start[b]; i < groups.start[b + 1]; ++i) {
        const int64_t k = groups.order[i];
        const T* grad = grad_output + (k * shape.channels + c) * shape.bins();
        const RoiAxis<T> y = axis_of(ys, k), x = axis_of(xs, k);
        with_count(x.count, [&](auto nx) {
          align_bins_backward<decltype(nx)::value>(grad, shape.width, y, x, shape.pooled_height,
                                                   shape.pooled_width, line.data(), plane);
        });
      }
    }
  });
}

template void roi_align_forward<float>(const float*, const float*, int64_t, const RoiShape&,
                                       const RoiAlignOptions&, float*);
template void roi_align_forward<double>(const double*, const double*, int64_t, const RoiShape&,
                                        const RoiAlignOptions&, double*);
template void roi_align_backward<float>(const float*, const float*, int64_t, const RoiShape&,
                                        const RoiAlignOptions&, float*);
template void roi_align_backward<double>(const double*, const double*, int64_t, const RoiShape&,
                                         const RoiAlignOptions&, double*);

}  // namespace detkit
