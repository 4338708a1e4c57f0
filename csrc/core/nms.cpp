#include "core/nms.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "core/parallel.h"
#include "core/sort.h"

namespace detkit {

namespace {

template <class T>
inline T box_area(const T* b, T offset) {
  return (b[2] - b[0] + offset) * (b[3] - b[1] + offset);
}

// IoU in the operation order of detkit.reference (kept box first in the union sum).
template <class T>
inline T iou_of(const T* a, T area_a, const T* b, T area_b, T offset) {
  const T w = std::min(a[2], b[2]) - std::max(a[0], b[0]) + offset;
  const T h = std::min(a[3], b[3]) - std::max(a[1], b[1]) + offset;
  if (w <= T(0) || h <= T(0)) return T(0);
  const T inter = w * h;
  const T uni = area_a + area_b - inter;
  return uni > T(0) ? inter / uni : T(0);
}

// Uniform grid over `count` contiguous boxes, with cells `cell_scale` times the average box
// size. Boxes are registered either in every cell their extent touches (span mode) or in the one
// cell holding a given point (point mode); a span touching more than kMaxCells cells goes to a
// list that every query scans. Queries visit the boxes registered in the cells of a window.
template <class T>
class BoxGrid {
 public:
  static constexpr int64_t kMaxCells = 64;

  BoxGrid(const T* boxes, int64_t count, T offset, double cell_scale)
      : boxes_(boxes), offset_(offset) {
    if (count == 0) return;
    double min_x = double(boxes[0]), min_y = double(boxes[1]);
    double max_x = double(boxes[2]) + offset, max_y = double(boxes[3]) + offset;
    double sum_w = 0, sum_h = 0;
    for (int64_t k = 0; k < count; ++k) {
      const T* b = boxes + 4 * k;
      min_x = std::min(min_x, double(b[0]));
      min_y = std::min(min_y, double(b[1]));
      max_x = std::max(max_x, double(b[2]) + offset);
      max_y = std::max(max_y, double(b[3]) + offset);
      sum_w += double(b[2] - b[0]) + offset;
      sum_h += double(b[3] - b[1]) + offset;
    }
    origin_x_ = min_x;
    origin_y_ = min_y;
    const double extent_w = std::max(max_x - min_x, 1e-300);
    const double extent_h = std::max(max_y - min_y, 1e-300);
    const double cell_w = std::max(cell_scale * sum_w / double(count), extent_w / 4096.0);
    const double cell_h = std::max(cell_scale * sum_h / double(count), extent_h / 4096.0);
    double nx = std::max(1.0, std::ceil(extent_w / cell_w));
    double ny = std::max(1.0, std::ceil(extent_h / cell_h));
    const double max_cells = 4.0 * double(count) + 16.0;
    if (nx * ny > max_cells) {
      const double shrink = std::sqrt(max_cells / (nx * ny));
      nx = std::max(1.0, std::floor(nx * shrink));
      ny = std::max(1.0, std::floor(ny * shrink));
    }
    nx_ = static_cast<int64_t>(nx);
    ny_ = static_cast<int64_t>(ny);
    inv_w_ = nx / extent_w;
    inv_h_ = ny / extent_h;
    head_.assign(static_cast<size_t>(nx_ * ny_), -1);
  }

  struct Window {
    int64_t x0, x1, y0, y1;
    int64_t cells() const { return (x1 - x0 + 1) * (y1 - y0 + 1); }
  };

  Window window(double x0, double y0, double x1, double y1) const {
    return {cell(x0, origin_x_, inv_w_, nx_), cell(x1, origin_x_, inv_w_, nx_),
            cell(y0, origin_y_, inv_h_, ny_), cell(y1, origin_y_, inv_h_, ny_)};
  }

  // The cells touched by box `pos` (x2 + offset and y2 + offset are its far edges).
  Window span_of(const T* b) const {
    return window(double(b[0]), double(b[1]), double(b[2]) + offset_, double(b[3]) + offset_);
  }

  void insert_span(int64_t pos) {
    const Window w = span_of(boxes_ + 4 * pos);
    if (w.cells() > kMaxCells) {
      large_.push_back(pos);
      return;
    }
    for (int64_t y = w.y0; y <= w.y1; ++y)
      for (int64_t x = w.x0; x <= w.x1; ++x) link(y * nx_ + x, pos);
  }

