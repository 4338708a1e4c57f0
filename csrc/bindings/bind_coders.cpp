#include "bindings/common.h"
#include "core/coders.h"

#include <pybind11/stl.h>

#include <array>

namespace detkit::bind {

namespace {

std::array<double, 4> weights_of(const std::vector<double>& w) {
  if (w.size() != 4) throw py::value_error("weights must have 4 entries");
  return {w[0], w[1], w[2], w[3]};
}

template <class T>
py::array_t<T> encode(const CArray<T>& gt, const CArray<T>& anchors, const std::vector<double>& weights) {
  const int64_t n = rows_of(gt, 4, "reference_boxes");
  if (rows_of(anchors, 4, "proposals") != n) throw py::value_error("reference_boxes and proposals must have equal length");
  const auto w = weights_of(weights);
  py::array_t<T> out({n, int64_t{4}});
  T* po = out.mutable_data();
  {
    py::gil_scoped_release release;
    box_encode<T>(gt.data(), anchors.data(), n, w.data(), po);
  }
  return out;
}

// deltas: (N, C, 4) C-contiguous.
template <class T>
py::array_t<T> decode(const CArray<T>& deltas, const CArray<T>& anchors, const std::vector<double>& weights,
                      double clip) {
  if (deltas.ndim() != 3 || deltas.shape(2) != 4) throw py::value_error("rel_codes must have shape (N, C, 4)");
  const int64_t n = deltas.shape(0), classes = deltas.shape(1);
  if (rows_of(anchors, 4, "boxes") != n) throw py::value_error("boxes must have one row per row of rel_codes");
  const auto w = weights_of(weights);
  py::array_t<T> out({n, classes, int64_t{4}});
  T* po = out.mutable_data();
  {
    py::gil_scoped_release release;
    box_decode<T>(deltas.data(), anchors.data(), n, classes, w.data(), clip, po);
  }
  return out;
}

}  // namespace

void bind_coders(py::module_& m) {
  m.def("box_encode", &encode<float>, py::arg("reference_boxes"), py::arg("proposals"), py::arg("weights"));
  m.def("box_encode", &encode<double>, py::arg("reference_boxes"), py::arg("proposals"), py::arg("weights"));
  m.def("box_decode", &decode<float>, py::arg("rel_codes"), py::arg("boxes"), py::arg("weights"), py::arg("clip"));
  m.def("box_decode", &decode<double>, py::arg("rel_codes"), py::arg("boxes"), py::arg("weights"), py::arg("clip"));
}

}  // namespace detkit::bind
