#include "core/coco_eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "core/parallel.h"
#include "core/sort.h"

namespace detkit {

namespace {

// Stable counting sort of rows by cell; rows with cell < 0 are dropped.
void group_by_cell(const int64_t* cell, int64_t n, int64_t num_cells, std::vector<int64_t>& offsets,
                   Column<int64_t>& rows) {
  offsets.assign(num_cells + 1, 0);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t c = cell[r];
    if (c >= num_cells) throw std::invalid_argument("cell index out of range");
    if (c >= 0) ++offsets[c + 1];
  }
  for (int64_t c = 0; c < num_cells; ++c) offsets[c + 1] += offsets[c];
  rows.resize(offsets[num_cells]);  // every entry is written below
  std::vector<int64_t> fill(offsets.begin(), offsets.end() - 1);
  for (int64_t r = 0; r < n; ++r)
    if (cell[r] >= 0) rows[fill[cell[r]]++] = r;
}

// IoU of xywh boxes exactly as pycocotools' bbIou: (D x G) row-major, crowd gts use the detection
// area as the union.
void box_overlaps(const double* dt_box, const int64_t* dt_rows, int64_t d_n, const double* gt_box,
                  const int64_t* gt_rows, const uint8_t* iscrowd, int64_t g_n, double* out) {
  for (int64_t g = 0; g < g_n; ++g) {
    const double* G = gt_box + 4 * gt_rows[g];
    const double ga = G[2] * G[3];
    const bool crowd = iscrowd[gt_rows[g]] != 0;
    for (int64_t d = 0; d < d_n; ++d) {
      const double* D = dt_box + 4 * dt_rows[d];
      const double da = D[2] * D[3];
      double& o = out[d * g_n + g];
      o = 0;
      const double w = std::fmin(D[2] + D[0], G[2] + G[0]) - std::fmax(D[0], G[0]);
      if (w <= 0) continue;
      const double h = std::fmin(D[3] + D[1], G[3] + G[1]) - std::fmax(D[1], G[1]);
      if (h <= 0) continue;
      const double i = w * h;
      const double u = crowd ? da : da + ga - i;
      o = i / u;
    }
  }
}

// A keypoint box (its extent) and whether all its coordinates are finite.
struct KeypointExtent {
  double x0, x1, y0, y1;
  bool ok;
};

// A pair whose OKS is computed: its slot in the output and its terms' range in the scratch.
struct OksPair {
  int64_t out, start, count;
};

// Per-thread buffers of oks_overlaps, reused across cells.
struct OksScratch {
  std::vector<int64_t> used;         // the gt's keypoints in its OKS (visible ones, or all)
  std::vector<double> far, d2;       // per used keypoint: far bound, squared distance (one pair)
  std::vector<double> neg_e, terms;  // the cell's computed pairs' -e terms, then their exp
  std::vector<KeypointExtent> dt_extent;
  std::vector<OksPair> pairs;
};

// Object keypoint similarity exactly as pycocotools' computeOks (D x G): the -e values of every
// computed pair are gathered first and go through `exp` in one call (numpy's loop, see ExpLoop),
// then each pair's terms are summed in numpy's order. Each gt's keypoints in its OKS are listed
// once, so the per-pair loops do not branch on visibility (random flags mispredict).
//
// below > 0 (evaluation without details): a pair whose OKS is certainly below `below` is stored as
// 0 without its exponentials (it cannot match at any threshold >= below). The test is a cheap
// upper bound: a term with e >= kFar contributes at most exp(-kFar) < kFarTerm, any other term at
// most 1. e >= kFar is tested as d^2 >= kFar * var * 2 * scale, inflated by a relative 1e-9 so
// rounding can never make it claim a near keypoint far.
void oks_overlaps(const CocoGtColumns& gt, const int64_t* gt_rows, int64_t g_n, const CocoDtColumns& dt,
                  const int64_t* dt_rows, int64_t d_n, const std::vector<double>& vars, double below,
                  const ExpLoop& exp, OksScratch& scratch, double* out) {
  constexpr double kFar = 3.0, kFarTerm = 0.0498;  // exp(-3) = 0.049787...
  const int64_t k = static_cast<int64_t>(vars.size());
  const double eps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  std::vector<int64_t>& used = scratch.used;
  std::vector<double>&far = scratch.far, &d2 = scratch.d2, &neg_e = scratch.neg_e;
  std::vector<OksPair>& pairs = scratch.pairs;
  far.resize(k);
  d2.resize(k);
  neg_e.clear();
  pairs.clear();
  const bool vars_ok = std::all_of(vars.begin(), vars.end(), [](double v) { return v > 0 && std::isfinite(v); });
  // Whole pairs first: the gap between the detection's keypoint box and the gt's (visible
  // keypoints, or enlarged box) bounds every keypoint's distance from below, so when it alone
  // is far for the largest variance, every term is, and the pair is dropped without the
  // per-keypoint test (which would find the same, bit for bit: the same rounded operations on
  // smaller-or-equal gaps).
  auto extent = [](const double* kp, const int64_t* js, int64_t n) {
    KeypointExtent b{HUGE_VAL, -HUGE_VAL, HUGE_VAL, -HUGE_VAL, true};
    for (int64_t u = 0; u < n; ++u) {
      const double x = kp[3 * js[u]], y = kp[3 * js[u] + 1];
      b.ok &= std::isfinite(x) && std::isfinite(y);
      b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x), b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
    }
    return b;
  };
  const bool pair_bound = below > 0 && vars_ok && k > 0;
  std::vector<KeypointExtent>& dt_extent = scratch.dt_extent;
  dt_extent.resize(pair_bound ? d_n : 0);
  used.resize(k);
  if (pair_bound) {
    std::iota(used.begin(), used.end(), int64_t{0});
    for (int64_t d = 0; d < d_n; ++d) dt_extent[d] = extent(dt.keypoints + 3 * k * dt_rows[d], used.data(), k);
  }
  for (int64_t g = 0; g < g_n; ++g) {
    const int64_t gr = gt_rows[g];
    const double* kg = gt.keypoints + 3 * k * gr;
    int64_t n_used = 0;
    for (int64_t j = 0; j < k; ++j) {  // (branch-free: the flags are random)
      used[n_used] = j;
      n_used += kg[3 * j + 2] > 0;
    }
    const bool visible = n_used > 0;
    if (!visible) {
      std::iota(used.begin(), used.end(), int64_t{0});
      n_used = k;
    }
    const int64_t* js = used.data();
    const double* bb = gt.bbox + 4 * gr;
    const double x0 = bb[0] - bb[2], x1 = bb[0] + bb[2] * 2;
    const double y0 = bb[1] - bb[3], y1 = bb[1] + bb[3] * 2;
    const double scale = gt.area[gr] + eps;
    const bool bound = below > 0 && vars_ok && scale > 0 && std::isfinite(scale);
    double far_all = 0;
    if (bound)
      for (int64_t u = 0; u < n_used; ++u)
        far_all = std::max(far_all, far[u] = kFar * vars[js[u]] * 2 * scale * (1 + 1e-9));
    const KeypointExtent ge =
        visible ? extent(kg, js, n_used) : KeypointExtent{x0, x1, y0, y1, std::isfinite(x0 + x1 + y0 + y1)};
    // the per-keypoint test's verdict when no keypoint is near
    const double rejected_below = below * static_cast<double>(n_used) * (1 - 1e-9);
    const bool all_far_rejects = 0.0 + kFarTerm * static_cast<double>(n_used) < rejected_below;
    const bool gt_bound = bound && pair_bound && ge.ok && all_far_rejects;
    for (int64_t d = 0; d < d_n; ++d) {
      if (gt_bound && dt_extent[d].ok) {
        const KeypointExtent& de = dt_extent[d];
        const double dx = std::max({0.0, ge.x0 - de.x1, de.x0 - ge.x1});
        const double dy = std::max({0.0, ge.y0 - de.y1, de.y0 - ge.y1});
        if (dx * dx + dy * dy >= far_all) {
          out[d * g_n + g] = 0.0;
          continue;
        }
      }
      const double* kd = dt.keypoints + 3 * k * dt_rows[d];
      for (int64_t u = 0; u < n_used; ++u) {
        const int64_t j = js[u];
        double dx, dy;
        if (visible) {
          dx = kd[3 * j] - kg[3 * j];
          dy = kd[3 * j + 1] - kg[3 * j + 1];
        } else {
          dx = std::max(0.0, x0 - kd[3 * j]) + std::max(0.0, kd[3 * j] - x1);
          dy = std::max(0.0, y0 - kd[3 * j + 1]) + std::max(0.0, kd[3 * j + 1] - y1);
        }
        d2[u] = dx * dx + dy * dy;
      }
      if (bound) {
        int64_t near = 0;
        for (int64_t u = 0; u < n_used; ++u) near += !(d2[u] >= far[u]);  // NaN counts as near
        const double upper = static_cast<double>(near) + kFarTerm * static_cast<double>(n_used - near);
        if (upper < rejected_below) {
          out[d * g_n + g] = 0.0;
          continue;
        }
      }
      const int64_t start = static_cast<int64_t>(neg_e.size());
      neg_e.resize(start + n_used);
      for (int64_t u = 0; u < n_used; ++u) neg_e[start + u] = -(d2[u] / vars[js[u]] / scale / 2);
      pairs.push_back({d * g_n + g, start, n_used});
    }
  }
  std::vector<double>& terms = scratch.terms;
  terms.resize(neg_e.size());
  exp(neg_e.data(), terms.data(), static_cast<int64_t>(neg_e.size()));
  for (const OksPair& p : pairs)
    out[p.out] = numpy_pairwise_sum(terms.data() + p.start, p.count) / static_cast<double>(p.count);
}

}  // namespace

