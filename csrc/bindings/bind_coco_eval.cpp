#include <pybind11/stl.h>

// Only numpy's ufunc struct is read here (no numpy C-API call, so no import_array/import_umath).
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define NO_IMPORT_ARRAY
#define NO_IMPORT_UFUNC
#include <numpy/ndarraytypes.h>
#include <numpy/ufuncobject.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "bindings/common.h"
#include "core/coco_eval.h"
#include "core/coco_json.h"

namespace detkit::bind {

namespace {

// numpy's float64 loop of np.exp, the function numpy picked for this CPU at import (see ExpLoop);
// set when the module is initialised, std::exp if numpy's exp has no such loop.
ExpLoop numpy_exp;

ExpLoop find_numpy_exp() {
  static_assert(sizeof(npy_intp) == sizeof(ptrdiff_t), "numpy's loop signature uses ptrdiff_t-sized strides");
  py::module_ numpy = py::module_::import("numpy");
  py::object exp = numpy.attr("exp");
  if (!py::isinstance(exp, numpy.attr("ufunc"))) return {};
  const auto* ufunc = reinterpret_cast<const PyUFuncObject*>(exp.ptr());
  if (ufunc->nin != 1 || ufunc->nout != 1) return {};
  for (int i = 0; i < ufunc->ntypes; ++i) {
    const char* types = ufunc->types + static_cast<ptrdiff_t>(i) * ufunc->nargs;
    if (types[0] == NPY_DOUBLE && types[1] == NPY_DOUBLE && ufunc->functions[i] != nullptr)
      return {reinterpret_cast<decltype(ExpLoop::fn)>(ufunc->functions[i]), ufunc->data[i]};
  }
  return {};
}

template <class T>
const T* optional_data(const py::object& o) {
  if (o.is_none()) return nullptr;
  return o.cast<CArray<T>>().data();
}

// Columns are borrowed from the dict's arrays, which the caller keeps alive for the call.
struct GtArrays {
  CArray<int64_t> cell, id;
  CArray<double> bbox, area, keypoints;
  CArray<uint8_t> iscrowd, ignore;
  bool has_keypoints = false;
  CocoGtColumns view() const {
    CocoGtColumns c;
    c.n = cell.shape(0);
    c.cell = cell.data();
    c.bbox = bbox.data();
    c.area = area.data();
    c.iscrowd = iscrowd.data();
    c.ignore = ignore.data();
    c.id = id.data();
    c.keypoints = has_keypoints ? keypoints.data() : nullptr;
    return c;
  }
};

struct DtArrays {
  CArray<int64_t> cell, id;
  CArray<double> bbox, area, score, keypoints;
  bool has_keypoints = false;
  CocoDtColumns view() const {
    CocoDtColumns c;
    c.n = cell.shape(0);
    c.cell = cell.data();
    c.bbox = bbox.data();
    c.area = area.data();
    c.score = score.data();
    c.id = id.data();
    c.keypoints = has_keypoints ? keypoints.data() : nullptr;
    return c;
  }
};

GtArrays gt_arrays(const py::dict& d, int64_t kpt_width) {
  GtArrays g;
  g.cell = d["cell"].cast<CArray<int64_t>>();
  const int64_t n = g.cell.shape(0);
  require_length(g.cell, n, "gt cell");
  g.bbox = d["bbox"].cast<CArray<double>>();
  if (rows_of(g.bbox, 4, "gt bbox") != n) throw py::value_error("gt bbox must have one row per gt");
  g.area = d["area"].cast<CArray<double>>();
  require_length(g.area, n, "gt area");
  g.iscrowd = d["iscrowd"].cast<CArray<uint8_t>>();
  require_length(g.iscrowd, n, "gt iscrowd");
  g.ignore = d["ignore"].cast<CArray<uint8_t>>();
  require_length(g.ignore, n, "gt ignore");
  g.id = d["id"].cast<CArray<int64_t>>();
  require_length(g.id, n, "gt id");
  if (kpt_width > 0) {
    g.keypoints = d["keypoints"].cast<CArray<double>>();
    if (rows_of(g.keypoints, kpt_width, "gt keypoints") != n)
      throw py::value_error("gt keypoints must have one row per gt");
    g.has_keypoints = true;
  }
  return g;
}

DtArrays dt_arrays(const py::dict& d, int64_t kpt_width) {
  DtArrays t;
  t.cell = d["cell"].cast<CArray<int64_t>>();
  const int64_t n = t.cell.shape(0);
  require_length(t.cell, n, "dt cell");
  t.bbox = d["bbox"].cast<CArray<double>>();
  if (rows_of(t.bbox, 4, "dt bbox") != n) throw py::value_error("dt bbox must have one row per detection");
  t.area = d["area"].cast<CArray<double>>();
  require_length(t.area, n, "dt area");
  t.score = d["score"].cast<CArray<double>>();
  require_length(t.score, n, "dt score");
  t.id = d["id"].cast<CArray<int64_t>>();
  require_length(t.id, n, "dt id");
  if (kpt_width > 0) {
    t.keypoints = d["keypoints"].cast<CArray<double>>();
    if (rows_of(t.keypoints, kpt_width, "dt keypoints") != n)
      throw py::value_error("dt keypoints must have one row per detection");
    t.has_keypoints = true;
  }
  return t;
}

void check_cells(const int64_t* cell, int64_t n, int64_t num_cells, const char* name) {
  for (int64_t i = 0; i < n; ++i)
    if (cell[i] >= num_cells) throw py::value_error(std::string(name) + " cell index out of range");
}

py::dict evaluate_binding(const py::dict& gt, const py::dict& dt, int64_t num_cells, int iou_type,
                          const std::vector<double>& iou_thresholds, const std::vector<double>& area_ranges,
                          int64_t max_det, const std::vector<double>& kpt_vars, py::object precomputed,
                          py::object precomputed_offsets, bool zero_id_quirk, bool no_overlaps,
                          bool keep_details, int64_t num_images) {
  if (iou_type < 0 || iou_type > 2) throw py::value_error("iou_type must be 0, 1 or 2");
  const int64_t kpt_width = iou_type == 1 ? 3 * static_cast<int64_t>(kpt_vars.size()) : 0;
  const GtArrays g = gt_arrays(gt, kpt_width);
  const DtArrays d = dt_arrays(dt, kpt_width);
  check_cells(g.cell.data(), g.cell.shape(0), num_cells, "gt");
  check_cells(d.cell.data(), d.cell.shape(0), num_cells, "dt");
  CocoEvalOptions opt;
  opt.num_cells = num_cells;
  opt.num_images = num_images;
  opt.iou_type = static_cast<CocoIouType>(iou_type);
  opt.iou_thresholds = iou_thresholds;
  if (area_ranges.size() % 2) throw py::value_error("area_ranges must hold (lo, hi) pairs");
  opt.area_ranges = area_ranges;
  opt.max_det = max_det;
  opt.kpt_vars = kpt_vars;
  opt.exp = numpy_exp;
  opt.zero_id_quirk = zero_id_quirk;
  opt.no_overlaps = no_overlaps;
  opt.keep_details = keep_details;
  CArray<double> pre;
  CArray<int64_t> pre_off;
  if (iou_type == 2) {
    pre = precomputed.cast<CArray<double>>();
    pre_off = precomputed_offsets.cast<CArray<int64_t>>();
    require_length(pre_off, num_cells, "precomputed_offsets");
    opt.precomputed = pre.data();
    opt.precomputed_offsets = pre_off.data();
  }
  CocoEvalState st;
  {
    py::gil_scoped_release release;
    st = coco_evaluate(g.view(), d.view(), opt);
  }
  py::dict out;
  out["dt_offsets"] = to_numpy(std::move(st.dt_offsets));
  out["dt_index"] = to_numpy(std::move(st.dt_index));
  out["dt_score"] = to_numpy(std::move(st.dt_score));
  out["status"] = to_numpy(std::move(st.status));
  out["npig"] = to_numpy(std::move(st.npig));
  if (keep_details) {
    out["gt_offsets"] = to_numpy(std::move(st.gt_offsets));
    out["gt_order"] = to_numpy(std::move(st.gt_order));
    out["gt_ignore"] = to_numpy(std::move(st.gt_ignore));
    out["dt_match"] = to_numpy(std::move(st.dt_match));
    out["gt_match"] = to_numpy(std::move(st.gt_match));
    out["overlap_offsets"] = to_numpy(std::move(st.overlap_offsets));
    out["overlaps"] = to_numpy(std::move(st.overlaps));
  }
  return out;
}

std::vector<double> summary_means_binding(const CArray<double>& values, std::vector<std::vector<int64_t>> t_sets,
                                          std::vector<std::vector<int64_t>> am_lists) {
  if (values.ndim() != 3) throw py::value_error("values must have shape (T, X, AM)");
  if (t_sets.size() != am_lists.size()) throw py::value_error("t_sets and am_lists must have the same length");
  const int64_t T = values.shape(0), X = values.shape(1), AM = values.shape(2);
  for (const auto& ts : t_sets)
    for (size_t n = 0; n < ts.size(); ++n)
      if (ts[n] < 0 || ts[n] >= T || (n > 0 && ts[n] <= ts[n - 1]))
        throw py::value_error("t_sets must hold rising indices below T");
  for (const auto& ams : am_lists)
    for (int64_t am : ams)
      if (am < 0 || am >= AM) throw py::value_error("am_lists indices must be below AM");
  std::vector<double> out(t_sets.size());
  py::gil_scoped_release release;
  coco_summary_means(values.data(), T, X, AM, t_sets, am_lists, out.data());
  return out;
}

py::tuple accumulate_binding(const CArray<int64_t>& dt_offsets, const CArray<double>& dt_score,
                             const CArray<uint8_t>& status, const CArray<int64_t>& npig, int64_t num_areas,
                             int64_t num_thresholds, int64_t num_images, std::vector<int64_t> categories,
                             std::vector<int64_t> areas, std::vector<int64_t> max_dets,
                             std::vector<int64_t> images, std::vector<double> recall_thresholds,
                             int64_t out_categories, int64_t out_areas, int64_t out_max_dets) {
  CocoStateView v;
  v.num_cells = dt_offsets.shape(0) - 1;
  if (v.num_cells < 0) throw py::value_error("dt_offsets must not be empty");
  v.num_areas = num_areas;
  v.num_thresholds = num_thresholds;
  const int64_t total = dt_offsets.data()[v.num_cells];
  require_length(dt_score, total, "dt_score");
  // scores are ordered by a radix sort on their bits, which has no place for NaN
  if (std::any_of(dt_score.data(), dt_score.data() + total, [](double v) { return std::isnan(v); }))
    throw py::value_error("dt_score must not contain NaN");
  require_length(status, total * num_areas * num_thresholds, "status");
  require_length(npig, v.num_cells * num_areas, "npig");
  for (int64_t c = 0; c < v.num_cells; ++c)
    if (dt_offsets.data()[c] < 0 || dt_offsets.data()[c] > dt_offsets.data()[c + 1])
      throw py::value_error("dt_offsets must be non-decreasing from 0");
  for (int64_t a : areas)
    if (a < 0 || a >= num_areas) throw py::value_error("area index out of range");
  if (static_cast<int64_t>(categories.size()) > out_categories ||
      static_cast<int64_t>(areas.size()) > out_areas || static_cast<int64_t>(max_dets.size()) > out_max_dets)
    throw py::value_error("more selected entries than output slots");
  for (size_t n = 0; n < images.size(); ++n) {
    if (images[n] < 0 || images[n] >= num_images) throw py::value_error("image position out of range");
    if (n > 0 && images[n] <= images[n - 1]) throw py::value_error("image positions must be increasing");
  }
  v.dt_offsets = dt_offsets.data();
  v.dt_score = dt_score.data();
  v.status = status.data();
  v.npig = npig.data();
  CocoAccumulateOptions opt;
  opt.num_images = num_images;
  opt.categories = std::move(categories);
  opt.areas = std::move(areas);
  opt.max_dets = std::move(max_dets);
  opt.images = std::move(images);
  opt.recall_thresholds = std::move(recall_thresholds);
  opt.out_categories = out_categories;
  opt.out_areas = out_areas;
  opt.out_max_dets = out_max_dets;
  const int64_t T = num_thresholds, R = static_cast<int64_t>(opt.recall_thresholds.size());
  py::array_t<double> precision({T, R, out_categories, out_areas, out_max_dets});
  py::array_t<double> scores({T, R, out_categories, out_areas, out_max_dets});
  py::array_t<double> recall({T, out_categories, out_areas, out_max_dets});
  {
    py::gil_scoped_release release;
    coco_accumulate(v, opt, precision.mutable_data(), recall.mutable_data(), scores.mutable_data());
  }
  return py::make_tuple(precision, recall, scores);
}

py::tuple sort_detections_binding(const CArray<int64_t>& cell, const CArray<double>& score,
                                  int64_t num_cells, int64_t max_det) {
  const int64_t n = cell.shape(0);
  require_length(score, n, "score");
  check_cells(cell.data(), n, num_cells, "dt");
  std::vector<int64_t> offsets;
  Column<int64_t> order;
  {
    py::gil_scoped_release release;
    coco_sort_detections(cell.data(), score.data(), n, num_cells, max_det, offsets, order);
  }
  return py::make_tuple(to_numpy(std::move(offsets)), to_numpy(std::move(order)));
}

template <class T>
py::array_t<T> matrix(Column<T>&& v, int64_t width) {
  auto flat = to_numpy(std::move(v));
  if (width <= 0) return flat;
  return flat.reshape({static_cast<py::ssize_t>(flat.shape(0) / width), static_cast<py::ssize_t>(width)});
}

// The segmentation columns (see CocoSegmentations); strings as one bytes object.
py::dict segmentation_dict(CocoSegmentations&& seg) {
  py::dict out;
  if (seg.unwritten_absent > 0) {  // no record has a segmentation: zeros, from untouched pages
    const py::object zeros = py::module_::import("numpy").attr("zeros");
    const int64_t n = seg.records();
    out["kind"] = zeros(n, "uint8");
    out["size"] = zeros(py::make_tuple(n, 2), "int64");
    out["record_parts"] = zeros(n + 1, "int64");
    out["part_offsets"] = zeros(1, "int64");
    out["values"] = zeros(0, "float64");
    out["chars_offsets"] = zeros(n + 1, "int64");
    out["chars"] = py::bytes("");
    return out;
  }
  out["kind"] = to_numpy(std::move(seg.kind));
  out["size"] = matrix(std::move(seg.size), 2);
  out["record_parts"] = to_numpy(std::move(seg.record_parts));
  out["part_offsets"] = to_numpy(std::move(seg.part_offsets));
  out["values"] = to_numpy(std::move(seg.values));
  out["chars_offsets"] = to_numpy(std::move(seg.chars_offsets));
  out["chars"] = py::bytes(seg.chars.data(), seg.chars.size());
  return out;
}

py::array_t<int64_t> id_positions_binding(const CArray<int64_t>& values, const CArray<int64_t>& ids) {
  if (values.ndim() != 1 || ids.ndim() != 1) throw py::value_error("values and ids must be 1-d integer arrays");
  const int64_t n = values.shape(0), m = ids.shape(0);
  py::array_t<int64_t> out(n);
  {
    py::gil_scoped_release release;
    id_positions(values.data(), n, ids.data(), m, out.mutable_data());
  }
  return out;
}

py::array_t<int64_t> cells_binding(const CArray<int64_t>& category_pos, const CArray<int64_t>& image_pos,
                                   int64_t num_images) {
  if (category_pos.ndim() != 1) throw py::value_error("category_pos must be a 1-d integer array");
  const int64_t n = category_pos.shape(0);
  require_length(image_pos, n, "image_pos");
  if (num_images < 0) throw py::value_error("num_images must be >= 0");
  py::array_t<int64_t> cell(n);
  {
    py::gil_scoped_release release;
    coco_cells(category_pos.data(), image_pos.data(), n, num_images, cell.mutable_data());
  }
  return cell;
}

// (boxes (n, 4), areas (n,)) of an (n, width) float64 keypoint array (see keypoint_boxes).
py::tuple keypoint_boxes_binding(const py::array_t<double, py::array::c_style | py::array::forcecast>& keypoints) {
  if (keypoints.ndim() != 2 || keypoints.shape(1) < 2)
    throw py::value_error("keypoints must be an (n, width) array with width >= 2");
  const int64_t n = keypoints.shape(0), width = keypoints.shape(1);
  py::array_t<double> boxes({n, int64_t{4}}), areas(n);
  {
    py::gil_scoped_release release;
    keypoint_boxes(keypoints.data(), n, width, boxes.mutable_data(), areas.mutable_data());
  }
  return py::make_tuple(boxes, areas);
}

py::object parse_results_binding(const py::buffer& data, bool release_parsed_pages) {
  const py::buffer_info info = data.request();
  CocoResultColumns c;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = parse_coco_results(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize), c,
                            release_parsed_pages);
  }
  if (!ok) return py::none();
  py::dict out;
  out["image_id"] = to_numpy(std::move(c.image_id));
  out["category_id"] = to_numpy(std::move(c.category_id));
  out["bbox"] = matrix(std::move(c.bbox), 4);
  out["score"] = to_numpy(std::move(c.score));
  out["has_bbox"] = to_numpy(std::move(c.has_bbox));
  out["has_score"] = to_numpy(std::move(c.has_score));
  out["has_keypoints"] = to_numpy(std::move(c.has_keypoints));
  if (c.num_keypoint_values >= 0) out["keypoints"] = matrix(std::move(c.keypoints), c.num_keypoint_values);
  out["segmentation"] = segmentation_dict(std::move(c.segmentation));
  return out;
}

