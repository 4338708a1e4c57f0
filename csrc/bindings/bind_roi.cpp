#include <stdexcept>

#include "bindings/common.h"
#include "core/roi_align.h"
#include "core/roi_pool.h"

namespace detkit::bind {

namespace {

// Raises ValueError unless `a` has `ndim` dimensions.
template <class T>
void require_ndim(const CArray<T>& a, py::ssize_t ndim, const char* name) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions");
}

RoiShape roi_shape(int64_t batch, int64_t channels, int64_t height, int64_t width, int64_t pooled_height,
                   int64_t pooled_width) {
  RoiShape s;
  s.batch = batch;
  s.channels = channels;
  s.height = height;
  s.width = width;
  s.pooled_height = pooled_height;
  s.pooled_width = pooled_width;
  return s;
}

RoiAlignOptions align_options(double spatial_scale, int64_t sampling_ratio, bool aligned) {
  RoiAlignOptions opt;
  opt.spatial_scale = spatial_scale;
  opt.sampling_ratio = sampling_ratio;
  opt.aligned = aligned;
  return opt;
}

// The kernels report bad shapes or RoIs with std::invalid_argument; surface them as ValueError.
template <class F>
void run_kernel(F&& kernel) {
  try {
    py::gil_scoped_release release;
    kernel();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
}

template <class T>
py::array_t<T> roi_align_binding(const CArray<T>& input, const CArray<T>& rois, int64_t pooled_height,
                                 int64_t pooled_width, double spatial_scale, int64_t sampling_ratio,
                                 bool aligned) {
  require_ndim(input, 4, "input");
  const int64_t k = rows_of(rois, 5, "rois");
  const RoiShape shape = roi_shape(input.shape(0), input.shape(1), input.shape(2), input.shape(3),
                                   pooled_height, pooled_width);
  const RoiAlignOptions opt = align_options(spatial_scale, sampling_ratio, aligned);
  py::array_t<T> out({k, shape.channels, std::max<int64_t>(pooled_height, 0), std::max<int64_t>(pooled_width, 0)});
  const T* in = input.data();
  const T* r = rois.data();
  T* o = out.mutable_data();
  run_kernel([&] { roi_align_forward<T>(in, r, k, shape, opt, o); });
  return out;
}

template <class T>
py::array_t<T> roi_align_backward_binding(const CArray<T>& grad_output, const CArray<T>& rois, int64_t batch,
                                          int64_t height, int64_t width, double spatial_scale,
                                          int64_t sampling_ratio, bool aligned) {
  require_ndim(grad_output, 4, "grad_output");
  const int64_t k = rows_of(rois, 5, "rois");
  if (grad_output.shape(0) != k) throw py::value_error("grad_output must have one row per RoI");
  const RoiShape shape = roi_shape(batch, grad_output.shape(1), height, width, grad_output.shape(2),
                                   grad_output.shape(3));
  const RoiAlignOptions opt = align_options(spatial_scale, sampling_ratio, aligned);
  py::array_t<T> grad_input({std::max<int64_t>(batch, 0), shape.channels, std::max<int64_t>(height, 0),
                             std::max<int64_t>(width, 0)});
  const T* g = grad_output.data();
  const T* r = rois.data();
  T* gi = grad_input.mutable_data();
  run_kernel([&] { roi_align_backward<T>(g, r, k, shape, opt, gi); });
  return grad_input;
}

template <class T>
py::tuple roi_pool_binding(const CArray<T>& input, const CArray<T>& rois, int64_t pooled_height,
                           int64_t pooled_width, double spatial_scale, bool with_argmax) {
  require_ndim(input, 4, "input");
  const int64_t k = rows_of(rois, 5, "rois");
  const RoiShape shape = roi_shape(input.shape(0), input.shape(1), input.shape(2), input.shape(3),
                                   pooled_height, pooled_width);
  const std::vector<py::ssize_t> dims = {k, shape.channels, std::max<int64_t>(pooled_height, 0),
                                         std::max<int64_t>(pooled_width, 0)};
  py::array_t<T> out(dims);
  py::object argmax = py::none();
  int64_t* a = nullptr;
  if (with_argmax) {
    py::array_t<int64_t> arr(dims);
    a = arr.mutable_data();
    argmax = arr;
  }
  const T* in = input.data();
  const T* r = rois.data();
  T* o = out.mutable_data();
  run_kernel([&] { roi_pool_forward<T>(in, r, k, shape, spatial_scale, o, a); });
  return py::make_tuple(out, argmax);
}

template <class T>
py::array_t<T> roi_pool_backward_binding(const CArray<T>& grad_output, const CArray<int64_t>& argmax,
                                         const CArray<T>& rois, int64_t batch, int64_t height, int64_t width) {
  require_ndim(grad_output, 4, "grad_output");
  const int64_t k = rows_of(rois, 5, "rois");
  if (grad_output.shape(0) != k) throw py::value_error("grad_output must have one row per RoI");
  require_ndim(argmax, 4, "argmax");
  for (py::ssize_t d = 0; d < 4; ++d)
    if (argmax.shape(d) != grad_output.shape(d)) throw py::value_error("argmax must have the shape of grad_output");
  const RoiShape shape = roi_shape(batch, grad_output.shape(1), height, width, grad_output.shape(2),
                                   grad_output.shape(3));
  py::array_t<T> grad_input({std::max<int64_t>(batch, 0), shape.channels, std::max<int64_t>(height, 0),
                             std::max<int64_t>(width, 0)});
  const T* g = grad_output.data();
  const int64_t* a = argmax.data();
  const T* r = rois.data();
  T* gi = grad_input.mutable_data();
  run_kernel([&] { roi_pool_backward<T>(g, a, r, k, shape, gi); });
  return grad_input;
}

template <class T>
void define(py::module_& m) {
  m.def("roi_align", &roi_align_binding<T>, py::arg("input"), py::arg("rois"), py::arg("pooled_height"),
        py::arg("pooled_width"), py::arg("spatial_scale"), py::arg("sampling_ratio"), py::arg("aligned"));
  m.def("roi_align_backward", &roi_align_backward_binding<T>, py::arg("grad_output"), py::arg("rois"),
        py::arg("batch"), py::arg("height"), py::arg("width"), py::arg("spatial_scale"),
        py::arg("sampling_ratio"), py::arg("aligned"));
  m.def("roi_pool", &roi_pool_binding<T>, py::arg("input"), py::arg("rois"), py::arg("pooled_height"),
        py::arg("pooled_width"), py::arg("spatial_scale"), py::arg("with_argmax"));
  m.def("roi_pool_backward", &roi_pool_backward_binding<T>, py::arg("grad_output"), py::arg("argmax"),
        py::arg("rois"), py::arg("batch"), py::arg("height"), py::arg("width"));
}

}  // namespace

void bind_roi(py::module_& m) {
  define<float>(m);
  define<double>(m);
}

}  // namespace detkit::bind
