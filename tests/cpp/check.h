// A tiny self-contained test harness for the C++ kernel tests (no framework to download).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace detkit_test {
inline int& failures() {
  static int count = 0;
  return count;
}
}  // namespace detkit_test

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++detkit_test::failures();                                                 \
    }                                                                            \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                             \
  do {                                                                                    \
    const double va_ = (a), vb_ = (b);                                                    \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                               \
      std::fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g vs %s = %.17g\n", __FILE__, \
                   __LINE__, #a, va_, #b, vb_);                                           \
      ++detkit_test::failures();                                                          \
    }                                                                                     \
  } while (0)

#define TEST_MAIN_END()                                                   \
  do {                                                                    \
    if (detkit_test::failures()) {                                        \
      std::fprintf(stderr, "%d check(s) failed\n", detkit_test::failures()); \
      return EXIT_FAILURE;                                                \
    }                                                                     \
    std::printf("all checks passed\n");                                   \
    return EXIT_SUCCESS;                                                  \
  } while (0)
