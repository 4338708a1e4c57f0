#include "bindings/common.h"
#include "core/box_iou.h"

namespace detkit::bind {

namespace {

IouKind kind_of(int kind) {
  if (kind < 0 || kind > 3) throw py::value_error("kind must be 0, 1, 2 or 3");
  return static_cast<IouKind>(kind);
}

template <class T>
py::array_t<T> pairwise(const CArray<T>& a, const CArray<T>& b, int kind, double offset, double eps) {
  const int64_t n = rows_of(a, 4, "boxes1");
  const int64_t m = rows_of(b, 4, "boxes2");
  const IouKind iou_kind = kind_of(kind);
  py::array_t<T> out({n, m});
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.mutable_data();
  {
    py::gil_scoped_release release;
    box_iou_pairwise<T>(pa, n, pb, m, iou_kind, T(offset), T(eps), po);
  }
  return out;
}

template <class T>
py::array_t<T> aligned(const CArray<T>& a, const CArray<T>& b, int kind, double offset, double eps) {
  const int64_t n = rows_of(a, 4, "boxes1");
  if (rows_of(b, 4, "boxes2") != n) throw py::value_error("boxes1 and boxes2 must have equal length");
  const IouKind iou_kind = kind_of(kind);
  py::array_t<T> out(n);
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.mutable_data();
  {
    py::gil_scoped_release release;
    box_iou_aligned<T>(pa, pb, n, iou_kind, T(offset), T(eps), po);
  }
  return out;
}

}  // namespace

void bind_box_iou(py::module_& m) {
  // kind: 0 IoU, 1 generalized, 2 distance, 3 complete (detkit.ops.boxes maps names to these).
  m.def("box_iou_pairwise", &pairwise<float>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("offset"), py::arg("eps"));
  m.def("box_iou_pairwise", &pairwise<double>, py::arg("boxes1"), py::arg("boxes2"),
        py::arg("kind"), py::arg("offset"), py::arg("eps"));
  m.def("box_iou_aligned", &aligned<float>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("offset"), py::arg("eps"));
  m.def("box_iou_aligned", &aligned<double>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("offset"), py::arg("eps"));
}

}  // namespace detkit::bind
