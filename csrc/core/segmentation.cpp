#include "core/segmentation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>


namespace detkit {

std::vector<double> gaussian_kernel(double sigma, bool derivative) {
  const int radius = std::max(1, static_cast<int>(std::ceil(4.0 * sigma)));
  std::vector<double> k(2 * radius + 1);
  double total = 0.0;
  for (int t = 0; t < 2 * radius + 1; ++t) {
    const double x = (t - radius) / sigma;
    k[t] = std::exp(-0.5 * x * x);
    total += k[t];
  }
  for (int t = 0; t < 2 * radius + 1; ++t) {
    k[t] = k[t] / total;
    if (derivative) k[t] = k[t] * (-(t - radius) / (sigma * sigma));
  }
  return k;
}

namespace {

// Correlates one row with k (replicated borders): out[i] = sum_t k[t] * src[clamp(i + t - r)], the
// taps summed in kernel order from 0. Interior outputs accumulate tap by tap over the whole span so
// the loop vectorises without changing any output's summation order.
void filter_row(const double* src, int64_t w, const std::vector<double>& k, double* out) {
  const int64_t taps = static_cast<int64_t>(k.size()), r = taps / 2;
  const int64_t lo = std::min(r, w), hi = std::max(lo, w - r);  // interior: [lo, hi)
  for (int64_t i = lo; i < hi; ++i) out[i] = 0.0;
  for (int64_t t = 0; t < taps; ++t) {
    const double kt = k[t];
    const double* s = src + (t - r);
    for (int64_t i = lo; i < hi; ++i) out[i] += kt * s[i];
  }
  const auto border = [&](int64_t i) {
    double acc = 0.0;
    for (int64_t t = 0; t < taps; ++t) acc += k[t] * src[std::min(std::max(i + t - r, int64_t{0}), w - 1)];
    out[i] = acc;
  };
  for (int64_t i = 0; i < lo; ++i) border(i);
  for (int64_t i = hi; i < w; ++i) border(i);
}

}  // namespace

void separable_filter(const double* in, int64_t h, int64_t w, const std::vector<double>& kx,
                      const std::vector<double>& ky, double* out) {
  std::vector<double> tmp(static_cast<size_t>(h * w));
  for (int64_t y = 0; y < h; ++y) filter_row(in + y * w, w, kx, tmp.data() + y * w);
  // Columns, a whole row of outputs at a time (contiguous, vectorised), taps in kernel order.
  const int64_t taps = static_cast<int64_t>(ky.size()), r = taps / 2;
  for (int64_t y = 0; y < h; ++y) {
    double* dst = out + y * w;
    std::fill(dst, dst + w, 0.0);
    for (int64_t t = 0; t < taps; ++t) {
      const double kt = ky[t];
      const double* src = tmp.data() + std::min(std::max(y + t - r, int64_t{0}), h - 1) * w;
      for (int64_t x = 0; x < w; ++x) dst[x] += kt * src[x];
    }
  }
}

void smooth_planes(const double* planes, int channels, int64_t h, int64_t w, double sigma,
                   double* out) {
  const int64_t n = h * w;
  if (sigma == 0.0) {
    std::copy(planes, planes + channels * n, out);
    return;
  }
  const std::vector<double> g = gaussian_kernel(sigma, false);
  for (int c = 0; c < channels; ++c) separable_filter(planes + c * n, h, w, g, g, out + c * n);
}

namespace {

// Stable LSD radix sort of packed (key << 32 | payload) values by their upper 32 bits, 11 bits
// per pass; passes on which every key has the same digit are skipped.
void sort_by_upper_half(std::vector<uint64_t>& values) {
  const size_t n = values.size();
  if (n < 2) return;
  constexpr int kBits = 11, kShifts[3] = {32, 43, 54};
  std::vector<std::array<size_t, 1 << kBits>> counts(3);
  for (auto& c : counts) c.fill(0);
  for (const uint64_t v : values)
    for (int d = 0; d < 3; ++d) ++counts[d][(v >> kShifts[d]) & ((1u << kBits) - 1)];
  std::vector<uint64_t> tmp(n);
  for (int d = 0; d < 3; ++d) {
    auto& count = counts[d];
    if (count[(values[0] >> kShifts[d]) & ((1u << kBits) - 1)] == n) continue;
    size_t offset = 0;
    for (auto& c : count) {
      const size_t here = c;
      c = offset;
      offset += here;
    }
    for (const uint64_t v : values) tmp[count[(v >> kShifts[d]) & ((1u << kBits) - 1)]++] = v;
    values.swap(tmp);
  }
}

}  // namespace

SortedEdges sorted_grid_graph(const double* planes, int channels, int64_t h, int64_t w) {
  // (dx, dy) of the four edge directions, in listing order.
  static const int dirs[4][2] = {{1, 0}, {0, 1}, {1, 1}, {-1, 1}};
  const int64_t n = h * w;
  SortedEdges edges;
  edges.packed.reserve(static_cast<size_t>(4 * n));
  std::vector<double> sq(static_cast<size_t>(w));
  for (uint32_t dir = 0; dir < 4; ++dir) {
    const auto& d = dirs[dir];
    const int64_t x0 = std::max<int64_t>(0, -d[0]), x1 = w - std::max<int64_t>(0, d[0]);
    const int64_t shift = d[1] * w + d[0];
    edges.offset[dir] = shift;
    for (int64_t y = 0; y + d[1] < h; ++y) {
      const int64_t row = y * w;
      std::fill(sq.begin(), sq.end(), 0.0);
      for (int c = 0; c < channels; ++c) {
        const double* plane = planes + c * n + row;
        for (int64_t x = x0; x < x1; ++x) {
          const double diff = plane[x] - plane[x + shift];
          sq[x] += diff * diff;
        }
      }
      for (int64_t x = x0; x < x1; ++x) {
        const float weight = static_cast<float>(std::sqrt(sq[x]));
        uint32_t bits;  // non-negative floats order like their bit patterns
        std::memcpy(&bits, &weight, sizeof bits);
        edges.packed.push_back((static_cast<uint64_t>(bits) << 32) |
                               (static_cast<uint64_t>(row + x) << 2) | dir);
      }
    }
  }
  sort_by_upper_half(edges.packed);
  return edges;
}

namespace {

// Union-find over pixels. Parents live in their own compact array (the hot, randomly accessed
// part); sizes and merge thresholds are only read and written at roots.
struct DisjointSets {
  std::vector<int32_t> parent, size;
  std::vector<double> threshold;

