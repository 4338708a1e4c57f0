#include "bindings/common.h"
#include "core/losses.h"

namespace detkit::bind {

namespace {

// Raises ValueError unless x and t are one-dimensional with equal lengths.
template <class T>
int64_t same_length(const CArray<T>& x, const CArray<T>& t) {
  if (x.ndim() != 1) throw py::value_error("inputs must be one-dimensional (flattened)");
  require_length(t, x.shape(0), "targets");
  return x.shape(0);
}

// The upstream gradient: an array of n values or, when None, the scalar for every element.
template <class T>
const T* grad_pointer(const py::object& grad_out, int64_t n, CArray<T>& holder) {
  if (grad_out.is_none()) return nullptr;
  holder = grad_out.cast<CArray<T>>();
  require_length(holder, n, "grad_output");
  return holder.data();
}

// Runs `forward(out_or_null)` without the GIL; returns (per-element losses or None, sum).
template <class T, class F>
py::tuple run_forward(int64_t n, bool elementwise, F&& forward) {
  py::object losses = py::none();
  T* out = nullptr;
  if (elementwise) {
    py::array_t<T> arr(n);
    out = arr.mutable_data();
    losses = arr;
  }
  double total;
  {
    py::gil_scoped_release release;
    total = forward(out);
  }
  return py::make_tuple(losses, total);
}

template <class T>
py::tuple focal(const CArray<T>& x, const CArray<T>& t, double alpha, double gamma, bool elementwise) {
  const int64_t n = same_length(x, t);
  if (!(gamma >= 0)) throw py::value_error("gamma must be >= 0");
  return run_forward<T>(n, elementwise, [&](T* out) {
    return sigmoid_focal_loss<T>(x.data(), t.data(), n, T(alpha), T(gamma), out);
  });
}

template <class T>
py::array_t<T> focal_backward(const CArray<T>& x, const CArray<T>& t, double alpha, double gamma,
                              py::object grad_out, double grad_scalar) {
  const int64_t n = same_length(x, t);
  if (!(gamma >= 0)) throw py::value_error("gamma must be >= 0");
  CArray<T> holder;
  const T* go = grad_pointer(grad_out, n, holder);
  py::array_t<T> grad(n);
  T* g = grad.mutable_data();
  {
    py::gil_scoped_release release;
    sigmoid_focal_loss_backward<T>(x.data(), t.data(), n, T(alpha), T(gamma), go, T(grad_scalar), g);
  }
  return grad;
}

template <class T>
py::tuple smooth_l1(const CArray<T>& x, const CArray<T>& t, double beta, bool elementwise) {
  const int64_t n = same_length(x, t);
  if (!(beta >= 0)) throw py::value_error("beta must be >= 0");
  return run_forward<T>(n, elementwise, [&](T* out) {
    return smooth_l1_loss<T>(x.data(), t.data(), n, T(beta), out);
  });
}

template <class T>
py::array_t<T> smooth_l1_backward(const CArray<T>& x, const CArray<T>& t, double beta,
                                  py::object grad_out, double grad_scalar) {
  const int64_t n = same_length(x, t);
  if (!(beta >= 0)) throw py::value_error("beta must be >= 0");
  CArray<T> holder;
  const T* go = grad_pointer(grad_out, n, holder);
  py::array_t<T> grad(n);
  T* g = grad.mutable_data();
  {
    py::gil_scoped_release release;
    smooth_l1_loss_backward<T>(x.data(), t.data(), n, T(beta), go, T(grad_scalar), g);
  }
  return grad;
}

BoxLossKind box_kind(int kind) {
  if (kind < 1 || kind > 3) throw py::value_error("kind must be 1 (GIoU), 2 (DIoU) or 3 (CIoU)");
  return static_cast<BoxLossKind>(kind);
}

template <class T>
int64_t box_pairs(const CArray<T>& a, const CArray<T>& b) {
  const int64_t n = rows_of(a, 4, "boxes1");
  if (rows_of(b, 4, "boxes2") != n) throw py::value_error("boxes1 and boxes2 must have equal length");
  return n;
}

template <class T>
py::tuple box(const CArray<T>& a, const CArray<T>& b, int kind, double eps, bool elementwise) {
  const int64_t n = box_pairs(a, b);
  const BoxLossKind k = box_kind(kind);
  return run_forward<T>(n, elementwise, [&](T* out) {
    return box_loss<T>(a.data(), b.data(), n, k, T(eps), out);
  });
}

template <class T>
py::array_t<T> box_backward(const CArray<T>& a, const CArray<T>& b, int kind, double eps,
                            py::object grad_out, double grad_scalar) {
  const int64_t n = box_pairs(a, b);
  const BoxLossKind k = box_kind(kind);
  CArray<T> holder;
  const T* go = grad_pointer(grad_out, n, holder);
  py::array_t<T> grad({n, int64_t{4}});
  T* g = grad.mutable_data();
  {
    py::gil_scoped_release release;
    box_loss_backward<T>(a.data(), b.data(), n, k, T(eps), go, T(grad_scalar), g);
  }
  return grad;
}

template <class T>
void bind_typed(py::module_& m) {
  m.def("sigmoid_focal_loss", &focal<T>, py::arg("inputs"), py::arg("targets"), py::arg("alpha"),
        py::arg("gamma"), py::arg("elementwise"));
  m.def("sigmoid_focal_loss_backward", &focal_backward<T>, py::arg("inputs"), py::arg("targets"),
        py::arg("alpha"), py::arg("gamma"), py::arg("grad_output"), py::arg("grad_scalar"));
  m.def("smooth_l1_loss", &smooth_l1<T>, py::arg("inputs"), py::arg("targets"), py::arg("beta"),
        py::arg("elementwise"));
  m.def("smooth_l1_loss_backward", &smooth_l1_backward<T>, py::arg("inputs"), py::arg("targets"),
        py::arg("beta"), py::arg("grad_output"), py::arg("grad_scalar"));
  m.def("box_loss", &box<T>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"), py::arg("eps"),
        py::arg("elementwise"));
  m.def("box_loss_backward", &box_backward<T>, py::arg("boxes1"), py::arg("boxes2"), py::arg("kind"),
        py::arg("eps"), py::arg("grad_output"), py::arg("grad_scalar"));
}

}  // namespace

void bind_losses(py::module_& m) {
  // Flat (1-D) inputs of one dtype; each returns (per-element losses or None, float64 sum).
  bind_typed<float>(m);
  bind_typed<double>(m);
}

}  // namespace detkit::bind
