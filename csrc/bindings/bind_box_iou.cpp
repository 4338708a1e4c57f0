#include "bindings/common.h"
#include "core/box_iou.h"

#include <algorithm>

namespace detkit::bind {

namespace {

IouKind kind_of(int kind) {
  if (kind < 0 || kind > 3) throw py::value_error("kind must be 0, 1, 2 or 3");
  return static_cast<IouKind>(kind);
}

// The caller's `out` buffer when one is given (re-checked: writing through a wrong view would be
// undefined behaviour), else a new array.
template <class T>
py::array_t<T> output_array(const py::object& out, std::vector<py::ssize_t> shape) {
  if (out.is_none()) return py::array_t<T>(shape);
  if (!py::isinstance<py::array_t<T>>(out)) throw py::type_error("out has the wrong dtype");
  auto arr = py::reinterpret_borrow<py::array_t<T>>(out);
  const bool shape_ok = arr.ndim() == static_cast<py::ssize_t>(shape.size()) &&
                        std::equal(shape.begin(), shape.end(), arr.shape());
  if (!shape_ok || !(arr.flags() & py::array::c_style) || !arr.writeable())
    throw py::value_error("out must be a writeable C-contiguous array of the result's shape");
  return arr;
}

template <class T>
py::array_t<T> pairwise(const CArray<T>& a, const CArray<T>& b, int kind, double offset, double eps,
                        const py::object& out_arg) {
  const int64_t n = rows_of(a, 4, "boxes1");
  const int64_t m = rows_of(b, 4, "boxes2");
  const IouKind iou_kind = kind_of(kind);
  py::array_t<T> out = output_array<T>(out_arg, {n, m});
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
py::array_t<T> aligned(const CArray<T>& a, const CArray<T>& b, int kind, double offset, double eps,
                       const py::object& out_arg) {
  const int64_t n = rows_of(a, 4, "boxes1");
  if (rows_of(b, 4, "boxes2") != n) throw py::value_error("boxes1 and boxes2 must have equal length");
  const IouKind iou_kind = kind_of(kind);
  py::array_t<T> out = output_array<T>(out_arg, {n});
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
        py::arg("offset"), py::arg("eps"), py::arg("out") = py::none());
  m.def("box_iou_pairwise", &pairwise<double>, py::arg("boxes1"), py::arg("boxes2"),
        py::arg("kind"), py::arg("offset"), py::arg("eps"), py::arg("out") = py::none());
  m.def("box_iou_aligned", &aligned<float>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("offset"), py::arg("eps"), py::arg("out") = py::none());
  m.def("box_iou_aligned", &aligned<double>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("offset"), py::arg("eps"), py::arg("out") = py::none());
}

}  // namespace detkit::bind
