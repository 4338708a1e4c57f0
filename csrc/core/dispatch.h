// Runtime CPU dispatch for hot, vectorisable loops. The default build targets the baseline ISA
// (it must run on any x86-64 CPU); a function marked DETKIT_VECTOR_CLONES is also compiled for
// AVX2 and the loader picks the best clone once, at start-up (GCC ifunc). Results are identical
// across clones: -ffp-contract=off forbids fused multiply-adds, and the IEEE operations used
// (+, -, *, /, min, max, compares) are exactly rounded whatever the vector width.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(DETKIT_NO_CPU_DISPATCH)
#define DETKIT_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DETKIT_VECTOR_CLONES
#endif
