// Non-maximum suppression family on xyxy boxes.
//
// Order rule everywhere: candidates are visited by decreasing score, equal scores by increasing
// index (a stable sort). A candidate is suppressed when its IoU with an already kept box is
// strictly greater than the threshold (IoU as in box_iou.h, 0 where the union is 0).
#pragma once

#include <cstdint>
#include <vector>

// Scores are always double: float32 scores convert exactly, so the visiting order never depends
// on the box dtype.

namespace detkit {

struct NmsOptions {
  double iou_threshold = 0.5;
  double offset = 0.0;            // 0, or 1 for the legacy "+1" pixel convention
  bool use_score_threshold = false;
  double score_threshold = 0.0;   // candidates need score > score_threshold
  int64_t pre_nms_top_k = -1;     // < 0: no limit; keep the top k candidates before NMS
  int64_t max_output = -1;        // < 0: no limit; keep at most this many boxes after NMS
};

// Greedy NMS. Returns kept indices into boxes/scores, by decreasing score (ties: lower index).
template <class T>
std::vector<int64_t> nms(const T* boxes, const double* scores, int64_t n, const NmsOptions& opt);

// NMS run independently per value of idxs (class ids). Results of all classes are merged by the
// same order rule; pre_nms_top_k and max_output apply to the whole set, not per class.
template <class T>
std::vector<int64_t> batched_nms(const T* boxes, const double* scores, const int64_t* idxs, int64_t n,
                                 const NmsOptions& opt);

enum class SoftNmsMethod : int { kLinear = 0, kGaussian = 1 };

struct SoftNmsOptions {
  double iou_threshold = 0.3;   // linear decay applies only above this IoU
  double sigma = 0.5;           // gaussian decay exp(-iou^2 / sigma)
  double score_threshold = 0.001;  // boxes whose decayed score falls below it are dropped
  SoftNmsMethod method = SoftNmsMethod::kGaussian;
  double offset = 0.0;
  int64_t max_output = -1;
};

// Soft-NMS (Bodla et al., 2017). Repeatedly selects the remaining box with the highest current
// score (ties: lower index) and decays the scores of the remaining boxes overlapping it. Returns
// the selected indices in selection order and their scores at selection (non-increasing).
// When idxs is non-null, boxes only decay boxes of the same class.
template <class T>
void soft_nms(const T* boxes, const double* scores, const int64_t* idxs, int64_t n,
              const SoftNmsOptions& opt, std::vector<int64_t>& keep,
              std::vector<double>& kept_scores);

}  // namespace detkit