py::object parse_instances_binding(const py::buffer& data, bool release_parsed_pages) {
  const py::buffer_info info = data.request();
  CocoInstanceColumns c;
  bool ok;
  {
    py::gil_scoped_release release;
    ok = parse_coco_instances(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize), c,
                              release_parsed_pages);
  }
  if (!ok) return py::none();
  py::dict out;
  out["has_images"] = c.has_images;
  out["has_categories"] = c.has_categories;
  out["has_annotations"] = c.has_annotations;
  out["image_id"] = to_numpy(std::move(c.image_id));
  out["image_height"] = to_numpy(std::move(c.image_height));
  out["image_width"] = to_numpy(std::move(c.image_width));
  out["category_id"] = to_numpy(std::move(c.category_id));
  out["id"] = to_numpy(std::move(c.id));
  out["ann_image_id"] = to_numpy(std::move(c.ann_image_id));
  out["ann_category_id"] = to_numpy(std::move(c.ann_category_id));
  out["bbox"] = matrix(std::move(c.bbox), 4);
  out["area"] = to_numpy(std::move(c.area));
  out["iscrowd"] = to_numpy(std::move(c.iscrowd));
  out["ignore"] = to_numpy(std::move(c.ignore));
  out["has_ignore"] = to_numpy(std::move(c.has_ignore));
  out["num_keypoints"] = to_numpy(std::move(c.num_keypoints));
  out["has_bbox"] = to_numpy(std::move(c.has_bbox));
  out["has_area"] = to_numpy(std::move(c.has_area));
  out["has_iscrowd"] = to_numpy(std::move(c.has_iscrowd));
  out["has_num_keypoints"] = to_numpy(std::move(c.has_num_keypoints));
  out["has_keypoints"] = to_numpy(std::move(c.has_keypoints));
  if (c.num_keypoint_values >= 0) out["keypoints"] = matrix(std::move(c.keypoints), c.num_keypoint_values);
  out["segmentation"] = segmentation_dict(std::move(c.segmentation));
  return out;
}

}  // namespace

