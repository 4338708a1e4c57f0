// A strict, small JSON scanner for the two COCO files evaluation reads: detection results (a list
// of {"image_id", "category_id", "bbox", "score", "keypoints"?} objects) and instance annotations
// ({"images": [...], "categories": [...], "annotations": [...], ...}). It reads the numeric fields
// evaluation needs straight into columns and skips every other value (after checking its syntax).
//
// Numbers are converted with std::from_chars, which rounds correctly, so values equal Python's
// float(). The scanners return false (never throw) on anything they do not handle: malformed JSON,
// a null or string where a number is needed, non-integral ids, result records with a
// "segmentation" field, keypoint arrays of differing lengths. The caller then falls back to a
// general JSON parser, which also produces the precise error message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace detkit {

struct CocoResultColumns {
  std::vector<int64_t> image_id, category_id;
  std::vector<double> bbox;       // (n, 4); NaN rows where "bbox" is absent
  std::vector<double> score;      // NaN where absent
  std::vector<double> keypoints;  // (n, num_keypoint_values) when any record has "keypoints"
  std::vector<uint8_t> has_bbox, has_score, has_keypoints;
  int64_t num_keypoint_values = -1;  // -1: no record has keypoints
  int64_t size() const { return static_cast<int64_t>(image_id.size()); }
};

struct CocoInstanceColumns {
  // images
  std::vector<int64_t> image_id;
  // categories
  std::vector<int64_t> category_id;
  // annotations
  std::vector<int64_t> id, ann_image_id, ann_category_id;
  std::vector<double> bbox, area, iscrowd, ignore, num_keypoints, keypoints;
  std::vector<uint8_t> has_bbox, has_area, has_iscrowd, has_ignore, has_num_keypoints, has_keypoints;
  int64_t num_keypoint_values = -1;  // -1: no annotation has keypoints
  bool has_images = false, has_categories = false, has_annotations = false;
};

bool parse_coco_results(const char* data, size_t size, CocoResultColumns& out);
bool parse_coco_instances(const char* data, size_t size, CocoInstanceColumns& out);

}  // namespace detkit
