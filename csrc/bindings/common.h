// Shared helpers for the bindings. The Python layer (detkit._validation) checks inputs fully;
// these re-checks only guard against what would be undefined behaviour in the kernels.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace detkit::bind {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// Raises ValueError unless `a` is (N, width).
template <class T>
int64_t rows_of(const CArray<T>& a, int64_t width, const char* name) {
  if (a.ndim() != 2 || a.shape(1) != width)
    throw py::value_error(std::string(name) + " must have shape (N, " + std::to_string(width) + ")");
  return a.shape(0);
}

// Raises ValueError unless `a` is one-dimensional with `n` entries.
template <class T>
void require_length(const CArray<T>& a, int64_t n, const char* name) {
  if (a.ndim() != 1 || a.shape(0) != n)
    throw py::value_error(std::string(name) + " must be one-dimensional with " + std::to_string(n) +
                          " entries");
}

// Moves a vector into a new 1-D numpy array without copying the data.
template <class T, class Allocator>
py::array_t<T> to_numpy(std::vector<T, Allocator>&& values) {
  using Vector = std::vector<T, Allocator>;
  auto* owned = new Vector(std::move(values));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<Vector*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, owned->data(), free_when_done);
}

void bind_parallel(py::module_& m);
void bind_box_iou(py::module_& m);
void bind_nms(py::module_& m);
void bind_validate(py::module_& m);
void bind_roi(py::module_& m);
void bind_anchors(py::module_& m);
void bind_losses(py::module_& m);
void bind_selective_search(py::module_& m);
void bind_coco_eval(py::module_& m);
void bind_coders(py::module_& m);

}  // namespace detkit::bind
