// COCO detection evaluation (the pycocotools COCOeval algorithm) on flat columns.
//
// Records (ground truths and detections) arrive as columns with a precomputed cell index
// cell = k * num_images + i (k: category position, i: image position; -1 drops the record).
// Within a cell, records keep their input order; the caller orders records the way pycocotools
// gathers them (file order, and category order first when categories are not used).
//
// evaluate: per cell, detections are stably sorted by decreasing score and truncated to max_det;
//   overlaps (box IoU, OKS, or caller-supplied values) are computed once per cell; then, per area
//   range and IoU threshold, detections are greedily matched in score order to the gt with the
//   highest overlap >= min(t, 1 - 1e-10), later gts winning ties, non-crowd gts matched once,
//   crowd gts any number of times, and a match to a non-ignored gt never replaced by an ignored
//   one (gts are visited non-ignored first). Unmatched detections outside the area range are
//   ignored. Everything is computed in the same floating-point order as pycocotools, so results
//   are bit-identical.
// accumulate: per category, all its detections are stably sorted by decreasing score (ties: image
//   order, then rank in the image); per area range / max-detection count / threshold, the
//   cumulative precision tp / (tp + fp + eps) and recall tp / npig are computed, the precision made
//   monotone from the right, and sampled at the recall thresholds (first index with recall >=
//   threshold; 0 past the end). Cells with no non-ignored gt stay -1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/columns.h"

