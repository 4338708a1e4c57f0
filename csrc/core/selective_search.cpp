#include "core/selective_search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <unordered_set>

#include "core/parallel.h"
#include "core/segmentation.h"
#include "core/sort.h"

namespace detkit {

namespace {

constexpr int kColourBins = 25;
constexpr int kOrientations = 8;
constexpr int kTextureBins = 10;

inline uint8_t to_u8(double v) {
  v = std::floor(v + 0.5);
  return static_cast<uint8_t>(v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v));
}

inline double hue(double r, double g, double b, double v, double d) {
  if (d == 0.0) return 0.0;
  double h;
  if (v == r)
    h = (g - b) / d;
  else if (v == g)
    h = 2.0 + (b - r) / d;
  else
    h = 4.0 + (r - g) / d;
  if (h < 0.0) h += 6.0;
  return h * 42.5;  // [0, 6) -> [0, 255)
}

inline double lab_f(double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; }

}  // namespace

int color_space_channels(int color_space) {
  switch (color_space) {
    case kSsHSV:
    case kSsLab:
    case kSsRGI:
      return 3;
    case kSsHue:
    case kSsIntensity:
      return 1;
    default:
      throw std::invalid_argument("unknown colour space");
  }
}

void convert_color(const uint8_t* rgb, int64_t n, int color_space, uint8_t* planes) {
  if (color_space == kSsLab) {
    std::array<double, 256> linear;
    for (int v = 0; v < 256; ++v) {
      const double c = v / 255.0;
      linear[v] = c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    }
    for (int64_t p = 0; p < n; ++p) {
      const double r = linear[rgb[3 * p]], g = linear[rgb[3 * p + 1]], b = linear[rgb[3 * p + 2]];
      const double x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456;
      const double y = 0.212671 * r + 0.715160 * g + 0.072169 * b;
      const double z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754;
      const double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
      planes[p] = to_u8((116.0 * fy - 16.0) * 255.0 / 100.0);
      planes[n + p] = to_u8(500.0 * (fx - fy) + 128.0);
      planes[2 * n + p] = to_u8(200.0 * (fy - fz) + 128.0);
    }
    return;
  }
  for (int64_t p = 0; p < n; ++p) {
    const double r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
    const double v = std::max(std::max(r, g), b), d = v - std::min(std::min(r, g), b);
    const double s = r + g + b;
    switch (color_space) {
      case kSsHSV:
        planes[p] = to_u8(hue(r, g, b, v, d));
        planes[n + p] = v > 0.0 ? to_u8(d * 255.0 / v) : 0;
        planes[2 * n + p] = static_cast<uint8_t>(v);
        break;
      case kSsRGI:
        planes[p] = s > 0.0 ? to_u8(r * 255.0 / s) : 0;
        planes[n + p] = s > 0.0 ? to_u8(g * 255.0 / s) : 0;
        planes[2 * n + p] = to_u8(s / 3.0);
        break;
      case kSsHue:
        planes[p] = to_u8(hue(r, g, b, v, d));
        break;
      case kSsIntensity:
        planes[p] = to_u8(s / 3.0);
        break;
      default:
        throw std::invalid_argument("unknown colour space");
    }
  }
}

namespace {

// The eight oriented derivatives at one pixel: directions k * 45 degrees (positive part taken by
// the caller), computed branch-free so the per-pixel loops vectorise.
inline void oriented(double gx, double gy, double* r) {
  const double s = 0.70710678118654757;  // sqrt(0.5), correctly rounded
  r[0] = gx;
  r[1] = (gx + gy) * s;
  r[2] = gy;
  r[3] = (gy - gx) * s;
  r[4] = -gx;
  r[5] = -(gx + gy) * s;
  r[6] = -gy;
  r[7] = (gx - gy) * s;
}

}  // namespace

