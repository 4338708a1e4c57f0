// Shared plumbing of the RoI kernels (roi_align.h, roi_pool.h): shapes, RoI checks, and the
// plane-major work split.
//
// RoIs are (K, 5) rows [batch_index, x1, y1, x2, y2]. The kernels work one feature plane
// (image b, channel c; H x W contiguous values of an NCHW array) at a time, visiting every RoI of
// image b while the plane sits in cache; the per-RoI sampling geometry is computed once up front
// and shared by all channels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace detkit {

struct RoiShape {
  int64_t batch = 0;     // N: images in the feature array
  int64_t channels = 0;  // C
  int64_t height = 0;    // H >= 1
  int64_t width = 0;     // W >= 1
  int64_t pooled_height = 1;
  int64_t pooled_width = 1;
  int64_t plane() const { return height * width; }
  int64_t bins() const { return pooled_height * pooled_width; }
};

// Largest |coordinate * spatial_scale| the kernels accept: keeps every derived integer (rounded
// corners, sampling-grid sizes) far from overflow.
constexpr double kMaxScaledCoordinate = 1073741824.0;  // 2**30

// Throws std::invalid_argument unless every RoI's batch index is an integer in [0, batch).
template <class T>
void check_roi_batch_indices(const T* rois, int64_t num_rois, int64_t batch);

// Throws std::invalid_argument unless the shape is usable (H, W in [1, 2**31), pooled sizes >= 1, N, C >= 0) and
// every RoI has an integral batch index in [0, N) and finite corners with
// |corner * spatial_scale| <= kMaxScaledCoordinate. Everything the kernels index with is derived
// from these, so a call that passes never reads or writes out of bounds.
template <class T>
void check_rois(const T* rois, int64_t num_rois, const RoiShape& shape, double spatial_scale);

// RoI indices grouped by image: the RoIs of image b are order[start[b]] .. order[start[b + 1] - 1],
// in increasing index order.
struct RoisByImage {
  std::vector<int64_t> order;
  std::vector<int64_t> start;
};

template <class T>
RoisByImage group_rois_by_image(const T* rois, int64_t num_rois, int64_t batch);

// Runs fn(b, c, first, last) over the RoIs of every (image b, channel c) plane, where [first, last)
// are pointers into groups.order. Each image's RoIs are cut into chunks so that small channel
// counts still spread over threads; the chunks of one plane are handed out together so the plane
// stays in cache. Different calls may share a plane but never an RoI-channel pair.
template <class F>
void for_each_plane_chunk(const RoiShape& shape, const RoisByImage& groups, F&& fn) {
  constexpr int64_t kChunk = 64;
  struct Chunk {
    int64_t image, first, last;
  };
  std::vector<Chunk> chunks;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t i = groups.start[b]; i < groups.start[b + 1]; i += kChunk)
      chunks.push_back({b, i, std::min(i + kChunk, groups.start[b + 1])});
  const int64_t per_channel = static_cast<int64_t>(chunks.size());
  const int64_t items = per_channel * shape.channels;
  // Item = channel-major, so consecutive items share a plane; a grain of one channel's chunks
  // keeps planes whole unless there are too few channels to feed the threads.
  const int64_t spread = items / (8 * static_cast<int64_t>(get_num_threads()));
  const int64_t grain = std::max<int64_t>(1, std::min(per_channel, spread));
  const int64_t* order = groups.order.data();
  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const Chunk& chunk = chunks[static_cast<size_t>(item % per_channel)];
      fn(chunk.image, item / per_channel, order + chunk.first, order + chunk.last);
    }
  });
}

}  // namespace detkit