namespace detkit {

enum class CocoIouType : int { kBox = 0, kKeypoints = 1, kPrecomputed = 2 };

struct CocoGtColumns {
  int64_t n = 0;
  const int64_t* cell = nullptr;      // (n,)
  const double* bbox = nullptr;       // (n, 4) x, y, w, h
  const double* area = nullptr;       // (n,)
  const uint8_t* iscrowd = nullptr;   // (n,)
  const uint8_t* ignore = nullptr;    // (n,) the evaluation ignore flag (crowd, no keypoints, ...)
  const int64_t* id = nullptr;        // (n,)
  const double* keypoints = nullptr;  // (n, 3 * num_keypoints) or null
};

struct CocoDtColumns {
  int64_t n = 0;
  const int64_t* cell = nullptr;      // (n,)
  const double* bbox = nullptr;       // (n, 4)
  const double* area = nullptr;       // (n,)
  const double* score = nullptr;      // (n,), finite
  const int64_t* id = nullptr;        // (n,)
  const double* keypoints = nullptr;  // (n, 3 * num_keypoints) or null
};

// exp over float64 values with the signature of numpy's ufunc inner loops (args = {in, out},
// dimensions = {n}, steps = {8, 8} bytes, data). OKS must use the exp numpy's `np.exp` uses on
// this machine: numpy dispatches float64 exp to SIMD code on some CPUs (AVX-512: Intel's SVML),
// whose results differ from libm's in the last bit for a few percent of inputs, and pycocotools'
// OKS values follow numpy. The bindings pass numpy's own loop; null means std::exp.
struct ExpLoop {
  void (*fn)(char** args, const ptrdiff_t* dimensions, const ptrdiff_t* steps, void* data) = nullptr;
  void* data = nullptr;
  // out[i] = exp(in[i]) for i < n (in and out do not overlap)
  void operator()(const double* in, double* out, int64_t n) const;
};

struct CocoEvalOptions {
  int64_t num_cells = 0;
  // I when cells are k * I + i (category k, image i): they are then visited image by image, in
  // the order a file's records usually come, so a cell's rows are near the previous cell's in
  // memory. 0 visits them in index order. The results do not depend on it.
  int64_t num_images = 0;
  CocoIouType iou_type = CocoIouType::kBox;
  std::vector<double> iou_thresholds;          // T
  std::vector<double> area_ranges;             // (A, 2) lo, hi
  int64_t max_det = 100;                       // largest maxDets value
  std::vector<double> kpt_vars;                // (2 * sigma)^2 per keypoint (keypoints only)
  ExpLoop exp;                                 // for OKS (keypoints only)
  // Precomputed overlaps (kPrecomputed): for each cell, a (D_cell x G_cell) row-major block in
  // the cell's sorted/truncated detection order and gt input order, at precomputed_offsets[cell].
  const double* precomputed = nullptr;
  const int64_t* precomputed_offsets = nullptr;  // (num_cells,)
  // pycocotools stores matched ids in float arrays and tests them against 0, so a gt with id 0
  // counts as unmatched and a detection with id <= 0 does not mark its gt as taken. true (the
  // default) reproduces that; false treats every match as a match.
  bool zero_id_quirk = true;
  bool no_overlaps = false;   // treat every cell's overlaps as empty (nothing matches)
  bool keep_details = false;  // also fill the match details (for materialising evalImgs)
};

// Per-cell result of evaluate. Detections are stored per cell in evaluation order.
struct CocoEvalState {
  int64_t num_cells = 0, num_areas = 0, num_thresholds = 0;
  std::vector<int64_t> dt_offsets;  // (num_cells + 1,) into dt_index / dt_score
  Column<int64_t> dt_index;    // input row of each evaluated detection
  Column<double> dt_score;
  // status[(j * A + a) * T + t]: bit 0 = matched (dtm != 0), bit 1 = ignored.
  Column<uint8_t> status;
  Column<int64_t> npig;             // (num_cells * A,) non-ignored gts
  // Details (keep_details only):
  std::vector<int64_t> gt_offsets;  // (num_cells + 1,)
  std::vector<int64_t> gt_order;    // (A, total gts in cells): input rows, non-ignored first
  std::vector<uint8_t> gt_ignore;   // (A, total gts) in gt_order order
  std::vector<int64_t> dt_match;    // (j, a, t): matched gt input row or -1
  std::vector<int64_t> gt_match;    // (a, gt position, t): matched dt input row or -1
  std::vector<int64_t> overlap_offsets;  // (num_cells + 1,) into overlaps
  std::vector<double> overlaps;          // per cell (D x G), gts in input order; empty if D or G is 0
};

// Indices of each cell's detections, stably sorted by decreasing score and truncated to max_det.
// offsets has num_cells + 1 entries.
void coco_sort_detections(const int64_t* cell, const double* score, int64_t n, int64_t num_cells,
                          int64_t max_det, std::vector<int64_t>& offsets, Column<int64_t>& order);

CocoEvalState coco_evaluate(const CocoGtColumns& gt, const CocoDtColumns& dt,
                            const CocoEvalOptions& opt);

struct CocoAccumulateOptions {
  int64_t num_images = 0;               // I (cells are k * I + i)
  std::vector<int64_t> categories;      // k0 for each output category
  std::vector<int64_t> areas;           // a0 for each output area range
  std::vector<int64_t> max_dets;        // maxDet for each output column
  std::vector<int64_t> images;          // image positions i, increasing (concatenation order)
  std::vector<double> recall_thresholds;  // R
  int64_t out_categories = 0, out_areas = 0, out_max_dets = 0;  // K, A, M of the outputs
};

// Read-only view of the parts of a CocoEvalState that accumulate needs (so merged states held by
// the caller can be accumulated too).
struct CocoStateView {
  int64_t num_cells = 0, num_areas = 0, num_thresholds = 0;
  const int64_t* dt_offsets = nullptr;  // (num_cells + 1,)
  const double* dt_score = nullptr;
  const uint8_t* status = nullptr;
  const int64_t* npig = nullptr;        // (num_cells * num_areas,)
};

// precision and scores are (T, R, K, A, M), recall (T, K, A, M); every value is written (-1 for
// an empty curve or an output category past the selected ones).
void coco_accumulate(const CocoStateView& state, const CocoAccumulateOptions& opt, double* precision,
                     double* recall, double* scores);

// numpy's pairwise summation order (np.sum of a float64 vector), for bit-identical sums.
double numpy_pairwise_sum(const double* a, int64_t n);

// pycocotools' summary means over a (T, X, AM) array (precision: X = R * K, recall: X = K; AM =
// A * M): for each selection s, the values > -1 among rows t in t_sets[s] (rising), all x, and
// columns am_lists[s] (in that order), i.e. np.mean(v[v > -1]) of the fancy-indexed selection
// (C order of (t, x, am), numpy's pairwise sum), or -1 when there are none. One pass over the
// array serves every selection (each alone would read one value per cache line).
void coco_summary_means(const double* values, int64_t T, int64_t X, int64_t AM,
                        const std::vector<std::vector<int64_t>>& t_sets,
                        const std::vector<std::vector<int64_t>>& am_lists, double* out);

// Position of each of values[0..n) in ids[0..m) (unique, in any order; a repeated id takes its
// last position), -1 where absent: through a lookup table when the ids are small non-negative
// integers (COCO's), else a binary search over the sorted ids.
void id_positions(const int64_t* values, int64_t n, const int64_t* ids, int64_t m, int64_t* out);

// Evaluation cells of n records: cell = category_pos * num_images + image_pos, or -1 where
// either position is -1 (the record is not evaluated).
void coco_cells(const int64_t* category_pos, const int64_t* image_pos, int64_t n, int64_t num_images, int64_t* cell);

// pycocotools' loadRes box and area of keypoint results: for each (width,) row of keypoints
// (x, y, v, x, y, v, ...; width >= 2), with x0 = min(x), x1 = max(x) and likewise y (NaN if any
// is NaN, as np.min), box = [x0, y0, x1 - x0, y1 - y0] and area = (x1 - x0) * (y1 - y0).
void keypoint_boxes(const double* keypoints, int64_t n, int64_t width, double* boxes, double* areas);

}  // namespace detkit