void texture_bins(const uint8_t* planes, int channels, int64_t h, int64_t w, uint8_t* out) {
  const int64_t n = h * w;
  const std::vector<double> g = gaussian_kernel(1.0, false), dg = gaussian_kernel(1.0, true);
  std::vector<double> plane(static_cast<size_t>(n)), gx(plane.size()), gy(plane.size());
  const int stride = kOrientations * channels;
  for (int c = 0; c < channels; ++c) {
    for (int64_t p = 0; p < n; ++p) plane[p] = planes[c * n + p];
    separable_filter(plane.data(), h, w, dg, g, gx.data());
    separable_filter(plane.data(), h, w, g, dg, gy.data());
    std::array<double, kOrientations> top{}, r;
    for (int64_t p = 0; p < n; ++p) {
      oriented(gx[p], gy[p], r.data());
      for (int o = 0; o < kOrientations; ++o) top[o] = std::max(top[o], r[o]);
    }
    std::array<double, kOrientations> scale;  // bins are (int)(r * 10 / top); top == 0: all bin 0
    for (int o = 0; o < kOrientations; ++o) scale[o] = top[o] > 0.0 ? top[o] : 1.0;
    for (int64_t p = 0; p < n; ++p) {
      oriented(gx[p], gy[p], r.data());
      uint8_t* dst = out + p * stride + c * kOrientations;
      for (int o = 0; o < kOrientations; ++o) {
        const double v = std::max(0.0, r[o]) * 10.0 / scale[o];
        dst[o] = static_cast<uint8_t>(std::min(static_cast<double>(kTextureBins - 1), v));
      }
    }
  }
}

SplitMix64::SplitMix64(uint64_t seed, uint64_t stream)
    : state(seed ^ (0x9E3779B97F4A7C15ull * (stream + 1))) {}

double SplitMix64::uniform() {
  state += 0x9E3779B97F4A7C15ull;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>((z >> 11) + 1) * (1.0 / 9007199254740992.0);
}

namespace {

// Per colour space: what every (k, strategy) of it shares.
struct ColourSpaceData {
  int channels = 0;
  SortedEdges edges;
  std::vector<uint8_t> colour_bins;   // n * channels, pixel-major
  std::vector<uint8_t> texture_bins;  // n * 8 * channels, pixel-major
};

// Per (colour space, k): the segmentation and its initial regions.
struct InitialRegions {
  std::vector<int32_t> labels;
  int32_t count = 0;
  std::vector<int64_t> size;
  std::vector<int32_t> boxes;    // 4 per region
  std::vector<float> colour;     // count * colour_len, L1-normalised
  std::vector<float> texture;    // count * texture_len, L1-normalised
  std::vector<int32_t> pairs;    // adjacent pairs (a < b), 2 per pair, sorted
};

void build_initial(const ColourSpaceData& cs, int64_t h, int64_t w, double k, bool colour, bool texture,
                   InitialRegions& out) {
  const int64_t n = h * w;
  out.labels.resize(static_cast<size_t>(n));
  out.count = segment_graph(cs.edges, n, k, static_cast<int64_t>(std::floor(k)), out.labels.data());
  const int32_t m = out.count;
  const int ch = cs.channels;
  const int clen = kColourBins * ch, tlen = kTextureBins * kOrientations * ch;
  out.size.assign(m, 0);
  out.boxes.resize(4 * static_cast<size_t>(m));
  for (int32_t r = 0; r < m; ++r) {
    out.boxes[4 * r] = static_cast<int32_t>(w);
    out.boxes[4 * r + 1] = static_cast<int32_t>(h);
    out.boxes[4 * r + 2] = 0;
    out.boxes[4 * r + 3] = 0;
  }
  std::vector<uint32_t> ccount(colour ? static_cast<size_t>(m) * clen : 0);
  std::vector<uint32_t> tcount(texture ? static_cast<size_t>(m) * tlen : 0);
  std::vector<uint64_t> keys;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t p = y * w + x;
      const int32_t r = out.labels[p];
      ++out.size[r];
      int32_t* box = &out.boxes[4 * r];
      box[0] = std::min<int32_t>(box[0], static_cast<int32_t>(x));
      box[1] = std::min<int32_t>(box[1], static_cast<int32_t>(y));
      box[2] = std::max<int32_t>(box[2], static_cast<int32_t>(x + 1));
      box[3] = std::max<int32_t>(box[3], static_cast<int32_t>(y + 1));
      if (colour) {
        uint32_t* hist = &ccount[static_cast<size_t>(r) * clen];
        for (int c = 0; c < ch; ++c) ++hist[c * kColourBins + cs.colour_bins[p * ch + c]];
      }
      if (texture) {
        uint32_t* hist = &tcount[static_cast<size_t>(r) * tlen];
        const uint8_t* bins = &cs.texture_bins[p * kOrientations * ch];
        for (int j = 0; j < kOrientations * ch; ++j) ++hist[j * kTextureBins + bins[j]];
      }
      // 8-connected neighbours not yet visited from their side: right, down-left, down, down-right.
      const auto link = [&](int64_t q) {
        const int32_t s = out.labels[q];
        if (s != r) keys.push_back((static_cast<uint64_t>(std::min(r, s)) << 32) | static_cast<uint32_t>(std::max(r, s)));
      };
      if (x + 1 < w) link(p + 1);
      if (y + 1 < h) {
        if (x > 0) link(p + w - 1);
        link(p + w);
        if (x + 1 < w) link(p + w + 1);
      }
    }
  }
  const auto normalise = [&](const std::vector<uint32_t>& counts, int len, int per_pixel, std::vector<float>& hist) {
    hist.resize(counts.size());
    for (int32_t r = 0; r < m; ++r) {
      const float total = static_cast<float>(out.size[r] * per_pixel);
      for (int i = 0; i < len; ++i)
        hist[static_cast<size_t>(r) * len + i] = static_cast<float>(counts[static_cast<size_t>(r) * len + i]) / total;
    }
  };
  if (colour) normalise(ccount, clen, ch, out.colour);
  if (texture) normalise(tcount, tlen, kOrientations * ch, out.texture);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  out.pairs.resize(2 * keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    out.pairs[2 * i] = static_cast<int32_t>(keys[i] >> 32);
    out.pairs[2 * i + 1] = static_cast<int32_t>(keys[i] & 0xffffffffu);
  }
}