  void insert_point(int64_t pos, double x, double y) {
    link(cell(y, origin_y_, inv_h_, ny_) * nx_ + cell(x, origin_x_, inv_w_, nx_), pos);
  }

  // The cell holding point (x, y).
  std::pair<int64_t, int64_t> cell_of(double x, double y) const {
    return {cell(x, origin_x_, inv_w_, nx_), cell(y, origin_y_, inv_h_, ny_)};
  }

  // Calls visit(pos) for the large boxes and for each box registered in the cells of w, once per
  // box when `dedupe` (span mode registers a box in several cells; stamp holds one entry per box
  // and `query` must be new for every call). Returns true as soon as a visit does. The cell
  // `first` (inside w) is visited before the others: callers pass the cell most likely to hold a
  // match, so the search usually ends at once.
  template <class Visit>
  bool any_in(const Window& w, bool dedupe, std::vector<int64_t>& stamp, int64_t query,
              std::pair<int64_t, int64_t> first, Visit&& visit) const {
    for (int64_t pos : large_)
      if (visit(pos)) return true;
    auto visit_cell = [&](int64_t x, int64_t y) {
      for (int64_t node = head_[static_cast<size_t>(y * nx_ + x)]; node >= 0;
           node = node_next_[static_cast<size_t>(node)]) {
        const int64_t pos = node_pos_[static_cast<size_t>(node)];
        if (dedupe) {
          if (stamp[static_cast<size_t>(pos)] == query) continue;
          stamp[static_cast<size_t>(pos)] = query;
        }
        if (visit(pos)) return true;
      }
      return false;
    };
    if (visit_cell(first.first, first.second)) return true;
    for (int64_t y = w.y0; y <= w.y1; ++y)
      for (int64_t x = w.x0; x <= w.x1; ++x)
        if ((x != first.first || y != first.second) && visit_cell(x, y)) return true;
    return false;
  }

 private:
  void link(int64_t c, int64_t pos) {
    node_pos_.push_back(pos);
    node_next_.push_back(head_[static_cast<size_t>(c)]);
    head_[static_cast<size_t>(c)] = static_cast<int64_t>(node_pos_.size()) - 1;
  }

  // Truncation equals floor for the positive values it is applied to (std::floor would be a
  // library call on baseline x86-64).
  static int64_t cell(double v, double origin, double inv, int64_t count) {
    const double c = (v - origin) * inv;
    if (!(c > 0)) return 0;
    return c >= double(count - 1) ? count - 1 : static_cast<int64_t>(c);
  }

