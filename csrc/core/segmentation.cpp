#include "core/segmentation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/sort.h"

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

// One 1-D correlation pass along rows (step 1, length w) or columns (step w, length h).
void filter_pass(const double* in, int64_t lines, int64_t length, int64_t line_step, int64_t step,
                 const std::vector<double>& k, double* out) {
  const int64_t radius = static_cast<int64_t>(k.size() / 2);
  const int64_t taps = static_cast<int64_t>(k.size());
  for (int64_t line = 0; line < lines; ++line) {
    const double* src = in + line * line_step;
    double* dst = out + line * line_step;
    for (int64_t i = 0; i < length; ++i) {
      double acc = 0.0;
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t j = std::min(std::max(i + t - radius, int64_t{0}), length - 1);
        acc += k[t] * src[j * step];
      }
      dst[i * step] = acc;
    }
  }
}

}  // namespace

void separable_filter(const double* in, int64_t h, int64_t w, const std::vector<double>& kx,
                      const std::vector<double>& ky, double* out) {
  std::vector<double> tmp(static_cast<size_t>(h * w));
  filter_pass(in, h, w, w, 1, kx, tmp.data());
  filter_pass(tmp.data(), w, h, 1, w, ky, out);
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

SortedEdges sorted_grid_graph(const double* planes, int channels, int64_t h, int64_t w) {
  // (dx, dy) of the four edge directions, in listing order.
  static const int dirs[4][2] = {{1, 0}, {0, 1}, {1, 1}, {-1, 1}};
  const int64_t n = h * w;
  std::vector<uint64_t> keys;
  std::vector<int64_t> items;
  keys.reserve(static_cast<size_t>(4 * n));
  items.reserve(static_cast<size_t>(4 * n));
  std::vector<int32_t> ea, eb;
  std::vector<float> ew;
  ea.reserve(static_cast<size_t>(4 * n));
  eb.reserve(static_cast<size_t>(4 * n));
  ew.reserve(static_cast<size_t>(4 * n));
  for (const auto& d : dirs) {
    for (int64_t y = 0; y + d[1] < h; ++y) {
      for (int64_t x = std::max<int64_t>(0, -d[0]); x < w && x + d[0] < w; ++x) {
        const int64_t p = y * w + x, q = (y + d[1]) * w + (x + d[0]);
        double sq = 0.0;
        for (int c = 0; c < channels; ++c) {
          const double diff = planes[c * n + p] - planes[c * n + q];
          sq += diff * diff;
        }
        const float weight = static_cast<float>(std::sqrt(sq));
        keys.push_back(ascending_key(static_cast<double>(weight)));
        items.push_back(static_cast<int64_t>(ea.size()));
        ea.push_back(static_cast<int32_t>(p));
        eb.push_back(static_cast<int32_t>(q));
        ew.push_back(weight);
      }
    }
  }
  stable_radix_sort(keys, items);
  SortedEdges edges;
  const size_t m = items.size();
  edges.a.resize(m);
  edges.b.resize(m);
  edges.weight.resize(m);
  for (size_t i = 0; i < m; ++i) {
    const int64_t e = items[i];
    edges.a[i] = ea[e];
    edges.b[i] = eb[e];
    edges.weight[i] = ew[e];
  }
  return edges;
}

namespace {

struct DisjointSets {
  std::vector<int32_t> parent, size;
  std::vector<double> threshold;

  DisjointSets(int64_t n, double k) : parent(n), size(n, 1), threshold(n, k) {
    for (int64_t i = 0; i < n; ++i) parent[i] = static_cast<int32_t>(i);
  }
  int32_t find(int32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];  // path halving
      x = parent[x];
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
  const size_t m = edges.a.size();
  for (size_t i = 0; i < m; ++i) {
    const int32_t a = sets.find(edges.a[i]), b = sets.find(edges.b[i]);
    const double w = edges.weight[i];
    if (a != b && w <= sets.threshold[a] && w <= sets.threshold[b]) {
      const int32_t root = sets.join(a, b);
      sets.threshold[root] = w + k / sets.size[root];
    }
  }
  for (size_t i = 0; i < m; ++i) {
    const int32_t a = sets.find(edges.a[i]), b = sets.find(edges.b[i]);
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
  if (n >= (int64_t{1} << 31)) throw std::invalid_argument("felzenszwalb: image has too many pixels");
  std::vector<double> planes(static_cast<size_t>(channels * n)), smooth(planes.size());
  for (int64_t p = 0; p < n; ++p)
    for (int c = 0; c < channels; ++c) planes[c * n + p] = image[p * channels + c];
  smooth_planes(planes.data(), channels, h, w, sigma, smooth.data());
  const SortedEdges edges = sorted_grid_graph(smooth.data(), channels, h, w);
  return segment_graph(edges, n, k, min_size, labels);
}

}  // namespace detkit