void bind_coco_eval(py::module_& m) {
  numpy_exp = find_numpy_exp();
  m.def("coco_evaluate", &evaluate_binding, py::arg("gt"), py::arg("dt"), py::arg("num_cells"),
        py::arg("iou_type"), py::arg("iou_thresholds"), py::arg("area_ranges"), py::arg("max_det"),
        py::arg("kpt_vars"), py::arg("precomputed"), py::arg("precomputed_offsets"),
        py::arg("zero_id_quirk"), py::arg("no_overlaps"), py::arg("keep_details"), py::arg("num_images") = 0);
  m.def("coco_accumulate", &accumulate_binding, py::arg("dt_offsets"), py::arg("dt_score"), py::arg("status"),
        py::arg("npig"), py::arg("num_areas"), py::arg("num_thresholds"), py::arg("num_images"),
        py::arg("categories"), py::arg("areas"), py::arg("max_dets"), py::arg("images"),
        py::arg("recall_thresholds"), py::arg("out_categories"), py::arg("out_areas"), py::arg("out_max_dets"));
  m.def("coco_summary_means", &summary_means_binding, py::arg("values"), py::arg("t_sets"), py::arg("am_lists"));
  m.def("coco_sort_detections", &sort_detections_binding, py::arg("cell"), py::arg("score"),
        py::arg("num_cells"), py::arg("max_det"));
  // release_parsed_pages: only for a read-only shared file mapping (see coco_json.h)
  m.def("keypoint_boxes", &keypoint_boxes_binding, py::arg("keypoints"));
  m.def("id_positions", &id_positions_binding, py::arg("values"), py::arg("ids"));
  m.def("coco_cells", &cells_binding, py::arg("category_pos"), py::arg("image_pos"), py::arg("num_images"));
  m.def("coco_parse_results", &parse_results_binding, py::arg("data"), py::arg("release_parsed_pages") = false);
  m.def("coco_parse_instances", &parse_instances_binding, py::arg("data"), py::arg("release_parsed_pages") = false);
}

}  // namespace detkit::bind
