// Minimal fork-join parallelism for the kernels: a global thread count and a dynamically
// scheduled parallel_for. Threads are started per call (a few tens of microseconds), so callers
// only go parallel when the work is large; every kernel stays usable from many Python threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace detkit {

// Number of threads kernels may use (>= 1). Defaults to the hardware concurrency.
int get_num_threads();
// Sets the thread count used by later kernel calls; n < 1 is clamped to 1.
void set_num_threads(int n);

// Calls fn(begin, end) on disjoint chunks covering [0, n). Chunks of `grain` items are handed out
// dynamically, so uneven work (per-class NMS, per-image evaluation) balances itself.
// Runs inline when one thread is enough. The first exception thrown by fn is rethrown here.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), chunks));
  if (threads <= 1) {
    fn(int64_t{0}, n);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&]() {
    try {
      for (;;) {
        const int64_t begin = next.fetch_add(grain);
        if (begin >= n) break;
        fn(begin, std::min(n, begin + grain));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace detkit
