#include "bindings/common.h"
#include "core/validate.h"

namespace detkit::bind {

namespace {

template <class T>
int64_t non_finite(const CArray<T>& a) {
  const T* p = a.data();
  const int64_t n = a.size();
  py::gil_scoped_release release;
  return first_non_finite(p, n);
}

template <class T>
int64_t invalid_box(const CArray<T>& a, bool xyxy) {
  const int64_t n = rows_of(a, 4, "boxes");
  const T* p = a.data();
  py::gil_scoped_release release;
  return first_invalid_box(p, n, xyxy);
}

}  // namespace

void bind_validate(py::module_& m) {
  // Exact dtypes only (noconvert): a converting overload would validate a copy, not the input.
  m.def("first_non_finite", &non_finite<float>, py::arg("values").noconvert());
  m.def("first_non_finite", &non_finite<double>, py::arg("values").noconvert());
  m.def("first_invalid_box", &invalid_box<float>, py::arg("boxes").noconvert(), py::arg("xyxy"));
  m.def("first_invalid_box", &invalid_box<double>, py::arg("boxes").noconvert(), py::arg("xyxy"));
}

}  // namespace detkit::bind