void ExpLoop::operator()(const double* in, double* out, int64_t n) const {
  if (n == 0) return;
  if (fn == nullptr) {
    std::transform(in, in + n, out, [](double x) { return std::exp(x); });
    return;
  }
  char* args[2] = {reinterpret_cast<char*>(const_cast<double*>(in)), reinterpret_cast<char*>(out)};
  const ptrdiff_t dimensions[1] = {static_cast<ptrdiff_t>(n)};
  const ptrdiff_t steps[2] = {sizeof(double), sizeof(double)};
  fn(args, dimensions, steps, data);
}

void id_positions(const int64_t* values, int64_t n, const int64_t* ids, int64_t m, int64_t* out) {
  if (m == 0) {
    std::fill(out, out + n, -1);
    return;
  }
  const auto [lo, hi] = std::minmax_element(ids, ids + m);
  // a table of hi + 1 entries is worth it while it is not much larger than the inputs
  if (*lo >= 0 && *hi < 64 * (n + m) + 1024) {
    const int64_t size = *hi + 1;
    std::vector<int64_t> table(size, -1);
    for (int64_t j = 0; j < m; ++j) table[ids[j]] = j;
    parallel_for(n, 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t v = values[i];
        out[i] = v >= 0 && v < size ? table[v] : -1;
      }
    });
    return;
  }
  // (id, position) sorted by id, the last position of a repeated id first among its equals
  std::vector<std::pair<int64_t, int64_t>> sorted(m);
  for (int64_t j = 0; j < m; ++j) sorted[j] = {ids[j], -j};
  std::sort(sorted.begin(), sorted.end());
  parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const auto it = std::lower_bound(sorted.begin(), sorted.end(), std::make_pair(values[i], -m));
      out[i] = it != sorted.end() && it->first == values[i] ? -it->second : -1;
    }
  });
}