  DisjointSets(int64_t n, double k)
      : parent(static_cast<size_t>(n)), size(static_cast<size_t>(n), 1), threshold(static_cast<size_t>(n), k) {
    for (int64_t i = 0; i < n; ++i) parent[i] = static_cast<int32_t>(i);
  }
  int32_t find(int32_t x) {
    while (parent[x] != x) {
      const int32_t up = parent[parent[x]];  // path halving
      parent[x] = up;
      x = up;
    }
    return x;
  }
  int32_t join(int32_t a, int32_t b) {  // a, b are roots; the larger set becomes the root
    if (size[a] < size[b]) std::swap(a, b);
    parent[b] = a;
    size[a] += size[b];
    return a;
  }
};

}  // namespace

int32_t segment_graph(const SortedEdges& edges, int64_t num_pixels, double k, int64_t min_size,
                      int32_t* labels) {
  DisjointSets sets(num_pixels, k);
  int32_t* parent = sets.parent.data();
  const size_t m = edges.size();
  // Edges are visited in weight order, so their pixels are scattered over the image: fetch the
  // parents of upcoming edges' pixels (and, closer in, their grandparents) ahead of use.
  constexpr size_t ahead = 16;
  for (size_t i = 0; i < m; ++i) {
#if defined(__GNUC__) || defined(__clang__)
    if (i + 2 * ahead < m) {
      __builtin_prefetch(parent + edges.a(i + 2 * ahead));
      __builtin_prefetch(parent + edges.b(i + 2 * ahead));
    }
    if (i + ahead < m) {
      __builtin_prefetch(parent + parent[edges.a(i + ahead)]);
      __builtin_prefetch(parent + parent[edges.b(i + ahead)]);
    }
#endif
    const int32_t a = sets.find(edges.a(i)), b = sets.find(edges.b(i));
    if (a == b) continue;
    const double w = edges.weight(i);
    if (w <= sets.threshold[a] && w <= sets.threshold[b]) {
      const int32_t root = sets.join(a, b);
      sets.threshold[root] = w + k / sets.size[root];
    }
  }
  // Second pass: only edges touching a component smaller than min_size can join anything
  // (components only grow), so flag those pixels first and skip the other edges cheaply.
  std::vector<uint8_t> small(static_cast<size_t>(num_pixels));
  bool any_small = false;
  for (int64_t p = 0; p < num_pixels; ++p) {
    small[p] = sets.size[sets.find(static_cast<int32_t>(p))] < min_size;
    any_small |= small[p] != 0;
  }
  for (size_t i = 0; any_small && i < m; ++i) {
    const int32_t pa = edges.a(i), pb = edges.b(i);
    if (!small[pa] && !small[pb]) continue;
    const int32_t a = sets.find(pa), b = sets.find(pb);
    if (a != b && (sets.size[a] < min_size || sets.size[b] < min_size)) sets.join(a, b);
  }
  std::vector<int32_t> label_of_root(static_cast<size_t>(num_pixels), -1);
  int32_t count = 0;
  for (int64_t p = 0; p < num_pixels; ++p) {
    const int32_t root = sets.find(static_cast<int32_t>(p));
    if (label_of_root[root] < 0) label_of_root[root] = count++;
    labels[p] = label_of_root[root];
  }
  return count;
}

int32_t felzenszwalb(const uint8_t* image, int64_t h, int64_t w, int channels, double k,
                     double sigma, int64_t min_size, int32_t* labels) {
  const int64_t n = h * w;
  if (n >= (int64_t{1} << 30)) throw std::invalid_argument("felzenszwalb: image has too many pixels");
  std::vector<double> planes(static_cast<size_t>(channels * n)), smooth(planes.size());
  for (int64_t p = 0; p < n; ++p)
    for (int c = 0; c < channels; ++c) planes[c * n + p] = image[p * channels + c];
  smooth_planes(planes.data(), channels, h, w, sigma, smooth.data());
  const SortedEdges edges = sorted_grid_graph(smooth.data(), channels, h, w);
  return segment_graph(edges, n, k, min_size, labels);
}

}  // namespace detkit
