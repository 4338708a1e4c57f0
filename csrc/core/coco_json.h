// A strict, small JSON scanner for the two COCO files evaluation reads: detection results (a list
// of {"image_id", "category_id", "bbox", "score", "keypoints"?} objects) and instance annotations
// ({"images": [...], "categories": [...], "annotations": [...], ...}). It reads the numeric fields
// evaluation needs straight into columns and skips every other value (after checking its syntax).
//
// Numbers are converted with correct rounding (short decimals by the scanner itself, the rest by
// std::from_chars), so values equal Python's float() of the same text bit for bit. The scanners
// return false (never throw) on anything they do not handle: malformed JSON, a null or string
// where a number is needed, non-integral ids, keypoint arrays of differing lengths. The caller
// then falls back to a general JSON parser, which also produces the precise error message.
//
// "segmentation" values are read into CocoSegmentations (polygon lists, RLEs with a compressed
// string or a list of run lengths); any other value there is recorded as kOther, not an error,
// so that the caller can decide (evaluation falls back to the dicts only when it needs masks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/columns.h"

namespace detkit {

enum SegmentationKind : uint8_t { kAbsent = 0, kPolygons = 1, kRleString = 2, kRleCounts = 3, kOther = 4 };

// Every record's "segmentation", flattened. Record i's parts are [record_parts[i], record_parts[i+1])
// (one per polygon, or the one run-length list of an uncompressed RLE), part j's numbers are
// values[part_offsets[j]:part_offsets[j+1]]; a compressed string is chars[chars_offsets[i]:
// chars_offsets[i+1]] (JSON escapes resolved). Offset arrays start at 0 and have one more entry
// than there are records (parts).
struct CocoSegmentations {
  Column<uint8_t> kind;    // SegmentationKind per record
  Column<int64_t> size;    // (n, 2): an RLE's [h, w]; 0 for other kinds
  Column<int64_t> record_parts{0}, part_offsets{0}, chars_offsets{0};
  Column<double> values;   // polygon coordinates or run lengths
  Column<char> chars;      // compressed RLE strings
  // Records without a segmentation that are not in the per-record columns above: only while no
  // record of the set has one (box and keypoint files), which then cost no per-record
  // segmentation memory. write_unwritten() appends them (kind kAbsent, size 0, no parts).
  int64_t unwritten_absent = 0;
  int64_t records() const { return static_cast<int64_t>(kind.size()) + unwritten_absent; }
  void write_unwritten();
  // Appends another record range's offsets (e.g. a chunk parsed by another thread), shifted to
  // follow this one's; the per-record columns are joined by the caller.
  void append_offsets(const CocoSegmentations& other);
};

struct CocoResultColumns {
  Column<int64_t> image_id, category_id;
  Column<double> bbox;       // (n, 4); NaN rows where "bbox" is absent
  Column<double> score;      // NaN where absent
  Column<double> keypoints;  // (n, num_keypoint_values) when any record has "keypoints"
  Column<uint8_t> has_bbox, has_score, has_keypoints;
  CocoSegmentations segmentation;
  int64_t num_keypoint_values = -1;  // -1: no record has keypoints
  int64_t size() const { return static_cast<int64_t>(image_id.size()); }
};

struct CocoInstanceColumns {
  // images; height/width -1 where absent or not an integer
  Column<int64_t> image_id, image_height, image_width;
  // categories
  Column<int64_t> category_id;
  // annotations
  Column<int64_t> id, ann_image_id, ann_category_id;
  Column<double> bbox, area, iscrowd, ignore, num_keypoints, keypoints;
  Column<uint8_t> has_bbox, has_area, has_iscrowd, has_ignore, has_num_keypoints, has_keypoints;
  CocoSegmentations segmentation;
  int64_t num_keypoint_values = -1;  // -1: no annotation has keypoints
  bool has_images = false, has_categories = false, has_annotations = false;
};

// release_parsed_pages: data is a read-only shared file mapping whose pages may be dropped once
// parsed (they are read back from the file if needed again), which keeps a large file from
// staying resident in full. Never for other memory: its contents would be lost.
bool parse_coco_results(const char* data, size_t size, CocoResultColumns& out, bool release_parsed_pages = false);
bool parse_coco_instances(const char* data, size_t size, CocoInstanceColumns& out, bool release_parsed_pages = false);

}  // namespace detkit