void coco_cells(const int64_t* category_pos, const int64_t* image_pos, int64_t n, int64_t num_images, int64_t* cell) {
  parallel_for(n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      cell[r] = category_pos[r] >= 0 && image_pos[r] >= 0 ? category_pos[r] * num_images + image_pos[r] : -1;
  });
}

void keypoint_boxes(const double* keypoints, int64_t n, int64_t width, double* boxes, double* areas) {
  parallel_for(n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double* row = keypoints + i * width;
      double lo[2] = {row[0], row[1]}, hi[2] = {row[0], row[1]};
      bool nan[2] = {std::isnan(row[0]), std::isnan(row[1])};
      // (selects, not branches: which value is the extreme so far is unpredictable)
      auto extend = [&](int axis, double v) {
        nan[axis] |= std::isnan(v);
        lo[axis] = v < lo[axis] ? v : lo[axis];
        hi[axis] = v > hi[axis] ? v : hi[axis];
      };
      for (int64_t j = 3; j < width; j += 3) {
        extend(0, row[j]);
        if (j + 1 < width) extend(1, row[j + 1]);
      }
      for (int axis = 0; axis < 2; ++axis)
        if (nan[axis]) lo[axis] = hi[axis] = std::numeric_limits<double>::quiet_NaN();
      double* box = boxes + 4 * i;
      box[0] = lo[0];
      box[1] = lo[1];
      box[2] = hi[0] - lo[0];
      box[3] = hi[1] - lo[1];
      areas[i] = (hi[0] - lo[0]) * (hi[1] - lo[1]);
    }
  });
}

double numpy_pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

void coco_summary_means(const double* values, int64_t T, int64_t X, int64_t AM,
                        const std::vector<std::vector<int64_t>>& t_sets,
                        const std::vector<std::vector<int64_t>>& am_lists, double* out) {
  const size_t S = t_sets.size();
  std::vector<std::vector<double>> kept(S);
  std::vector<int64_t> count(S, 0);
  for (size_t s = 0; s < S; ++s) kept[s].resize(t_sets[s].size() * X * am_lists[s].size());
  std::vector<size_t> active;
  std::vector<size_t> next_t(S, 0);  // position in each (rising) t set
  for (int64_t t = 0; t < T; ++t) {
    active.clear();
    for (size_t s = 0; s < S; ++s)
      if (next_t[s] < t_sets[s].size() && t_sets[s][next_t[s]] == t) {
        active.push_back(s);
        ++next_t[s];
      }
    if (active.empty()) continue;
    for (int64_t x = 0; x < X; ++x) {
      const double* row = values + (t * X + x) * AM;
      for (size_t s : active) {
        double* to = kept[s].data();
        int64_t n = count[s];
        for (int64_t am : am_lists[s]) {  // (branch-free: written, then kept if > -1)
          to[n] = row[am];
          n += row[am] > -1;
        }
        count[s] = n;
      }
    }
  }
  for (size_t s = 0; s < S; ++s)
    out[s] = count[s] == 0 ? -1.0 : numpy_pairwise_sum(kept[s].data(), count[s]) / static_cast<double>(count[s]);
}

void coco_sort_detections(const int64_t* cell, const double* score, int64_t n, int64_t num_cells,
                          int64_t max_det, std::vector<int64_t>& offsets, Column<int64_t>& order) {
  std::vector<int64_t> grouped_offsets;
  Column<int64_t> grouped;
  group_by_cell(cell, n, num_cells, grouped_offsets, grouped);
  const int64_t cut = std::max<int64_t>(max_det, 0);
  int64_t largest = 0;
  for (int64_t c = 0; c < num_cells; ++c) largest = std::max(largest, grouped_offsets[c + 1] - grouped_offsets[c]);
  // No cell longer than the cut (detectors keep at most maxDets per image): the cells are sorted
  // in place and the grouping is the result. Otherwise each cell's first `cut` go to `order`.
  const bool in_place = largest <= cut;
  if (in_place) {
    offsets = std::move(grouped_offsets);
    grouped.swap(order);
  } else {
    offsets.assign(num_cells + 1, 0);
    for (int64_t c = 0; c < num_cells; ++c)
      offsets[c + 1] = offsets[c] + std::min(grouped_offsets[c + 1] - grouped_offsets[c], cut);
    order.resize(offsets[num_cells]);  // every cell's range is written below, by the thread sorting it
  }
  const std::vector<int64_t>& bounds = in_place ? offsets : grouped_offsets;
  Column<int64_t>& rows = in_place ? order : grouped;
  const auto by_score = [score](int64_t a, int64_t b) { return score[a] > score[b]; };
  parallel_for(num_cells, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      auto first = rows.begin() + bounds[c], last = rows.begin() + bounds[c + 1];
      if (last - first <= 16) {  // most cells are tiny: a stable insertion sort, no allocation
        for (auto it = first + (first != last); it < last; ++it) {
          const int64_t v = *it;
          auto hole = it;
          for (; hole > first && by_score(v, *(hole - 1)); --hole) *hole = *(hole - 1);
          *hole = v;
        }
      } else {
        std::stable_sort(first, last, by_score);
      }
      if (!in_place) std::copy(first, first + (offsets[c + 1] - offsets[c]), order.begin() + offsets[c]);
    }
  });
}

