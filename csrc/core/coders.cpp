#include "core/coders.h"

#include <cmath>

#include "core/fastmath.h"
#include "core/parallel.h"

namespace detkit {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <class T>
struct CoderMath;

template <>
struct CoderMath<float> {
  DETKIT_ALWAYS_INLINE static float exp(float x) { return fastmath::exp_any(x); }
  DETKIT_ALWAYS_INLINE static float log(float x) { return fastmath::log_any(x); }
};

template <>
struct CoderMath<double> {
  static double exp(double x) { return std::exp(x); }
  static double log(double x) { return std::log(x); }
};

template <class T>
DETKIT_MULTIVERSION void encode_range(const T* gt, const T* anchors, int64_t begin, int64_t end, T wx, T wy,
                                      T ww, T wh, T* out) {
  for (int64_t i = begin; i < end; ++i) {
    const T* a = anchors + 4 * i;
    const T* g = gt + 4 * i;
    const T ew = a[2] - a[0], eh = a[3] - a[1];
    const T ex = a[0] + T(0.5) * ew, ey = a[1] + T(0.5) * eh;
    const T gw = g[2] - g[0], gh = g[3] - g[1];
    const T gx = g[0] + T(0.5) * gw, gy = g[1] + T(0.5) * gh;
    T* o = out + 4 * i;
    o[0] = wx * (gx - ex) / ew;
    o[1] = wy * (gy - ey) / eh;
    o[2] = ww * CoderMath<T>::log(gw / ew);
    o[3] = wh * CoderMath<T>::log(gh / eh);
  }
}

// One delta row d against anchor a, written to o.
template <class T>
DETKIT_ALWAYS_INLINE void decode_one(const T* d, const T* a, T wx, T wy, T ww, T wh, T limit, T* o) {
  const T w = a[2] - a[0], h = a[3] - a[1];
  const T cx = a[0] + T(0.5) * w, cy = a[1] + T(0.5) * h;
  const T dw = d[2] / ww, dh = d[3] / wh;
  const T px = d[0] / wx * w + cx;
  const T py = d[1] / wy * h + cy;
  const T pw = CoderMath<T>::exp(dw < limit ? dw : limit) * w;
  const T ph = CoderMath<T>::exp(dh < limit ? dh : limit) * h;
  const T half_w = T(0.5) * pw, half_h = T(0.5) * ph;
  o[0] = px - half_w;
  o[1] = py - half_h;
  o[2] = px + half_w;
  o[3] = py + half_h;
}

template <class T>
DETKIT_MULTIVERSION void decode_range(const T* deltas, const T* anchors, int64_t begin, int64_t end,
                                      int64_t classes, T wx, T wy, T ww, T wh, T limit, T* out) {
  if (classes == 1) {  // the common case gets its own loop, vectorised across boxes
    for (int64_t i = begin; i < end; ++i)
      decode_one(deltas + 4 * i, anchors + 4 * i, wx, wy, ww, wh, limit, out + 4 * i);
    return;
  }
  for (int64_t i = begin; i < end; ++i)
    for (int64_t c = 0; c < classes; ++c)
      decode_one(deltas + 4 * (i * classes + c), anchors + 4 * i, wx, wy, ww, wh, limit,
                 out + 4 * (i * classes + c));
}

}  // namespace

template <class T>
void box_encode(const T* gt, const T* anchors, int64_t n, const double* weights, T* out) {
  const T wx = T(weights[0]), wy = T(weights[1]), ww = T(weights[2]), wh = T(weights[3]);
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    encode_range(gt, anchors, begin, end, wx, wy, ww, wh, out);
  });
}

template <class T>
void box_decode(const T* deltas, const T* anchors, int64_t n, int64_t classes, const double* weights,
                double clip, T* out) {
  const T wx = T(weights[0]), wy = T(weights[1]), ww = T(weights[2]), wh = T(weights[3]);
  const T limit = T(clip);
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(classes, 1));
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    decode_range(deltas, anchors, begin, end, classes, wx, wy, ww, wh, limit, out);
  });
}

template void box_encode<float>(const float*, const float*, int64_t, const double*, float*);
template void box_encode<double>(const double*, const double*, int64_t, const double*, double*);
template void box_decode<float>(const float*, const float*, int64_t, int64_t, const double*, double, float*);
template void box_decode<double>(const double*, const double*, int64_t, int64_t, const double*, double, double*);

}  // namespace detkit
