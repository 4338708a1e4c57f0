// Branch-free float32 elementary functions that GCC/Clang can vectorise (no libm calls), for the
// loss kernels' hot loops. Cephes-style range reduction and minimax polynomials; accuracy is a
// few ulp over the stated domains (checked against libm in tests/cpp/test_losses.cpp). Written
// with selects instead of branches and without fused multiply-adds (-ffp-contract=off).
#pragma once

#include <cstdint>
#include <cstring>

// Forces inlining into the (vectorised) caller loop; plain `inline` elsewhere.
#if defined(__GNUC__) || defined(__clang__)
#define DETKIT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define DETKIT_ALWAYS_INLINE inline
#endif

// Compiles a hot loop twice, for AVX2 and for the baseline, and picks one at load time (GCC on
// x86-64 glibc Linux, through an ifunc); elsewhere a plain function. Both clones perform the same
// IEEE operations (AVX2 has no FMA and -ffp-contract=off), so results do not depend on the CPU.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define DETKIT_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define DETKIT_MULTIVERSION
#endif

namespace detkit::fastmath {

DETKIT_ALWAYS_INLINE float bits_to_float(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The shared core of the exps: n = round(x / ln 2) by the 1.5 * 2^23 trick (|x / ln 2| < 2^22
// for the clamped x here) and y = exp(x - n ln 2) by a polynomial, so exp(x) = y * 2^n.
DETKIT_ALWAYS_INLINE float exp_reduced(float clamped, float& n) {
  n = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  return y;
}

// exp(x) for x <= 0; 0 below -87.3 (where float32 leaves the normal range).
DETKIT_ALWAYS_INLINE float exp_nonpositive(float x) {
  const float clamped = x < -87.3f ? -87.3f : x;
  float n;
  const float y = exp_reduced(clamped, n);
  const float scale = bits_to_float((static_cast<int32_t>(n) + 127) << 23);
  return x < -87.3f ? 0.0f : y * scale;
}

// exp(x) for any x: 0 below -87.3, +inf above 88.72 (the float32 range). The scale 2^n is
// applied in two halves so that n = 128 does not overflow the exponent field.
DETKIT_ALWAYS_INLINE float exp_any(float x) {
  const float clamped = x < -87.3f ? -87.3f : (x > 88.72f ? 88.72f : x);
  float n;
  const float y = exp_reduced(clamped, n);
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni / 2;
  const float scaled = (y * bits_to_float((half + 127) << 23)) * bits_to_float((ni - half + 127) << 23);
  const float inf = bits_to_float(0x7f800000);
  return x < -87.3f ? 0.0f : (x > 88.72f ? inf : scaled);
}

// log(1 + f) for f in [-0.2929, 0.4142] (Cephes logf kernel).
DETKIT_ALWAYS_INLINE float log1p_reduced(float f) {
  const float z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  y = y - 0.5f * z;
  return f + y;
}

// log1p(e) for e in [0, 1]: above sqrt(2) - 1 use log1p(e) = ln 2 + log(1 + (e - 1) / 2).
DETKIT_ALWAYS_INLINE float log1p_unit(float e) {
  const bool high = e > 0.41421356f;
  const float f = high ? (e - 1.0f) * 0.5f : e;
  const float y = log1p_reduced(f);
  return high ? (y + -2.12194440e-4f) + 0.693359375f : y;
}

// log(x) for x >= 0 (subnormals included): -inf at 0, +inf at +inf, NaN for x < 0 or NaN.
DETKIT_ALWAYS_INLINE float log_any(float x) {
  const bool tiny = x < 1.17549435e-38f;
  const float scaled = tiny ? x * 8388608.0f : x;  // 2^23 lifts subnormals into the normal range
  int32_t bits;
  std::memcpy(&bits, &scaled, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 127 - (tiny ? 23 : 0);
  float m = bits_to_float((bits & 0x007fffff) | 0x3f800000);  // mantissa in [1, 2)
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  e = high ? e + 1 : e;
  const float fe = static_cast<float>(e);
  const float y = (log1p_reduced(m - 1.0f) + fe * -2.12194440e-4f) + fe * 0.693359375f;
  const float inf = bits_to_float(0x7f800000);
  const float nan = bits_to_float(0x7fc00000);
  return x == 0.0f ? -inf : (x == inf ? inf : (x > 0.0f ? y : nan));
}

// atan2(y, x) for x >= 0, in [-pi/2, pi/2] (Cephes atanf after reduction by tan(pi/8) and
// tan(3pi/8)); atan2(0, 0) = 0.
DETKIT_ALWAYS_INLINE float atan2_right(float y, float x) {
  const float a = y < 0.0f ? -y : y;
  const bool big = a > 2.414213562373095f * x;
  const bool mid = a > 0.4142135623730950f * x;
  // Arithmetic selects (no nested conditionals) so that the loop if-converts and vectorises.
  const float big_f = big ? 1.0f : 0.0f;
  const float mid_f = mid && !big ? 1.0f : 0.0f;
  const float low_f = 1.0f - big_f - mid_f;
  const float num = big_f * -x + mid_f * (a - x) + low_f * a;
  const float den = big_f * a + mid_f * (a + x) + low_f * x;
  const float t = num / (den > 0.0f ? den : 1.0f);  // den == 0 only when num == 0
  const float base = big_f * 1.5707963267948966f + mid_f * 0.7853981633974483f;
  const float z = t * t;
  float p = 8.05374449538e-2f;
  p = p * z - 1.38776856032e-1f;
  p = p * z + 1.99777106478e-1f;
  p = p * z - 3.33329491539e-1f;
  const float r = base + (p * z * t + t);
  return y < 0.0f ? -r : r;
}

}  // namespace detkit::fastmath