  const T* boxes_;
  T offset_;
  double origin_x_ = 0, origin_y_ = 0, inv_w_ = 1, inv_h_ = 1;
  int64_t nx_ = 1, ny_ = 1;
  std::vector<int64_t> head_, node_pos_, node_next_, large_;
};

// How far (in units of the candidate's width, resp. height) a kept box's centre can be from the
// candidate's centre when their IoU exceeds t > 0. IoU > t forces the overlap along x to exceed
// t * max(wk, wc), hence t * wc < wk < wc / t and |dx| < (wk + wc) / 2 - t * max(wk, wc), whose
// maximum over wk is (1 - t) * wc for t >= 1/2 and max(1 - t, (1/t - 1) / 2) * wc below.
inline double centre_reach(double t) {
  return t >= 0.5 ? 1.0 - t : std::max(1.0 - t, (1.0 / t - 1.0) / 2.0);
}

// Below this threshold the centre window grows too wide; boxes are then registered by extent.
constexpr double kCentreModeMinThreshold = 0.2;

// Greedy NMS over `count` candidates given in visiting order by their box indices `ids`.
// Appends the positions (0..count-1) of kept candidates to `kept`, at most max_keep (< 0: all).
//
// Kept boxes go into a grid; a candidate is compared only with kept boxes that could exceed the
// threshold with it. For thresholds >= 0.2 a kept box is registered at its centre and the
// candidate looks in a window of centre_reach(t) times its size (plus a margin far above float
// rounding, so the float IoU test decides every borderline case exactly as the reference does);
// for lower thresholds boxes are registered in every cell they cover.
template <class T>
void nms_in_order(const T* boxes, const int64_t* ids, int64_t count, T threshold, T offset,
                  int64_t max_keep, std::vector<int64_t>& kept) {
  if (count == 0 || max_keep == 0) return;
  // Contiguous copy in visiting order: the grid and the IoU loop then read memory sequentially.
  std::vector<T> ordered(static_cast<size_t>(4 * count));
  std::vector<T> area(static_cast<size_t>(count));
  constexpr int64_t kPrefetchDistance = 16;  // the gather by score order misses the cache
  for (int64_t k = 0; k < count; ++k) {
    if (k + kPrefetchDistance < count) __builtin_prefetch(boxes + 4 * ids[k + kPrefetchDistance]);
    std::copy_n(boxes + 4 * ids[k], 4, ordered.data() + 4 * k);
    area[k] = box_area(ordered.data() + 4 * k, offset);
  }
  const bool centre_mode = double(threshold) >= kCentreModeMinThreshold;
  const double reach = centre_mode ? centre_reach(double(threshold)) * 1.01 : 1.0;
  BoxGrid<T> grid(ordered.data(), count, offset, centre_mode ? std::max(reach, 0.05) : 0.5);
  std::vector<int64_t> stamp(centre_mode ? 0 : static_cast<size_t>(count), -1);
  std::vector<int64_t> kept_here;
  for (int64_t k = 0; k < count; ++k) {
    const T* cand = ordered.data() + 4 * k;
    auto suppresses = [&](int64_t pos) {
      return iou_of(ordered.data() + 4 * pos, area[pos], cand, area[k], offset) > threshold;
    };
    typename BoxGrid<T>::Window w;
    double cx = 0, cy = 0;
    if (centre_mode) {
      const double bw = double(cand[2]) - double(cand[0]) + double(offset);
      const double bh = double(cand[3]) - double(cand[1]) + double(offset);
      cx = (double(cand[0]) + double(cand[2]) + double(offset)) / 2;
      cy = (double(cand[1]) + double(cand[3]) + double(offset)) / 2;
      const double margin = 1e-5 * (std::fabs(cx) + std::fabs(cy) + bw + bh);
      const double rx = reach * bw + margin, ry = reach * bh + margin;
      w = grid.window(cx - rx, cy - ry, cx + rx, cy + ry);
    } else {
      w = grid.span_of(cand);
    }
    const bool suppressed =
        w.cells() > BoxGrid<T>::kMaxCells
            ? std::any_of(kept_here.begin(), kept_here.end(), suppresses)
            : grid.any_in(w, !centre_mode, stamp, k, centre_mode ? grid.cell_of(cx, cy) : std::make_pair(w.x0, w.y0), suppresses);
    if (suppressed) continue;
    kept_here.push_back(k);
    if (centre_mode) {
      grid.insert_point(k, cx, cy);
    } else {
      grid.insert_span(k);
    }
    if (static_cast<int64_t>(kept_here.size()) == max_keep) break;
  }
  kept.insert(kept.end(), kept_here.begin(), kept_here.end());
}

// Indices of the candidates passing the score threshold, in visiting order (decreasing score,
// ties by index), cut to pre_nms_top_k.
std::vector<int64_t> ordered_candidates(const double* scores, int64_t n, const NmsOptions& opt) {
  std::vector<int64_t> ids;
  std::vector<uint64_t> keys;
  ids.reserve(static_cast<size_t>(n));
  keys.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (opt.use_score_threshold && !(scores[i] > opt.score_threshold)) continue;
    ids.push_back(i);
    keys.push_back(descending_key(scores[i]));
  }
  stable_radix_sort(keys, ids);
  if (opt.pre_nms_top_k >= 0 && static_cast<int64_t>(ids.size()) > opt.pre_nms_top_k)
    ids.resize(static_cast<size_t>(opt.pre_nms_top_k));
  return ids;
}

}  // namespace

template <class T>
std::vector<int64_t> nms(const T* boxes, const double* scores, int64_t n, const NmsOptions& opt) {
  const std::vector<int64_t> ids = ordered_candidates(scores, n, opt);
  std::vector<int64_t> kept;
  nms_in_order(boxes, ids.data(), static_cast<int64_t>(ids.size()), T(opt.iou_threshold),
               T(opt.offset), opt.max_output, kept);
  for (auto& k : kept) k = ids[static_cast<size_t>(k)];
  return kept;
}