CocoEvalState coco_evaluate(const CocoGtColumns& gt, const CocoDtColumns& dt, const CocoEvalOptions& opt) {
  const int64_t C = opt.num_cells;
  const int64_t T = static_cast<int64_t>(opt.iou_thresholds.size());
  const int64_t A = static_cast<int64_t>(opt.area_ranges.size() / 2);
  CocoEvalState st;
  st.num_cells = C;
  st.num_areas = A;
  st.num_thresholds = T;
  std::vector<int64_t> gt_offsets;
  Column<int64_t> gt_rows;
  group_by_cell(gt.cell, gt.n, C, gt_offsets, gt_rows);
  coco_sort_detections(dt.cell, dt.score, dt.n, C, opt.max_det, st.dt_offsets, st.dt_index);
  const int64_t total_dt = st.dt_offsets[C], total_gt = gt_offsets[C];
  st.dt_score.resize(total_dt);
  parallel_for(total_dt, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) st.dt_score[j] = dt.score[st.dt_index[j]];
  });
  // every cell's detections get every (area, threshold) status below: the pages are first
  // touched there, by the thread evaluating the cell, not zeroed here by one thread
  st.status.resize(total_dt * A * T);
  st.npig.resize(C * A);  // written for every cell below (zeros where it has no gt)
  if (opt.keep_details) {
    st.gt_order.assign(A * total_gt, 0);
    st.gt_ignore.assign(A * total_gt, 0);
    st.dt_match.assign(total_dt * A * T, -1);
    st.gt_match.assign(A * total_gt * T, -1);
    st.overlap_offsets.assign(C + 1, 0);
    for (int64_t c = 0; c < C; ++c) {
      const int64_t g = gt_offsets[c + 1] - gt_offsets[c], d = st.dt_offsets[c + 1] - st.dt_offsets[c];
      st.overlap_offsets[c + 1] = st.overlap_offsets[c] + (opt.no_overlaps ? 0 : g * d);
    }
    st.overlaps.assign(st.overlap_offsets[C], 0.0);
  }
  // bit a: the detection's area lies outside area range a (one sequential pass; the per-cell
  // loops then read one byte per detection instead of its area)
  std::vector<uint8_t> dt_outside(A <= 8 ? dt.n : 0);
  parallel_for(static_cast<int64_t>(dt_outside.size()), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      uint8_t bits = 0;
      for (int64_t a = 0; a < A; ++a)
        bits |= static_cast<uint8_t>(dt.area[r] < opt.area_ranges[2 * a] || dt.area[r] > opt.area_ranges[2 * a + 1])
                << a;
      dt_outside[r] = bits;
    }
  });
  std::vector<double> thresholds(T);
  for (int64_t t = 0; t < T; ++t) thresholds[t] = std::min(opt.iou_thresholds[t], 1 - 1e-10);
  // an overlap below every threshold never matches
  double lowest = T > 0 ? *std::min_element(thresholds.begin(), thresholds.end()) : 0.0;
  if (std::any_of(thresholds.begin(), thresholds.end(), [](double v) { return std::isnan(v); })) lowest = 0.0;

  const int64_t I = opt.num_images > 0 && C % opt.num_images == 0 ? opt.num_images : C, K = C / I;
  parallel_for(C, 256, [&](int64_t begin, int64_t end) {
    std::vector<double> overlaps;
    std::vector<int64_t> order, cand, cand_offsets;
    std::vector<double> cand_overlap;
    std::vector<uint8_t> ig, taken, crowd, outside;
    OksScratch oks;
    for (int64_t x = begin; x < end; ++x) {
      const int64_t c = (x % K) * I + x / K;  // image x / K, category x % K
      const int64_t g0 = gt_offsets[c], G = gt_offsets[c + 1] - g0;
      const int64_t d0 = st.dt_offsets[c], D = st.dt_offsets[c + 1] - d0;
      if (G == 0) std::fill_n(st.npig.data() + c * A, A, int64_t{0});
      if (G == 0 && D == 0) continue;
      const int64_t* grows = gt_rows.data() + g0;
      const int64_t* drows = st.dt_index.data() + d0;
      const double* ov = nullptr;
      const bool have_overlaps = G > 0 && D > 0 && !opt.no_overlaps;
      if (have_overlaps) {
        if (opt.iou_type == CocoIouType::kPrecomputed) {
          ov = opt.precomputed + opt.precomputed_offsets[c];
        } else {
          overlaps.resize(D * G);
          if (opt.iou_type == CocoIouType::kBox)
            box_overlaps(dt.bbox, drows, D, gt.bbox, grows, gt.iscrowd, G, overlaps.data());
          else
            oks_overlaps(gt, grows, G, dt, drows, D, opt.kpt_vars, opt.keep_details ? 0.0 : lowest, opt.exp, oks,
                         overlaps.data());
          ov = overlaps.data();
        }
        if (opt.keep_details)
          std::copy(ov, ov + D * G, st.overlaps.begin() + st.overlap_offsets[c]);
      }
      if (G == 0 && A <= 8) {  // fast path: nothing can match; unmatched detections out of range are ignored
        for (int64_t d = 0; d < D; ++d) {
          const uint8_t outside = dt_outside[drows[d]];
          uint8_t* out = st.status.data() + (d0 + d) * A * T;
          for (int64_t a = 0; a < A; ++a) std::fill(out + a * T, out + (a + 1) * T, ((outside >> a) & 1) << 1);
        }
        continue;
      }
      for (int64_t a = 0; a < A; ++a) {
        const double lo = opt.area_ranges[2 * a], hi = opt.area_ranges[2 * a + 1];
        // gts visited non-ignored first (a stable partition, like a mergesort on the flag)
        order.clear();
        ig.clear();
        for (int pass = 0; pass < 2; ++pass)
          for (int64_t g = 0; g < G; ++g) {
            const int64_t r = grows[g];
            const bool gi = gt.ignore[r] || gt.area[r] < lo || gt.area[r] > hi;
            if (gi == (pass == 1)) {
              order.push_back(g);
              ig.push_back(gi);
            }
          }
        int64_t kept = 0;
        for (int64_t g = 0; g < G; ++g) kept += !ig[g];
        st.npig[c * A + a] = kept;
        if (opt.keep_details)
          for (int64_t p = 0; p < G; ++p) {
            st.gt_order[a * total_gt + g0 + p] = grows[order[p]];
            st.gt_ignore[a * total_gt + g0 + p] = ig[p];
          }
        // Candidates: per detection, the gt positions whose overlap is not below the lowest
        // threshold with that overlap (the others never match; a NaN overlap matches anything
        // after it, so a NaN makes every position a candidate). The matching loop below then
        // reads only these local arrays, by position.
        cand_offsets.assign(D + 1, 0);
        cand.clear();
        cand_overlap.clear();
        crowd.resize(G);
        for (int64_t p = 0; p < G; ++p) crowd[p] = gt.iscrowd[grows[order[p]]] != 0;
        if (have_overlaps)
          for (int64_t d = 0; d < D; ++d) {
            const double* row = ov + d * G;
            bool any_nan = false;
            for (int64_t p = 0; p < G; ++p) {
              const double o = row[order[p]];
              any_nan |= std::isnan(o);
              if (!(o < lowest)) {
                cand.push_back(p);
                cand_overlap.push_back(o);
              }
            }
            if (any_nan) {
              cand.resize(cand_offsets[d]);
              cand_overlap.resize(cand_offsets[d]);
              for (int64_t p = 0; p < G; ++p) {
                cand.push_back(p);
                cand_overlap.push_back(row[order[p]]);
              }
            }
            cand_offsets[d + 1] = static_cast<int64_t>(cand.size());
          }
        // the loop reads and writes through locals only: a byte store may alias any member or
        // captured value, which would then be reloaded at every step
        taken.resize(G);
        uint8_t* tk = taken.data();
        // each detection's area test, read once here (not at every threshold from the area column)
        outside.resize(D);
        for (int64_t d = 0; d < D; ++d) {
          const int64_t dr = drows[d];
          outside[d] = A <= 8 ? (dt_outside[dr] >> a) & 1 : dt.area[dr] < lo || dt.area[dr] > hi;
        }
        const uint8_t* out_of_area = outside.data();
        uint8_t* status = st.status.data() + d0 * A * T + a * T;
        const uint8_t *is_crowd = crowd.data(), *is_ig = ig.data();
        const int64_t* cand_p = cand.data();
        const int64_t* cand_at = cand_offsets.data();
        const double* cand_o = cand_overlap.data();
        const int64_t *gt_id = gt.id, *dt_id = dt.id, *gt_order = order.data();
        const bool quirk = opt.zero_id_quirk, details = opt.keep_details;
        for (int64_t t = 0; t < T; ++t) {
          std::fill(tk, tk + G, 0);
          const double threshold = thresholds[t];
          for (int64_t d = 0; d < D; ++d) {
            const int64_t dr = drows[d];
            int64_t m = -1;
            double best = threshold;
            for (int64_t q = cand_at[d]; q < cand_at[d + 1]; ++q) {
              const int64_t p = cand_p[q];
              if (tk[p] && !is_crowd[p]) continue;
              if (m > -1 && !is_ig[m] && is_ig[p]) break;
              const double o = cand_o[q];
              if (o < best) continue;
              best = o;
              m = p;
            }
            const bool out_of_range = out_of_area[d];
            bool matched = false, ignored = out_of_range;
            if (m > -1) {
              const int64_t gr = grows[gt_order[m]];
              matched = !quirk || gt_id[gr] != 0;
              ignored = is_ig[m] || (!matched && out_of_range);
              if (!quirk || dt_id[dr] > 0) tk[m] = 1;
              if (details) {
                st.dt_match[((d0 + d) * A + a) * T + t] = gr;
                st.gt_match[(a * total_gt + g0 + m) * T + t] = dr;
              }
            }
            status[d * A * T + t] = static_cast<uint8_t>(matched | (ignored << 1));
          }
        }
      }
    }
  });
  if (opt.keep_details) st.gt_offsets = std::move(gt_offsets);
  return st;
}

