#include "core/losses.h"

#include <cmath>
#include <vector>

#include "core/fastmath.h"
#include "core/parallel.h"

namespace detkit {

namespace {

// Work is split in chunks of kChunk elements; each chunk sums its losses in double (eight fixed
// lanes, then a fixed combination), and the chunk sums are added in chunk order, so a reduced loss
// is the same for any thread count.
constexpr int64_t kChunk = 1 << 14;

template <class T>
DETKIT_MULTIVERSION double sum_of(const T* v, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += static_cast<double>(v[i + k]);
  for (; i < n; ++i) lane[0] += static_cast<double>(v[i]);
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

// Runs fill(begin, end, dst) over chunks, dst receiving the chunk's per-element losses (into
// `out` when given, else a scratch buffer), and returns the ordered sum of all losses.
template <class T, class F>
double chunked_losses(int64_t n, T* out, F&& fill) {
  if (n <= 0) return 0.0;
  std::vector<double> partial(static_cast<size_t>((n + kChunk - 1) / kChunk), 0.0);
  parallel_for(n, kChunk, [&](int64_t begin, int64_t end) {
    std::vector<T> scratch(out ? 0 : static_cast<size_t>(std::min(kChunk, end - begin)));
    for (int64_t c = begin; c < end; c += kChunk) {
      const int64_t stop = std::min(end, c + kChunk);
      T* dst = out ? out + c : scratch.data();
      fill(c, stop, dst);
      partial[static_cast<size_t>(c / kChunk)] = sum_of(dst, stop - c);
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

// Elementary functions: vectorisable polynomials for float32, libm for float64.
template <class T>
struct Math;

template <>
struct Math<float> {
  DETKIT_ALWAYS_INLINE static float exp_nonpositive(float x) { return fastmath::exp_nonpositive(x); }
  DETKIT_ALWAYS_INLINE static float log1p_unit(float e) { return fastmath::log1p_unit(e); }
  DETKIT_ALWAYS_INLINE static float atan2_right(float y, float x) { return fastmath::atan2_right(y, x); }
  // base^gamma for base in [0, 1], gamma >= 0 (0^0 = 1), as exp(gamma log(base)).
  DETKIT_ALWAYS_INLINE static float pow_unit(float base, float gamma) {
    const float positive = fastmath::exp_any(gamma * fastmath::log_any(base > 0.0f ? base : 1.0f));
    return base > 0.0f ? positive : (gamma == 0.0f ? 1.0f : 0.0f);
  }
};

template <>
struct Math<double> {
  static double exp_nonpositive(double x) { return std::exp(x); }
  static double log1p_unit(double e) { return std::log1p(e); }
  static double atan2_right(double y, double x) { return std::atan2(y, x); }
  static double pow_unit(double base, double gamma) { return std::pow(base, gamma); }
};

// ---- sigmoid focal loss ------------------------------------------------------------------------

// The modulating factor base^gamma; gamma == 2 (the common case) avoids pow.
enum class Power { kSquare, kGeneral };

template <Power P, class T>
DETKIT_ALWAYS_INLINE T power(T base, T gamma) {
  if constexpr (P == Power::kSquare) {
    (void)gamma;
    return base * base;
  } else {
    return Math<T>::pow_unit(base, gamma);
  }
}

// d(base^gamma)/d(base) given modulator = base^gamma: gamma base^gamma / base, which needs no
// second power. Selects rather than branches, so the loop vectorises; 0 where base == 0 and
// gamma < 1 (where the derivative is infinite).
template <Power P, class T>
DETKIT_ALWAYS_INLINE T power_derivative(T base, T gamma, T modulator) {
  if constexpr (P == Power::kSquare) {
    (void)gamma;
    (void)modulator;
    return T(2) * base;
  } else {
    const T general = base > T(0) ? gamma * (modulator / (base > T(0) ? base : T(1))) : T(0);
    return gamma == T(0) ? T(0) : (gamma == T(1) ? T(1) : general);
  }
}

// Everything the focal loss and its gradient need, from one exp and one log1p.
template <class T>
struct FocalTerms {
  T ce;     // binary cross-entropy with logits
  T p, q;   // sigmoid(x) and 1 - sigmoid(x), each computed without cancellation
  T base;   // 1 - p_t
  T alpha_t;
};

template <class T>
DETKIT_ALWAYS_INLINE FocalTerms<T> focal_terms(T x, T t, T alpha) {
  const T e = Math<T>::exp_nonpositive(x < T(0) ? x : -x);
  const T inv = T(1) / (T(1) + e);
  FocalTerms<T> f;
  f.ce = ((x > T(0) ? x : T(0)) - x * t) + Math<T>::log1p_unit(e);
  f.p = x >= T(0) ? inv : e * inv;
  f.q = x >= T(0) ? e * inv : inv;
  f.base = f.p * (T(1) - t) + f.q * t;
  f.alpha_t = alpha >= T(0) ? alpha * t + (T(1) - alpha) * (T(1) - t) : T(1);
  return f;
}

template <Power P, class T>
DETKIT_MULTIVERSION void focal_forward_range(const T* x, const T* t, int64_t begin, int64_t end, T alpha,
                                             T gamma, T* dst) {
  for (int64_t i = begin; i < end; ++i) {
    const FocalTerms<T> f = focal_terms(x[i], t[i], alpha);
    dst[i - begin] = f.alpha_t * (f.ce * power<P>(f.base, gamma));
  }
}

template <Power P, class T>
double focal_forward(const T* x, const T* t, int64_t n, T alpha, T gamma, T* out) {
  return chunked_losses(n, out, [&](int64_t begin, int64_t end, T* dst) {
    focal_forward_range<P>(x, t, begin, end, alpha, gamma, dst);
  });
}

template <Power P, bool PerElement, class T>
DETKIT_MULTIVERSION void focal_backward_range(const T* x, const T* t, int64_t begin, int64_t end, T alpha, T gamma,
                          const T* grad_out, T grad_scalar, T* grad_in) {
  for (int64_t i = begin; i < end; ++i) {
    const FocalTerms<T> f = focal_terms(x[i], t[i], alpha);
    const T modulator = power<P>(f.base, gamma);
    // d(1 - p_t)/dx = (1 - 2t) p (1 - p);  d(ce)/dx = p - t.
    const T dbase = (T(1) - T(2) * t[i]) * (f.p * f.q);
    const T grad = f.alpha_t * ((f.p - t[i]) * modulator + f.ce * (power_derivative<P>(f.base, gamma, modulator) * dbase));
    grad_in[i] = grad * (PerElement ? grad_out[i] : grad_scalar);
  }
}

template <Power P, class T>
void focal_backward(const T* x, const T* t, int64_t n, T alpha, T gamma, const T* grad_out,
                    T grad_scalar, T* grad_in) {
  parallel_for(n, kChunk, [&](int64_t begin, int64_t end) {
    if (grad_out)
      focal_backward_range<P, true>(x, t, begin, end, alpha, gamma, grad_out, grad_scalar, grad_in);
    else
      focal_backward_range<P, false>(x, t, begin, end, alpha, gamma, grad_out, grad_scalar, grad_in);
  });
}

// ---- smooth L1 ---------------------------------------------------------------------------------

template <class T>
DETKIT_MULTIVERSION void smooth_l1_forward_range(const T* x, const T* t, int64_t begin, int64_t end, T beta,
                                                 T* dst) {
  const T half_beta = T(0.5) * beta;
  const T safe_beta = beta > T(0) ? beta : T(1);  // never divides by zero (|d| < 0 is never true)
  for (int64_t i = begin; i < end; ++i) {
    const T diff = x[i] - t[i];
    const T d = diff < T(0) ? -diff : diff;
    const T quadratic = T(0.5) * d * d / safe_beta;  // both sides computed: a select vectorises
    const T linear = d - half_beta;
    dst[i - begin] = d < beta ? quadratic : linear;
  }
}

template <bool PerElement, class T>
DETKIT_MULTIVERSION void smooth_l1_backward_range(const T* x, const T* t, int64_t begin, int64_t end, T beta,
                              const T* grad_out, T grad_scalar, T* grad_in) {
  for (int64_t i = begin; i < end; ++i) {
    const T d = x[i] - t[i];
    const T sign = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
    const T ad = d < T(0) ? -d : d;
    const T grad = ad < beta ? d / (beta > T(0) ? beta : T(1)) : sign;
    grad_in[i] = grad * (PerElement ? grad_out[i] : grad_scalar);
  }
}

// ---- box losses ----------------------------------------------------------------------------------

constexpr double kFourOverPiSquared = 4.0 / (M_PI * M_PI);

// d max(a, b)/da: 1 where a is larger, 0 where smaller, 1/2 on ties (torch's convention, so the
// gradient of touching or aligned edges matches autograd); likewise for min.
template <class T>
inline T wins_max(T a, T b) { return a > b ? T(1) : (a == b ? T(0.5) : T(0)); }
template <class T>
inline T wins_min(T a, T b) { return a < b ? T(1) : (a == b ? T(0.5) : T(0)); }

// Loss of one pair; with Grad, also writes d(loss)/d(box p) scaled by `go` into grad[0..3].
template <BoxLossKind K, bool Grad, class T>
DETKIT_ALWAYS_INLINE T pair_loss(const T* p, const T* g, T eps, T go, T* grad) {
  const T x1 = p[0], y1 = p[1], x2 = p[2], y2 = p[3];
  const T g1 = g[0], h1 = g[1], g2 = g[2], h2 = g[3];
  const T w = x2 - x1, h = y2 - y1;
  const T ix1 = x1 > g1 ? x1 : g1, iy1 = y1 > h1 ? y1 : h1;
  const T ix2 = x2 < g2 ? x2 : g2, iy2 = y2 < h2 ? y2 : h2;
  const bool overlap = ix2 > ix1 && iy2 > iy1;
  const T iw = overlap ? ix2 - ix1 : T(0), ih = overlap ? iy2 - iy1 : T(0);
  const T inter = iw * ih;
  const T uni = w * h + (g2 - g1) * (h2 - h1) - inter;
  const T ue = uni + eps;
  const T iou = inter / ue;
  const T cx1 = x1 < g1 ? x1 : g1, cy1 = y1 < h1 ? y1 : h1;
  const T cx2 = x2 > g2 ? x2 : g2, cy2 = y2 > h2 ? y2 : h2;
  const T cw = cx2 - cx1, ch = cy2 - cy1;
  T loss;
  T c2 = T(0), d2 = T(0), dx = T(0), dy = T(0), penalty = T(0), enclose = T(0);
  T v = T(0), alpha = T(0), angle_diff = T(0);
  if constexpr (K == BoxLossKind::kGeneralized) {
    enclose = cw * ch;
    penalty = (enclose - uni) / (enclose + eps);
    loss = T(1) - (iou - penalty);
  } else {
    c2 = cw * cw + ch * ch + eps;
    dx = (x2 + x1) / T(2) - (g1 + g2) / T(2);
    dy = (y2 + y1) / T(2) - (h1 + h2) / T(2);
    d2 = dx * dx + dy * dy;
    loss = T(1) - iou + d2 / c2;
    if constexpr (K == BoxLossKind::kComplete) {
      // atan(wg / hg) - atan(w / h) as one atan2 (both angles lie in [0, pi/2]).
      const T wg = g2 - g1, hg = h2 - h1;
      angle_diff = Math<T>::atan2_right(wg * h - w * hg, hg * h + wg * w);
      v = T(kFourOverPiSquared) * (angle_diff * angle_diff);
      alpha = v / (T(1) - iou + v + eps);
      loss = loss + alpha * v;
    }
  }
  if constexpr (Grad) {
    // Derivatives of the pieces with respect to x1, y1, x2, y2 of the first box.
    const T on = overlap ? T(1) : T(0);
    const T d_inter[4] = {-on * ih * wins_max(x1, g1), -on * iw * wins_max(y1, h1),
                          on * ih * wins_min(x2, g2), on * iw * wins_min(y2, h2)};
    const T d_area[4] = {-h, -w, h, w};
    const T d_cw[4] = {-wins_min(x1, g1), T(0), wins_max(x2, g2), T(0)};
    const T d_ch[4] = {T(0), -wins_min(y1, h1), T(0), wins_max(y2, h2)};
    T dv_dw = T(0), dv_dh = T(0);
    if constexpr (K == BoxLossKind::kComplete) {
      const T s = w * w + h * h;
      // d atan(w / h)/dw = h / (w^2 + h^2), d/dh = -w / (w^2 + h^2); v = k (a_g - a_p)^2.
      const T k = s > T(0) ? T(-2) * T(kFourOverPiSquared) * angle_diff / (s > T(0) ? s : T(1)) : T(0);
      dv_dw = k * h;
      dv_dh = -k * w;
    }
    for (int c = 0; c < 4; ++c) {
      const T du = d_area[c] - d_inter[c];
      T d = -(d_inter[c] - iou * du) / ue;
      if constexpr (K == BoxLossKind::kGeneralized) {
        const T dc = ch * d_cw[c] + cw * d_ch[c];
        d = d + ((dc - du) - penalty * dc) / (enclose + eps);
      } else {
        const T dd2 = (c % 2 == 0) ? dx : dy;
        const T dc2 = T(2) * (cw * d_cw[c] + ch * d_ch[c]);
        d = d + (dd2 - (d2 / c2) * dc2) / c2;
        if constexpr (K == BoxLossKind::kComplete) {
          const T sign = c < 2 ? T(-1) : T(1);
          d = d + alpha * sign * (c % 2 == 0 ? dv_dw : dv_dh);
        }
      }
      grad[c] = d * go;
    }
  }
  return loss;
}

template <BoxLossKind K, class T>
DETKIT_MULTIVERSION void box_forward_range(const T* a, const T* b, int64_t begin, int64_t end, T eps, T* dst) {
  for (int64_t i = begin; i < end; ++i)
    dst[i - begin] = pair_loss<K, false>(a + 4 * i, b + 4 * i, eps, T(0), static_cast<T*>(nullptr));
}

template <BoxLossKind K, class T>
double box_forward(const T* a, const T* b, int64_t n, T eps, T* out) {
  return chunked_losses(n, out, [&](int64_t begin, int64_t end, T* dst) {
    box_forward_range<K>(a, b, begin, end, eps, dst);
  });
}

template <BoxLossKind K, bool PerElement, class T>
DETKIT_MULTIVERSION void box_backward_range(const T* a, const T* b, int64_t begin, int64_t end, T eps, const T* grad_out,
                        T grad_scalar, T* grad_in) {
  for (int64_t i = begin; i < end; ++i)
    pair_loss<K, true>(a + 4 * i, b + 4 * i, eps, PerElement ? grad_out[i] : grad_scalar, grad_in + 4 * i);
}

template <BoxLossKind K, class T>
void box_backward(const T* a, const T* b, int64_t n, T eps, const T* grad_out, T grad_scalar,
                  T* grad_in) {
  parallel_for(n, kChunk, [&](int64_t begin, int64_t end) {
    if (grad_out)
      box_backward_range<K, true>(a, b, begin, end, eps, grad_out, grad_scalar, grad_in);
    else
      box_backward_range<K, false>(a, b, begin, end, eps, grad_out, grad_scalar, grad_in);
  });
}

}  // namespace

template <class T>
double sigmoid_focal_loss(const T* x, const T* t, int64_t n, T alpha, T gamma, T* out) {
  if (gamma == T(2)) return focal_forward<Power::kSquare>(x, t, n, alpha, gamma, out);
  return focal_forward<Power::kGeneral>(x, t, n, alpha, gamma, out);
}

template <class T>
void sigmoid_focal_loss_backward(const T* x, const T* t, int64_t n, T alpha, T gamma,
                                 const T* grad_out, T grad_scalar, T* grad_in) {
  if (gamma == T(2))
    return focal_backward<Power::kSquare>(x, t, n, alpha, gamma, grad_out, grad_scalar, grad_in);
  focal_backward<Power::kGeneral>(x, t, n, alpha, gamma, grad_out, grad_scalar, grad_in);
}

template <class T>
double smooth_l1_loss(const T* x, const T* t, int64_t n, T beta, T* out) {
  return chunked_losses(n, out, [&](int64_t begin, int64_t end, T* dst) {
    smooth_l1_forward_range(x, t, begin, end, beta, dst);
  });
}

template <class T>
void smooth_l1_loss_backward(const T* x, const T* t, int64_t n, T beta, const T* grad_out,
                             T grad_scalar, T* grad_in) {
  parallel_for(n, kChunk, [&](int64_t begin, int64_t end) {
    if (grad_out)
      smooth_l1_backward_range<true>(x, t, begin, end, beta, grad_out, grad_scalar, grad_in);
    else
      smooth_l1_backward_range<false>(x, t, begin, end, beta, grad_out, grad_scalar, grad_in);
  });
}

template <class T>
double box_loss(const T* a, const T* b, int64_t n, BoxLossKind kind, T eps, T* out) {
  switch (kind) {
    case BoxLossKind::kGeneralized: return box_forward<BoxLossKind::kGeneralized>(a, b, n, eps, out);
    case BoxLossKind::kDistance: return box_forward<BoxLossKind::kDistance>(a, b, n, eps, out);
    case BoxLossKind::kComplete: return box_forward<BoxLossKind::kComplete>(a, b, n, eps, out);
  }
  return 0.0;
}

template <class T>
void box_loss_backward(const T* a, const T* b, int64_t n, BoxLossKind kind, T eps,
                       const T* grad_out, T grad_scalar, T* grad_in) {
  switch (kind) {
    case BoxLossKind::kGeneralized:
      return box_backward<BoxLossKind::kGeneralized>(a, b, n, eps, grad_out, grad_scalar, grad_in);
    case BoxLossKind::kDistance:
      return box_backward<BoxLossKind::kDistance>(a, b, n, eps, grad_out, grad_scalar, grad_in);
    case BoxLossKind::kComplete:
      return box_backward<BoxLossKind::kComplete>(a, b, n, eps, grad_out, grad_scalar, grad_in);
  }
}

#define DETKIT_INSTANTIATE_LOSSES(T)                                                               \
  template double sigmoid_focal_loss<T>(const T*, const T*, int64_t, T, T, T*);                    \
  template void sigmoid_focal_loss_backward<T>(const T*, const T*, int64_t, T, T, const T*, T, T*); \
  template double smooth_l1_loss<T>(const T*, const T*, int64_t, T, T*);                           \
  template void smooth_l1_loss_backward<T>(const T*, const T*, int64_t, T, const T*, T, T*);       \
  template double box_loss<T>(const T*, const T*, int64_t, BoxLossKind, T, T*);                    \
  template void box_loss_backward<T>(const T*, const T*, int64_t, BoxLossKind, T, const T*, T, T*);

DETKIT_INSTANTIATE_LOSSES(float)
DETKIT_INSTANTIATE_LOSSES(double)

}  // namespace detkit