template <class T>
std::vector<int64_t> batched_nms(const T* boxes, const double* scores, const int64_t* idxs, int64_t n,
                                 const NmsOptions& opt) {
  // ranks: candidates in global visiting order. Regroup them by class with a stable sort, so
  // each class's run stays in visiting order, then run NMS per class.
  const std::vector<int64_t> ids = ordered_candidates(scores, n, opt);
  const int64_t count = static_cast<int64_t>(ids.size());
  std::vector<int64_t> ranks(static_cast<size_t>(count));
  std::vector<uint64_t> class_keys(static_cast<size_t>(count));
  for (int64_t r = 0; r < count; ++r) {
    ranks[r] = r;
    class_keys[r] = ascending_key(idxs[ids[r]]);
  }
  stable_radix_sort(class_keys, ranks);
  std::vector<int64_t> starts;
  for (int64_t r = 0; r < count; ++r)
    if (r == 0 || class_keys[r] != class_keys[r - 1]) starts.push_back(r);
  starts.push_back(count);
  const int64_t groups = static_cast<int64_t>(starts.size()) - 1;

  std::vector<int64_t> group_ids(static_cast<size_t>(count));
  for (int64_t r = 0; r < count; ++r) group_ids[r] = ids[ranks[r]];
  std::vector<std::vector<int64_t>> kept_per_group(static_cast<size_t>(std::max<int64_t>(groups, 0)));
  parallel_for(groups, 1, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      const int64_t s = starts[g];
      nms_in_order(boxes, group_ids.data() + s, starts[g + 1] - s, T(opt.iou_threshold),
                   T(opt.offset), opt.max_output, kept_per_group[g]);
      for (auto& pos : kept_per_group[g]) pos = ranks[s + pos];
    }
  });
  // Merge: global ranks sorted ascending are the visiting order across classes.
  std::vector<int64_t> kept_ranks;
  for (const auto& k : kept_per_group) kept_ranks.insert(kept_ranks.end(), k.begin(), k.end());
  std::sort(kept_ranks.begin(), kept_ranks.end());
  if (opt.max_output >= 0 && static_cast<int64_t>(kept_ranks.size()) > opt.max_output)
    kept_ranks.resize(static_cast<size_t>(opt.max_output));
  for (auto& r : kept_ranks) r = ids[static_cast<size_t>(r)];
  return kept_ranks;
}

// The boxes in x1 order, as structure-of-arrays, for soft-NMS's neighbour queries. Only the
// neighbours of selected boxes are ever needed (a fraction of all overlapping pairs), so they are
// found on demand: the boxes that can overlap box s start before s ends and end after s starts.
// Positions after s in x1 order satisfy the first test only for a prefix; positions before s
// satisfy the second for none before the first position whose running maximum of x2 (`reach`)
// gets past s's x1. Rounding is monotone, so both bounds are exact for the overlap test below.
template <class T>
struct SweepIndex {
  std::vector<int64_t> order;  // position -> box index
  std::vector<T> x1, y1, x2, y2, area, reach;

  SweepIndex(const T* boxes, int64_t n, T offset) : order(static_cast<size_t>(n)) {
    std::vector<uint64_t> keys(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      keys[i] = ascending_key(double(boxes[4 * i]));
      order[i] = i;
    }
    stable_radix_sort(keys, order);
    x1.resize(static_cast<size_t>(n));
    y1 = x2 = y2 = area = reach = x1;
    for (int64_t p = 0; p < n; ++p) {
      const T* b = boxes + 4 * order[p];
      x1[p] = b[0];
      y1[p] = b[1];
      x2[p] = b[2];
      y2[p] = b[3];
      area[p] = box_area(b, offset);
      reach[p] = p == 0 ? b[2] : std::max(reach[p - 1], b[2]);
    }
  }

  // The positions that may overlap position s with positive width: [begin, end).
  std::pair<int64_t, int64_t> x_window(int64_t s, T offset) const {
    const T sx1 = x1[s], sx2 = x2[s];
    const int64_t begin = std::partition_point(reach.begin(), reach.begin() + s,
                                               [&](T r) { return !(r - sx1 + offset > T(0)); }) -
                          reach.begin();
    const int64_t end = std::partition_point(x1.begin() + s, x1.end(),
                                             [&](T bx1) { return sx2 - bx1 + offset > T(0); }) -
                        x1.begin();
    return {begin, end};
  }
};