// Histogram intersection; the float minima are summed exactly in double (4 partial sums).
inline double intersection(const float* a, const float* b, int len) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int i = 0;
  for (; i + 4 <= len; i += 4) {
    s0 += std::min(a[i], b[i]);
    s1 += std::min(a[i + 1], b[i + 1]);
    s2 += std::min(a[i + 2], b[i + 2]);
    s3 += std::min(a[i + 3], b[i + 3]);
  }
  for (; i < len; ++i) s0 += std::min(a[i], b[i]);
  return (s0 + s1) + (s2 + s3);
}

struct Candidate {
  double similarity;
  int32_t a, b;
};

// Max-heap order: higher similarity first, then the smaller (a, b).
struct CandidateLess {
  bool operator()(const Candidate& x, const Candidate& y) const {
    if (x.similarity != y.similarity) return x.similarity < y.similarity;
    if (x.a != y.a) return x.a > y.a;
    return x.b > y.b;
  }
};

void group(const InitialRegions& init, int channels, int strategy, int64_t image_size, Hierarchy& out) {
  const int32_t n = init.count;
  const int32_t total = n > 0 ? 2 * n - 1 : 0;
  const bool use_c = strategy & kSsColour, use_t = strategy & kSsTexture;
  const int clen = use_c ? kColourBins * channels : 0;
  const int tlen = use_t ? kTextureBins * kOrientations * channels : 0;
  const int dim = clen + tlen;
  std::vector<float> hist(static_cast<size_t>(total) * dim);
  for (int32_t r = 0; r < n; ++r) {
    float* dst = &hist[static_cast<size_t>(r) * dim];
    if (use_c) std::copy_n(&init.colour[static_cast<size_t>(r) * clen], clen, dst);
    if (use_t) std::copy_n(&init.texture[static_cast<size_t>(r) * tlen], tlen, dst + clen);
  }
  std::vector<int64_t> size(init.size);
  size.resize(total);
  std::vector<int32_t>& boxes = out.boxes;
  boxes.assign(init.boxes.begin(), init.boxes.end());
  boxes.resize(4 * static_cast<size_t>(total));
  const double area = static_cast<double>(image_size);

  const auto similarity = [&](int32_t a, int32_t b) {
    const float* ha = &hist[static_cast<size_t>(a) * dim];
    const float* hb = &hist[static_cast<size_t>(b) * dim];
    double s = 0.0;
    if (use_c) s += intersection(ha, hb, clen);
    if (use_t) s += intersection(ha + clen, hb + clen, tlen);
    if (strategy & kSsSize) s += 1.0 - static_cast<double>(size[a] + size[b]) / area;
    if (strategy & kSsFill) {
      const int32_t* ba = &boxes[4 * static_cast<size_t>(a)];
      const int32_t* bb = &boxes[4 * static_cast<size_t>(b)];
      const int64_t bw = std::max(ba[2], bb[2]) - std::min(ba[0], bb[0]);
      const int64_t bh = std::max(ba[3], bb[3]) - std::min(ba[1], bb[1]);
      s += 1.0 - static_cast<double>(bw * bh - size[a] - size[b]) / area;
    }
    return s;
  };

  std::vector<std::vector<int32_t>> neighbours(total);
  std::vector<Candidate> heap;
  heap.reserve(init.pairs.size());
  for (size_t i = 0; i < init.pairs.size(); i += 2) {
    const int32_t a = init.pairs[i], b = init.pairs[i + 1];
    neighbours[a].push_back(b);
    neighbours[b].push_back(a);
    heap.push_back({similarity(a, b), a, b});
  }
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateLess> queue(CandidateLess{}, std::move(heap));
  std::vector<char> alive(total, 0);
  std::fill(alive.begin(), alive.begin() + n, 1);
  std::vector<int32_t> mark(total, -1);
  int32_t next = n;
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    if (!alive[top.a] || !alive[top.b]) continue;
    const int32_t a = top.a, b = top.b, t = next++;
    out.merges.push_back(a);
    out.merges.push_back(b);
    out.similarity.push_back(top.similarity);
    size[t] = size[a] + size[b];
    const float fa = static_cast<float>(size[a]), fb = static_cast<float>(size[b]);
    const float ft = static_cast<float>(size[t]);
    const float* ha = &hist[static_cast<size_t>(a) * dim];
    const float* hb = &hist[static_cast<size_t>(b) * dim];
    float* ht = &hist[static_cast<size_t>(t) * dim];
    for (int i = 0; i < dim; ++i) ht[i] = (fa * ha[i] + fb * hb[i]) / ft;
    int32_t* bt = &boxes[4 * static_cast<size_t>(t)];
    const int32_t* ba = &boxes[4 * static_cast<size_t>(a)];
    const int32_t* bb = &boxes[4 * static_cast<size_t>(b)];
    bt[0] = std::min(ba[0], bb[0]);
    bt[1] = std::min(ba[1], bb[1]);
    bt[2] = std::max(ba[2], bb[2]);
    bt[3] = std::max(ba[3], bb[3]);
    alive[a] = alive[b] = 0;
    alive[t] = 1;
    mark[a] = mark[b] = t;
    std::vector<int32_t>& nt = neighbours[t];
    for (const int32_t side : {a, b}) {
      for (const int32_t r : neighbours[side]) {
        if (!alive[r] || mark[r] == t) continue;
        mark[r] = t;
        nt.push_back(r);
      }
      std::vector<int32_t>().swap(neighbours[side]);
    }
    for (const int32_t r : nt) {
      neighbours[r].push_back(t);
      queue.push({similarity(r, t), r, t});
    }
  }
  const int32_t regions = next;
  boxes.resize(4 * static_cast<size_t>(regions));
  out.num_initial = n;
  out.priority.resize(regions);
}

}  // namespace

