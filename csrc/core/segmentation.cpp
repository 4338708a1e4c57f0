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
void filter_row(const float* src, int64_t w, const std::vector<float>& k, float* out) {
  const int64_t taps = static_cast<int64_t>(k.size()), r = taps / 2;
  const int64_t lo = std::min(r, w), hi = std::max(lo, w - r);  // interior: [lo, hi)
  for (int64_t i = lo; i < hi; ++i) out[i] = 0.0f;
  for (int64_t t = 0; t < taps; ++t) {
    const float kt = k[t];
    const float* s = src + (t - r);
    for (int64_t i = lo; i < hi; ++i) out[i] += kt * s[i];
  }
  const auto border = [&](int64_t i) {
    float acc = 0.0f;
    for (int64_t t = 0; t < taps; ++t) acc += k[t] * src[std::min(std::max(i + t - r, int64_t{0}), w - 1)];
    out[i] = acc;
  };
  for (int64_t i = 0; i < lo; ++i) border(i);
  for (int64_t i = hi; i < w; ++i) border(i);
}

}  // namespace

std::vector<float> to_float(const std::vector<double>& kernel) {
  return std::vector<float>(kernel.begin(), kernel.end());
}

void separable_filter(const float* in, int64_t h, int64_t w, const std::vector<float>& kx,
                      const std::vector<float>& ky, float* out) {
  std::vector<float> tmp(static_cast<size_t>(h * w));
  for (int64_t y = 0; y < h; ++y) filter_row(in + y * w, w, kx, tmp.data() + y * w);
  // Columns, a whole row of outputs at a time (contiguous, vectorised), taps in kernel order.
  const int64_t taps = static_cast<int64_t>(ky.size()), r = taps / 2;
  for (int64_t y = 0; y < h; ++y) {
    float* dst = out + y * w;
    std::fill(dst, dst + w, 0.0f);
    for (int64_t t = 0; t < taps; ++t) {
      const float kt = ky[t];
      const float* src = tmp.data() + std::min(std::max(y + t - r, int64_t{0}), h - 1) * w;
      for (int64_t x = 0; x < w; ++x) dst[x] += kt * src[x];
    }
  }
}