template <class T>
void soft_nms(const T* boxes, const double* scores, const int64_t* idxs, int64_t n,
              const SoftNmsOptions& opt, std::vector<int64_t>& keep,
              std::vector<double>& kept_scores) {
  keep.clear();
  kept_scores.clear();
  if (n == 0 || opt.max_output == 0) return;
  const T offset = T(opt.offset);
  const bool linear = opt.method == SoftNmsMethod::kLinear;
  // Only pairs that decay matter: IoU > 0 (gaussian), IoU > threshold (linear).
  const T min_iou = linear ? T(opt.iou_threshold) : T(0);
  const SweepIndex<T> index(boxes, n, offset);
  const std::vector<int64_t>& order = index.order;

  // Per sweep position: current score (decays multiply in double, as the reference does).
  std::vector<double> current(static_cast<size_t>(n));
  std::vector<unsigned char> alive(static_cast<size_t>(n), 1), overlaps(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) current[p] = scores[order[p]];
  const T* __restrict x1 = index.x1.data();
  const T* __restrict y1 = index.y1.data();
  const T* __restrict x2 = index.x2.data();
  const T* __restrict y2 = index.y2.data();
  const unsigned char* __restrict alive_in = alive.data();
  unsigned char* __restrict overlap_out = overlaps.data();
  // Max-heap on (score, -box index) holding an upper bound of each live box's current score
  // (scores only decrease). A popped entry that is out of date goes back with the current score;
  // an up-to-date one is the true maximum, since every other entry bounds its box from above.
  struct Entry {
    double score;
    int64_t index;
    int64_t pos;
  };
  auto lower = [](const Entry& a, const Entry& b) {
    return a.score < b.score || (a.score == b.score && a.index > b.index);
  };
  std::vector<Entry> entries(static_cast<size_t>(n));
  for (int64_t p = 0; p < n; ++p) entries[p] = {current[p], order[p], p};
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower)> heap(lower, std::move(entries));
  while (!heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    const int64_t s = top.pos;
    if (!alive[s]) continue;
    if (top.score != current[s]) {
      heap.push({current[s], top.index, s});
      continue;
    }
    if (current[s] < opt.score_threshold) break;  // every remaining box scores lower still
    alive[s] = 0;
    keep.push_back(top.index);
    kept_scores.push_back(current[s]);
    if (opt.max_output >= 0 && static_cast<int64_t>(keep.size()) == opt.max_output) break;

    const auto [begin, end] = index.x_window(s, offset);
    const T sx1 = x1[s], sy1 = y1[s], sx2 = x2[s], sy2 = y2[s];
    // The same positive-width-and-height test as iou_of, branch-free so it vectorises (local
    // restrict pointers: a char store could otherwise alias the coordinate arrays).
    for (int64_t q = begin; q < end; ++q) {
      const T w = (x2[q] < sx2 ? x2[q] : sx2) - (x1[q] > sx1 ? x1[q] : sx1) + offset;
      const T h = (y2[q] < sy2 ? y2[q] : sy2) - (y1[q] > sy1 ? y1[q] : sy1) + offset;
      overlap_out[q] = (w > T(0)) & (h > T(0)) & alive_in[q];
    }
    const T box_s[4] = {sx1, sy1, sx2, sy2};
    for (int64_t q = begin; q < end; ++q) {
      if (!overlaps[q] || (idxs != nullptr && idxs[order[q]] != idxs[top.index])) continue;
      const T box_q[4] = {x1[q], y1[q], x2[q], y2[q]};
      const T value = iou_of(box_s, index.area[s], box_q, index.area[q], offset);
      if (!(value > min_iou)) continue;
      const double iou = double(value);
      current[q] *= linear ? 1.0 - iou : std::exp(-(iou * iou) / opt.sigma);
      if (current[q] < opt.score_threshold) alive[q] = 0;
    }
  }
}

#define DETKIT_INSTANTIATE_NMS(T)                                                              \
  template std::vector<int64_t> nms<T>(const T*, const double*, int64_t, const NmsOptions&);   \
  template std::vector<int64_t> batched_nms<T>(const T*, const double*, const int64_t*, int64_t, \
                                               const NmsOptions&);                               \
  template void soft_nms<T>(const T*, const double*, const int64_t*, int64_t,                   \
                            const SoftNmsOptions&, std::vector<int64_t>&, std::vector<double>&);
DETKIT_INSTANTIATE_NMS(float)
DETKIT_INSTANTIATE_NMS(double)
#undef DETKIT_INSTANTIATE_NMS

}  // namespace detkit
