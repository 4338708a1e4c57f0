// Columns: std::vector with an allocator that leaves resized trivial elements uninitialised and
// maps large blocks directly. Used for parsed COCO columns and for evaluation state that is
// filled once, in parallel, and handed to numpy.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace detkit {

// Large column blocks: mapped and unmapped directly, so that the memory of a chunk freed while
// chunks are joined goes back to the system at once (malloc would keep it in its arena, and the
// join would peak at twice the columns).
void* allocate_column_bytes(size_t bytes);
void free_column_bytes(void* p, size_t bytes) noexcept;

// std::allocator, except that resize() without a value leaves the new (trivial) elements
// uninitialised: a column about to be filled by memcpy, as when parallel chunks are joined, is
// then not zeroed first, by one thread, page by page.
template <class T>
struct UninitializedAllocator {
  using value_type = T;
  UninitializedAllocator() noexcept = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(allocate_column_bytes(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { free_column_bytes(p, n * sizeof(T)); }
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  friend bool operator==(const UninitializedAllocator&, const UninitializedAllocator&) { return true; }
  friend bool operator!=(const UninitializedAllocator&, const UninitializedAllocator&) { return false; }
};

// A parsed column.
template <class T>
using Column = std::vector<T, UninitializedAllocator<T>>;

}  // namespace detkit
