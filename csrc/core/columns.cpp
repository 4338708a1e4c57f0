#include "core/columns.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

namespace detkit {

namespace {
// Blocks from this size up are mapped directly (glibc's own threshold rises up to 32 MB after
// large blocks are freed, and blocks of worker threads land in per-thread arenas).
constexpr size_t kMappedColumnBytes = size_t{1} << 20;
// From this size up, a mapped block asks for transparent huge pages (honoured where the system's
// setting is "madvise", the usual default, or "always"): one fault per 2 MB instead of per 4 KB.
// Fresh pages cost a fault each, and these columns are written once, right after allocation (a
// bbox evaluation of 500k results touches ~100 MB; 16% of its profile samples were page faults
// with 4 KB pages, 12% with huge pages). numpy does the same for its arrays from 4 MB up.
constexpr size_t kHugePageBytes = size_t{2} << 20;
}  // namespace

void* allocate_column_bytes(size_t bytes) {
#if defined(MAP_ANONYMOUS)
  if (bytes >= kMappedColumnBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
    if (bytes >= kHugePageBytes) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    return p;
  }
#endif
  return ::operator new(bytes);
}

void free_column_bytes(void* p, size_t bytes) noexcept {
#if defined(MAP_ANONYMOUS)
  if (bytes >= kMappedColumnBytes) {
    munmap(p, bytes);
    return;
  }
#endif
  ::operator delete(p);
}

}  // namespace detkit