namespace {

constexpr uint64_t kLowBytes = 0x0101010101010101ULL;

// The sum of a word's bytes, each 0 or 1.
inline int64_t count_bytes(uint64_t w) { return static_cast<int64_t>((w * kLowBytes) >> 56); }

// One curve's true positives: along statuses row[0..n) (bit 0 matched, bit 1 ignored) of the
// detections with keep[i] = 1, the e-th true positive's position and the false positives before
// it go to position[e] and fp_before[e]; returns their number. Eight detections per step: most
// steps hold no true positive, and those only add to the false-positive count.
int64_t true_positives(const uint8_t* row, const uint8_t* keep, int64_t n, int64_t* fp_before, int64_t* position) {
  int64_t tp = 0, fp = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t s, k;
    std::memcpy(&s, row + i, 8);
    std::memcpy(&k, keep + i, 8);
    const uint64_t valid = ~(s >> 1) & k & kLowBytes;  // each byte's bit 1 moved onto its bit 0
    const uint64_t hits = valid & s, misses = valid ^ hits;
    for (uint64_t h = hits; h != 0; h &= h - 1) {
      const int bit = __builtin_ctzll(h);
      fp_before[tp] = fp + count_bytes(misses & ((uint64_t{1} << bit) - 1));
      position[tp++] = i + (bit >> 3);
    }
    fp += count_bytes(misses);
  }
  for (; i < n; ++i) {
    if (!keep[i] || (row[i] & 2)) continue;
    if (row[i] & 1) {
      fp_before[tp] = fp;
      position[tp++] = i;
    } else {
      ++fp;
    }
  }
  return tp;
}