SelectiveSearchResult selective_search(const uint8_t* rgb, int64_t h, int64_t w,
                                       const SelectiveSearchOptions& opt) {
  const int64_t n = h * w;
  if (n <= 0) throw std::invalid_argument("selective_search: empty image");
  if (n >= (int64_t{1} << 30)) throw std::invalid_argument("selective_search: image has too many pixels");
  int uses = 0;
  for (int s : opt.strategies) uses |= s;
  const bool colour = uses & kSsColour, texture = uses & kSsTexture;
  const int64_t num_cs = static_cast<int64_t>(opt.color_spaces.size());
  const int64_t num_k = static_cast<int64_t>(opt.ks.size());
  const int64_t num_s = static_cast<int64_t>(opt.strategies.size());

  std::vector<ColourSpaceData> spaces(num_cs);
  parallel_for(num_cs, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      ColourSpaceData& cs = spaces[i];
      const int cspace = opt.color_spaces[i];
      cs.channels = color_space_channels(cspace);
      std::vector<uint8_t> planes(static_cast<size_t>(cs.channels * n));
      convert_color(rgb, n, cspace, planes.data());
      std::vector<double> values(planes.begin(), planes.end()), smooth(values.size());
      smooth_planes(values.data(), cs.channels, h, w, opt.sigma, smooth.data());
      cs.edges = sorted_grid_graph(smooth.data(), cs.channels, h, w);
      if (colour) {
        cs.colour_bins.resize(planes.size());
        for (int64_t p = 0; p < n; ++p)
          for (int c = 0; c < cs.channels; ++c)
            cs.colour_bins[p * cs.channels + c] = static_cast<uint8_t>(planes[c * n + p] * kColourBins / 256);
      }
      if (texture) {
        cs.texture_bins.resize(static_cast<size_t>(n) * kOrientations * cs.channels);
        texture_bins(planes.data(), cs.channels, h, w, cs.texture_bins.data());
      }
    }
  });

  std::vector<InitialRegions> initial(num_cs * num_k);
  parallel_for(num_cs * num_k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      build_initial(spaces[i / num_k], h, w, opt.ks[i % num_k], colour, texture, initial[i]);
  });

  const int64_t num_h = num_cs * num_k * num_s;
  std::vector<Hierarchy> hierarchies(num_h);
  parallel_for(num_h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Hierarchy& hier = hierarchies[i];
      const int64_t seg = i / num_s;
      hier.color_space = opt.color_spaces[seg / num_k];
      hier.k = opt.ks[seg % num_k];
      hier.strategy = opt.strategies[i % num_s];
      hier.segmentation = static_cast<int32_t>(seg);
      group(initial[seg], spaces[seg / num_k].channels, hier.strategy, n, hier);
      SplitMix64 rng(opt.seed, static_cast<uint64_t>(i));
      const size_t regions = hier.priority.size();
      for (size_t r = 0; r < regions; ++r) hier.priority[r] = static_cast<double>(regions - r) * rng.uniform();
    }
  });

  // Rank all regions of all hierarchies by priority (stable), then drop small and repeated boxes.
  std::vector<uint64_t> keys;
  std::vector<int64_t> items;
  for (int64_t i = 0; i < num_h; ++i) {
    const Hierarchy& hier = hierarchies[i];
    for (size_t r = 0; r < hier.priority.size(); ++r) {
      const int32_t* b = &hier.boxes[4 * r];
      if (b[2] - b[0] < opt.min_box_size || b[3] - b[1] < opt.min_box_size) continue;
      keys.push_back(ascending_key(hier.priority[r]));
      items.push_back((i << 32) | static_cast<int64_t>(r));
    }
  }
  stable_radix_sort(keys, items);
  SelectiveSearchResult result;
  struct BoxHash {
    size_t operator()(const std::array<int32_t, 4>& b) const {
      uint64_t x = static_cast<uint32_t>(b[0]) | (static_cast<uint64_t>(static_cast<uint32_t>(b[1])) << 32);
      uint64_t y = static_cast<uint32_t>(b[2]) | (static_cast<uint64_t>(static_cast<uint32_t>(b[3])) << 32);
      x ^= y * 0x9E3779B97F4A7C15ull + (x << 6) + (x >> 2);
      return static_cast<size_t>(x * 0xBF58476D1CE4E5B9ull);
    }
  };
  std::unordered_set<std::array<int32_t, 4>, BoxHash> seen;
  seen.reserve(items.size());
  for (const int64_t item : items) {
    if (opt.max_proposals >= 0 && static_cast<int64_t>(result.boxes.size() / 4) >= opt.max_proposals) break;
    const int32_t* b = &hierarchies[item >> 32].boxes[4 * static_cast<size_t>(item & 0xffffffff)];
    if (!seen.insert({b[0], b[1], b[2], b[3]}).second) continue;
    result.boxes.insert(result.boxes.end(), b, b + 4);
  }
  if (opt.keep_hierarchies) {
    result.hierarchies = std::move(hierarchies);
    result.segmentations.resize(initial.size());
    for (size_t i = 0; i < initial.size(); ++i) result.segmentations[i] = std::move(initial[i].labels);
  }
  return result;
}

}  // namespace detkit
