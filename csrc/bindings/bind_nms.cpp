#include "bindings/common.h"
#include "core/nms.h"

namespace detkit::bind {

namespace {

NmsOptions nms_options(double iou_threshold, double offset, py::object score_threshold,
                       int64_t pre_nms_top_k, int64_t max_output) {
  NmsOptions opt;
  opt.iou_threshold = iou_threshold;
  opt.offset = offset;
  opt.use_score_threshold = !score_threshold.is_none();
  if (opt.use_score_threshold) opt.score_threshold = score_threshold.cast<double>();
  opt.pre_nms_top_k = pre_nms_top_k;
  opt.max_output = max_output;
  return opt;
}

template <class T>
py::array_t<int64_t> nms_binding(const CArray<T>& boxes, const CArray<double>& scores,
                                 double iou_threshold, double offset, py::object score_threshold,
                                 int64_t pre_nms_top_k, int64_t max_output) {
  const int64_t n = rows_of(boxes, 4, "boxes");
  require_length(scores, n, "scores");
  const NmsOptions opt = nms_options(iou_threshold, offset, score_threshold, pre_nms_top_k, max_output);
  std::vector<int64_t> keep;
  {
    py::gil_scoped_release release;
    keep = nms<T>(boxes.data(), scores.data(), n, opt);
  }
  return to_numpy(std::move(keep));
}

template <class T>
py::array_t<int64_t> batched_nms_binding(const CArray<T>& boxes, const CArray<double>& scores,
                                         const CArray<int64_t>& idxs, double iou_threshold,
                                         double offset, py::object score_threshold,
                                         int64_t pre_nms_top_k, int64_t max_output) {
  const int64_t n = rows_of(boxes, 4, "boxes");
  require_length(scores, n, "scores");
  require_length(idxs, n, "idxs");
  const NmsOptions opt = nms_options(iou_threshold, offset, score_threshold, pre_nms_top_k, max_output);
  std::vector<int64_t> keep;
  {
    py::gil_scoped_release release;
    keep = batched_nms<T>(boxes.data(), scores.data(), idxs.data(), n, opt);
  }
  return to_numpy(std::move(keep));
}

template <class T>
py::tuple soft_nms_binding(const CArray<T>& boxes, const CArray<double>& scores,
                           py::object idxs_or_none, double iou_threshold, double sigma,
                           double score_threshold, int method, double offset, int64_t max_output) {
  const int64_t n = rows_of(boxes, 4, "boxes");
  require_length(scores, n, "scores");
  CArray<int64_t> idxs;
  const int64_t* idx_data = nullptr;
  if (!idxs_or_none.is_none()) {
    idxs = idxs_or_none.cast<CArray<int64_t>>();
    require_length(idxs, n, "idxs");
    idx_data = idxs.data();
  }
  if (method != 0 && method != 1) throw py::value_error("method must be 0 (linear) or 1 (gaussian)");
  if (!(sigma > 0)) throw py::value_error("sigma must be positive");
  if (n > INT32_MAX) throw py::value_error("soft_nms supports at most 2**31 - 1 boxes");
  SoftNmsOptions opt;
  opt.iou_threshold = iou_threshold;
  opt.sigma = sigma;
  opt.score_threshold = score_threshold;
  opt.method = static_cast<SoftNmsMethod>(method);
  opt.offset = offset;
  opt.max_output = max_output;
  std::vector<int64_t> keep;
  std::vector<double> kept_scores;
  {
    py::gil_scoped_release release;
    soft_nms<T>(boxes.data(), scores.data(), idx_data, n, opt, keep, kept_scores);
  }
  return py::make_tuple(to_numpy(std::move(keep)), to_numpy(std::move(kept_scores)));
}

}  // namespace

void bind_nms(py::module_& m) {
  m.def("nms", &nms_binding<float>, py::arg("boxes"), py::arg("scores"), py::arg("iou_threshold"),
        py::arg("offset"), py::arg("score_threshold"), py::arg("pre_nms_top_k"), py::arg("max_output"));
  m.def("nms", &nms_binding<double>, py::arg("boxes"), py::arg("scores"), py::arg("iou_threshold"),
        py::arg("offset"), py::arg("score_threshold"), py::arg("pre_nms_top_k"), py::arg("max_output"));
  m.def("batched_nms", &batched_nms_binding<float>, py::arg("boxes"), py::arg("scores"),
        py::arg("idxs"), py::arg("iou_threshold"), py::arg("offset"), py::arg("score_threshold"),
        py::arg("pre_nms_top_k"), py::arg("max_output"));
  m.def("batched_nms", &batched_nms_binding<double>, py::arg("boxes"), py::arg("scores"),
        py::arg("idxs"), py::arg("iou_threshold"), py::arg("offset"), py::arg("score_threshold"),
        py::arg("pre_nms_top_k"), py::arg("max_output"));
  m.def("soft_nms", &soft_nms_binding<float>, py::arg("boxes"), py::arg("scores"), py::arg("idxs"),
        py::arg("iou_threshold"), py::arg("sigma"), py::arg("score_threshold"), py::arg("method"),
        py::arg("offset"), py::arg("max_output"));
  m.def("soft_nms", &soft_nms_binding<double>, py::arg("boxes"), py::arg("scores"), py::arg("idxs"),
        py::arg("iou_threshold"), py::arg("sigma"), py::arg("score_threshold"), py::arg("method"),
        py::arg("offset"), py::arg("max_output"));
}

}  // namespace detkit::bind