// dst (w rows of n bytes) = the transpose of src (n rows of w bytes): 8 x 8 byte tiles as eight
// words, transposed by swapping 4-, 2- and 1-byte blocks (three masked exchanges per word pair).
void transpose_bytes(const uint8_t* src, int64_t n, int64_t w, uint8_t* dst) {
  int64_t r0 = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  auto exchange = [](uint64_t& lo, uint64_t& hi, int shift, uint64_t mask) {
    const uint64_t t = ((lo >> shift) ^ hi) & mask;
    lo ^= t << shift;
    hi ^= t;
  };
  for (; r0 + 8 <= n; r0 += 8) {
    int64_t c0 = 0;
    for (; c0 + 8 <= w; c0 += 8) {
      uint64_t r[8];  // r[i]: row r0 + i's bytes c0 .. c0 + 7, byte j at bits 8j
      for (int i = 0; i < 8; ++i) std::memcpy(&r[i], src + (r0 + i) * w + c0, 8);
      for (int i = 0; i < 4; ++i) exchange(r[i], r[i + 4], 32, 0x00000000FFFFFFFFull);
      for (int i : {0, 1, 4, 5}) exchange(r[i], r[i + 2], 16, 0x0000FFFF0000FFFFull);
      for (int i : {0, 2, 4, 6}) exchange(r[i], r[i + 1], 8, 0x00FF00FF00FF00FFull);
      for (int j = 0; j < 8; ++j) std::memcpy(dst + (c0 + j) * n + r0, &r[j], 8);
    }
    for (; c0 < w; ++c0)
      for (int64_t i = r0; i < r0 + 8; ++i) dst[c0 * n + i] = src[i * w + c0];
  }
#endif
  for (; r0 < n; ++r0)
    for (int64_t c = 0; c < w; ++c) dst[c * n + r0] = src[r0 * w + c];
}

// Buffers for the curves of one area range over a category's `total` detections.
struct CurveScratch {
  std::vector<int64_t> event_fp, event_n;
  std::vector<double> event_rc, event_pr;
  CurveScratch() = default;
  explicit CurveScratch(size_t total) { resize(total); }
  void resize(size_t total) {
    event_fp.resize(total);
    event_n.resize(total);
    event_rc.resize(total);
    event_pr.resize(total);
  }
};

// Detections of a category from which its area ranges' curves are worth computing in parallel.
constexpr int64_t kParallelCurveDetections = 4096;

}  // namespace

