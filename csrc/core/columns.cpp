#include "core/columns.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

namespace detkit {

namespace {
// Blocks from this size up are mapped directly (glibc's own threshold rises up to 32 MB after
// large blocks are freed, and blocks of worker threads land in per-thread arenas).
constexpr size_t kMappedColumnBytes = size_t{1} << 20;
}  // namespace

void* allocate_column_bytes(size_t bytes) {
#if defined(MAP_ANONYMOUS)
  if (bytes >= kMappedColumnBytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
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