void smooth_planes(const float* planes, int channels, int64_t h, int64_t w, double sigma,
                   float* out) {
  const int64_t n = h * w;
  if (sigma == 0.0) {
    std::copy(planes, planes + channels * n, out);
    return;
  }
  const std::vector<float> g = to_float(gaussian_kernel(sigma, false));
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

SortedEdges sorted_grid_graph(const float* planes, int channels, int64_t h, int64_t w) {
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
        const float* plane = planes + c * n + row;
        for (int64_t x = x0; x < x1; ++x) {
          const double diff = static_cast<double>(plane[x]) - static_cast<double>(plane[x + shift]);
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

// Union-find over pixels for several thresholds at once: pixel p's entries for the K thresholds
// sit side by side (nodes[p * K + j]), so the cache line fetched for a pixel serves every
// threshold. A root's entry also holds its component's size and merge threshold. KC > 0 fixes the
// number of thresholds at compile time (cheaper indexing on the find chains); KC == 0: any.
template <int KC>
struct DisjointSets {
  struct Node {
    int32_t parent, size;
    double threshold;
  };
  const int64_t K;
  std::vector<Node> nodes;

  DisjointSets(int64_t n, const std::vector<double>& ks)
      : K(KC > 0 ? KC : static_cast<int64_t>(ks.size())), nodes(static_cast<size_t>(n * K)) {
    for (int64_t p = 0; p < n; ++p)
      for (int64_t j = 0; j < K; ++j) nodes[p * K + j] = {static_cast<int32_t>(p), 1, ks[j]};
  }
  Node& at(int32_t x, int64_t j) { return nodes[x * (KC > 0 ? KC : K) + j]; }
  int32_t find(int32_t x, int64_t j) {
    while (at(x, j).parent != x) {
      const int32_t up = at(at(x, j).parent, j).parent;  // path halving
      at(x, j).parent = up;
      x = up;
    }
    return x;
  }
  int32_t join(int32_t a, int32_t b, int64_t j) {  // a, b are roots; the larger set becomes the root
    if (at(a, j).size < at(b, j).size) std::swap(a, b);
    at(b, j).parent = a;
    at(a, j).size += at(b, j).size;
    return a;
  }
};

}  // namespace

namespace {

template <int KC>
std::vector<int32_t> segment_graphs(const SortedEdges& edges, int64_t num_pixels, const std::vector<double>& ks,
                                    const std::vector<int64_t>& min_sizes, int32_t* const* labels) {
  DisjointSets<KC> sets(num_pixels, ks);
  const int64_t K = sets.K;
  const size_t m = edges.size();
  // Edges are visited in weight order, so their pixels are scattered over the image: fetch the
  // union-find entries of upcoming edges (and, closer in, their first threshold's parents).
  constexpr size_t ahead = 16;
  for (size_t i = 0; i < m; ++i) {
#if defined(__GNUC__) || defined(__clang__)
    if (i + 2 * ahead < m) {
      __builtin_prefetch(sets.nodes.data() + edges.a(i + 2 * ahead) * K);
      __builtin_prefetch(sets.nodes.data() + edges.b(i + 2 * ahead) * K);
    }
    if (i + ahead < m) {
      __builtin_prefetch(sets.nodes.data() + sets.at(edges.a(i + ahead), 0).parent * K);
      __builtin_prefetch(sets.nodes.data() + sets.at(edges.b(i + ahead), 0).parent * K);
    }
#endif
    const int32_t pa = edges.a(i), pb = edges.b(i);
    const double w = edges.weight(i);
    for (int64_t j = 0; j < K; ++j) {
      const int32_t a = sets.find(pa, j), b = sets.find(pb, j);
      if (a == b) continue;
      if (w <= sets.at(a, j).threshold && w <= sets.at(b, j).threshold) {
        const int32_t root = sets.join(a, b, j);
        sets.at(root, j).threshold = w + ks[j] / sets.at(root, j).size;
      }
    }
  }
  // Second pass: only edges touching a component smaller than min_size can join anything
  // (components only grow), so each pixel first gets a bit per threshold whose component is small,
  // and one scan of the edges serves up to 8 thresholds, skipping edges without a bit cheaply.
  std::vector<uint8_t> small(static_cast<size_t>(num_pixels));
  for (int64_t first = 0; first < K; first += 8) {
    const int64_t last = std::min<int64_t>(K, first + 8);
    std::fill(small.begin(), small.end(), uint8_t{0});
    uint8_t any = 0;
    for (int64_t j = first; j < last; ++j) {
      const uint8_t bit = static_cast<uint8_t>(1u << (j - first));
      for (int64_t p = 0; p < num_pixels; ++p)
        if (sets.at(sets.find(static_cast<int32_t>(p), j), j).size < min_sizes[j]) small[p] |= bit;
      any |= bit;
    }
    for (size_t i = 0; any && i < m; ++i) {
      const int32_t pa = edges.a(i), pb = edges.b(i);
      const unsigned flags = small[pa] | small[pb];
      if (!flags) continue;
      for (int64_t j = first; j < last; ++j) {
        if (!(flags >> (j - first) & 1u)) continue;
        const int32_t a = sets.find(pa, j), b = sets.find(pb, j);
        if (a != b && (sets.at(a, j).size < min_sizes[j] || sets.at(b, j).size < min_sizes[j])) sets.join(a, b, j);
      }
    }
  }
  std::vector<int32_t> counts(static_cast<size_t>(K));
  std::vector<int32_t> label_of_root(static_cast<size_t>(num_pixels));
  for (int64_t j = 0; j < K; ++j) {
    std::fill(label_of_root.begin(), label_of_root.end(), -1);
    int32_t count = 0;
    for (int64_t p = 0; p < num_pixels; ++p) {
      const int32_t root = sets.find(static_cast<int32_t>(p), j);
      if (label_of_root[root] < 0) label_of_root[root] = count++;
      labels[j][p] = label_of_root[root];
    }
    counts[j] = count;
  }
  return counts;
}

}  // namespace

std::vector<int32_t> segment_graph(const SortedEdges& edges, int64_t num_pixels, const std::vector<double>& ks,
                                   const std::vector<int64_t>& min_sizes, int32_t* const* labels) {
  switch (ks.size()) {
    case 1: return segment_graphs<1>(edges, num_pixels, ks, min_sizes, labels);
    case 2: return segment_graphs<2>(edges, num_pixels, ks, min_sizes, labels);
    case 4: return segment_graphs<4>(edges, num_pixels, ks, min_sizes, labels);
    default: return segment_graphs<0>(edges, num_pixels, ks, min_sizes, labels);
  }
}

int32_t segment_graph(const SortedEdges& edges, int64_t num_pixels, double k, int64_t min_size,
                      int32_t* labels) {
  return segment_graph(edges, num_pixels, std::vector<double>{k}, std::vector<int64_t>{min_size}, &labels)[0];
}

int32_t felzenszwalb(const uint8_t* image, int64_t h, int64_t w, int channels, double k,
                     double sigma, int64_t min_size, int32_t* labels) {
  const int64_t n = h * w;
  if (n >= (int64_t{1} << 30)) throw std::invalid_argument("felzenszwalb: image has too many pixels");
  std::vector<float> planes(static_cast<size_t>(channels * n)), smooth(planes.size());
  for (int64_t p = 0; p < n; ++p)
    for (int c = 0; c < channels; ++c) planes[c * n + p] = image[p * channels + c];
  smooth_planes(planes.data(), channels, h, w, sigma, smooth.data());
  const SortedEdges edges = sorted_grid_graph(smooth.data(), channels, h, w);
  return segment_graph(edges, n, k, min_size, labels);
}

}  // namespace detkit