void coco_accumulate(const CocoStateView& st, const CocoAccumulateOptions& opt, double* precision,
                     double* recall, double* scores) {
  const int64_t T = st.num_thresholds, A0 = st.num_areas, I = opt.num_images;
  const int64_t R = static_cast<int64_t>(opt.recall_thresholds.size());
  const int64_t K = opt.out_categories, A = opt.out_areas, M = opt.out_max_dets;
  const int64_t nA = static_cast<int64_t>(opt.areas.size());
  const double eps = std::numeric_limits<double>::epsilon();  // np.spacing(1)
  const int64_t nk = static_cast<int64_t>(opt.categories.size());
  const auto& thr = opt.recall_thresholds;
  const bool rising_thresholds = std::is_sorted(thr.begin(), thr.end()) &&
                                 std::all_of(thr.begin(), thr.end(), [](double v) { return !std::isnan(v); });
  const int64_t nm = static_cast<int64_t>(opt.max_dets.size());
  // A category's results are gathered in (t, r, a, m) blocks and copied out per (t, r) at the end:
  // in the (T, R, K, A, M) outputs its (a, m) values are contiguous while its r values lie
  // K * A * M apart, so writing each value where it belongs would touch a new page per value.
  const int64_t AM = A * M;
  // Four categories per chunk: each chunk allocates its own buffers (the (t, r) blocks alone are
  // 2 x 190 KB, mapped and faulted afresh), which per single category cost a quarter of a segm
  // accumulate at 2 threads.
  parallel_for(nk, 4, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> entries;  // the category's detections j in score order
    std::vector<uint64_t> keys;
    std::vector<uint8_t> sorted, local;
    std::vector<int64_t> rank, position, ranked, kept_count, first_kept;
    std::vector<uint8_t> keep;
    CurveScratch scratch;
    std::vector<double> precision_k(T * R * AM), scores_k(T * R * AM), recall_k(T * AM);
    for (int64_t k = begin; k < end; ++k) {
      std::fill(precision_k.begin(), precision_k.end(), -1.0);
      std::fill(scores_k.begin(), scores_k.end(), -1.0);
      std::fill(recall_k.begin(), recall_k.end(), -1.0);
      const int64_t k0 = opt.categories[k];
      if (k0 < 0 || (k0 + 1) * I > st.num_cells) throw std::invalid_argument("accumulate: category out of range");
      // the category's detections j_begin <= j < j_end (its cells are consecutive); rank[j -
      // j_begin] is j's rank in its cell (score order), position[j - j_begin] its position in
      // the category's score order (-1 if its image is not selected)
      const int64_t j_begin = st.dt_offsets[k0 * I], j_end = st.dt_offsets[(k0 + 1) * I];
      rank.resize(j_end - j_begin);
      position.assign(j_end - j_begin, -1);
      entries.clear();
      keys.clear();
      int64_t max_rank = -1;
      for (int64_t i : opt.images) {
        const int64_t c = k0 * I + i;
        for (int64_t j = st.dt_offsets[c]; j < st.dt_offsets[c + 1]; ++j) {
          entries.push_back(j);
          keys.push_back(descending_key(st.dt_score[j]));
          rank[j - j_begin] = j - st.dt_offsets[c];
        }
        max_rank = std::max(max_rank, st.dt_offsets[c + 1] - st.dt_offsets[c] - 1);
      }
      // the concatenation in image order, stably sorted by decreasing score (pycocotools'
      // mergesort)
      stable_radix_sort(keys, entries);
      const int64_t total = static_cast<int64_t>(entries.size());
      for (int64_t n = 0; n < total; ++n) position[entries[n] - j_begin] = n;
      // The detections' statuses end up in one row of `total` bytes in score order per (selected
      // area, t): each curve below is then one pass over a contiguous row. The status block is
      // read in order (read in score order, most reads would miss the cache), each detection's
      // selected (a, t) bytes copied to its place in score order (one cache line, where writing
      // them to their rows at once would touch nA * T lines), then transposed in 8 x 8 tiles.
      const int64_t W = nA * T;
      sorted.resize(total * W);
      {
        uint8_t* to_sorted = sorted.data();
        const int64_t* areas = opt.areas.data();
        const int64_t* positions = position.data();
        const int64_t stride = A0 * T;
        for (int64_t j = j_begin; j < j_end; ++j) {
          const int64_t n = positions[j - j_begin];
          if (n < 0) continue;
          for (int64_t a = 0; a < nA; ++a)
            std::memcpy(to_sorted + n * W + a * T, st.status + j * stride + areas[a] * T, static_cast<size_t>(T));
        }
      }
      local.resize(total * W);
      transpose_bytes(sorted.data(), total, W, local.data());
      // Each max-dets column's detections, the first max_dets[m] of each image (rank below the
      // cut), in score order: keep[m * total + n], how many (kept_count[m]) and the first
      // (first_kept[m], -1 if none). The same for every area range, so found once here.
      keep.resize(nm * total);
      kept_count.resize(nm);  // both written for every m below
      first_kept.resize(nm);
      ranked.resize(total);
      for (int64_t n = 0; n < total; ++n) ranked[n] = rank[entries[n] - j_begin];
      for (int64_t m = 0; m < nm; ++m) {
        const int64_t cut = opt.max_dets[m] > max_rank ? std::numeric_limits<int64_t>::max() : opt.max_dets[m];
        uint8_t* kept = keep.data() + m * total;
        int64_t count = 0;
        for (int64_t n = 0; n < total; ++n) {
          kept[n] = ranked[n] < cut;
          count += kept[n];
        }
        kept_count[m] = count;
        first_kept[m] = static_cast<int64_t>(std::find(kept, kept + total, 1) - kept);
        if (first_kept[m] == total) first_kept[m] = -1;
      }
      // the curves of area range a (its values in precision_k, scores_k, recall_k are its own)
      auto area_curves = [&](int64_t a, CurveScratch& scratch) {
        std::vector<int64_t>&event_fp = scratch.event_fp, &event_n = scratch.event_n;
        std::vector<double>&event_rc = scratch.event_rc, &event_pr = scratch.event_pr;
        const int64_t a0 = opt.areas[a];
        int64_t npig = 0;
        for (int64_t i : opt.images) npig += st.npig[(k0 * I + i) * A0 + a0];
        if (npig == 0) return;
        const double np_d = static_cast<double>(npig);
        int64_t full_m = -1;  // first max-dets column that keeps every detection
        for (int64_t m = 0; m < nm; ++m) {
          const bool full = opt.max_dets[m] > max_rank;
          if (full && full_m >= 0) {  // same detections as column full_m: same curve
            for (int64_t t = 0; t < T; ++t) {
              recall_k[(t * A + a) * M + m] = recall_k[(t * A + a) * M + full_m];
              for (int64_t r = 0; r < R; ++r) {
                const int64_t base = ((t * R + r) * A + a) * M;
                precision_k[base + m] = precision_k[base + full_m];
                scores_k[base + m] = scores_k[base + full_m];
              }
            }
            continue;
          }
          if (full) full_m = m;
          const int64_t nd = kept_count[m], first = first_kept[m];
          const uint8_t* kept = keep.data() + m * total;
          for (int64_t t = 0; t < T; ++t) {
            // Precision only rises at true positives and recall only changes there, so the curve
            // is evaluated at those events (the same divisions, hence the same values, as at every
            // point); counts are exact in double, like numpy's float cumsum.
            const int64_t ne = true_positives(local.data() + (a * T + t) * total, kept, total, event_fp.data(),
                                              event_n.data());
            recall_k[(t * A + a) * M + m] = nd ? static_cast<double>(ne) / np_d : 0.0;
            for (int64_t e = 0; e < ne; ++e) {
              const double tpd = static_cast<double>(e + 1), fpd = static_cast<double>(event_fp[e]);
              event_rc[e] = tpd / np_d;
              event_pr[e] = tpd / (fpd + tpd + eps);
            }
            for (int64_t e = ne - 1; e > 0; --e)
              if (event_pr[e] > event_pr[e - 1]) event_pr[e - 1] = event_pr[e];
            // recall at the first kept detection (0 unless it is a true positive)
            const double rc0 = (ne > 0 && event_n[0] == first) ? event_rc[0] : 0.0;
            int64_t r = 0, e = 0;
            for (; r < R; ++r) {
              const double thr = opt.recall_thresholds[r];
              const int64_t out = ((t * R + r) * A + a) * M + m;
              int64_t at;  // the detection whose score is reported
              double q;
              if (nd > 0 && rc0 >= thr) {  // searchsorted gives position 0
                at = first;
                q = ne > 0 ? event_pr[0] : 0.0;
              } else {
                // first event with recall >= thr: walked to from the previous threshold's when
                // the thresholds rise (the usual linspace), else a binary search
                if (rising_thresholds)
                  while (e < ne && event_rc[e] < thr) ++e;
                else
                  e = std::lower_bound(event_rc.begin(), event_rc.begin() + ne, thr) - event_rc.begin();
                if (e >= ne) break;  // past the last recall: this and the rest are 0 (as pycocotools)
                at = event_n[e];
                q = event_pr[e];
              }
              precision_k[out] = q;
              scores_k[out] = st.dt_score[entries[at]];
            }
            for (; r < R; ++r) {
              const int64_t out = ((t * R + r) * A + a) * M + m;
              precision_k[out] = 0.0;
              scores_k[out] = 0.0;
            }
          }
        }
      };
      // Fewer categories than threads (keypoints: one): the area ranges' curves in parallel.
      if (nk < get_num_threads() && nA > 1 && total >= kParallelCurveDetections) {
        parallel_for(nA, 1, [&](int64_t first, int64_t last) {
          CurveScratch own(total);
          for (int64_t a = first; a < last; ++a) area_curves(a, own);
        });
      } else {
        scratch.resize(total);
        for (int64_t a = 0; a < nA; ++a) area_curves(a, scratch);
      }
      // AM values per (t, r), usually 12: an inline loop, not a memmove call per 96 bytes
      auto copy_block = [AM](const double* from, double* to) {
        for (int64_t i = 0; i < AM; ++i) to[i] = from[i];
      };
      for (int64_t t = 0; t < T; ++t) {
        copy_block(recall_k.data() + t * AM, recall + (t * K + k) * AM);
        for (int64_t r = 0; r < R; ++r) {
          copy_block(precision_k.data() + (t * R + r) * AM, precision + ((t * R + r) * K + k) * AM);
          copy_block(scores_k.data() + (t * R + r) * AM, scores + ((t * R + r) * K + k) * AM);
        }
      }
    }
  });
  // output slots past the selected categories (none in pycocotools' use): -1, as empty curves
  for (int64_t t = 0; t < T; ++t) {
    std::fill(recall + (t * K + nk) * AM, recall + (t + 1) * K * AM, -1.0);
    for (int64_t r = 0; r < R; ++r) {
      std::fill(precision + ((t * R + r) * K + nk) * AM, precision + ((t * R + r) + 1) * K * AM, -1.0);
      std::fill(scores + ((t * R + r) * K + nk) * AM, scores + ((t * R + r) + 1) * K * AM, -1.0);
    }
  }
}

}  // namespace detkit
