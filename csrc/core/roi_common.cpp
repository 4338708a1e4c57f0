#include "core/roi_common.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace detkit {

template <class T>
void check_roi_batch_indices(const T* rois, int64_t num_rois, int64_t batch) {
  for (int64_t k = 0; k < num_rois; ++k) {
    const double b = static_cast<double>(rois[5 * k]);
    if (!(b >= 0 && b < static_cast<double>(batch) && b == std::floor(b)))
      throw std::invalid_argument("RoI " + std::to_string(k) +
                                  ": batch index must be an integer in [0, N)");
  }
}

template <class T>
void check_rois(const T* rois, int64_t num_rois, const RoiShape& shape, double spatial_scale) {
  if (shape.height < 1 || shape.width < 1)
    throw std::invalid_argument("the feature map must have height and width >= 1");
  if (shape.height > INT32_MAX || shape.width > INT32_MAX)
    throw std::invalid_argument("the feature map height and width must be < 2**31");
  if (shape.batch < 0 || shape.channels < 0)
    throw std::invalid_argument("batch and channel counts must be >= 0");
  if (shape.pooled_height < 1 || shape.pooled_width < 1)
    throw std::invalid_argument("output_size must be >= 1");
  if (!(spatial_scale > 0) || !std::isfinite(spatial_scale))
    throw std::invalid_argument("spatial_scale must be positive and finite");
  check_roi_batch_indices(rois, num_rois, shape.batch);
  const T scale = static_cast<T>(spatial_scale);
  for (int64_t k = 0; k < num_rois; ++k) {
    const T* r = rois + 5 * k;
    for (int j = 1; j < 5; ++j) {
      const double v = static_cast<double>(r[j] * scale);
      if (!(std::fabs(v) <= kMaxScaledCoordinate))
        throw std::invalid_argument("RoI " + std::to_string(k) +
                                    ": corners must be finite with |corner * spatial_scale| <= 2**30");
    }
  }
}

template <class T>
RoisByImage group_rois_by_image(const T* rois, int64_t num_rois, int64_t batch) {
  RoisByImage g;
  g.start.assign(static_cast<size_t>(batch + 1), 0);
  for (int64_t k = 0; k < num_rois; ++k) ++g.start[static_cast<size_t>(rois[5 * k]) + 1];
  for (int64_t b = 0; b < batch; ++b) g.start[b + 1] += g.start[b];
  std::vector<int64_t> next(g.start.begin(), g.start.end() - 1);
  g.order.resize(static_cast<size_t>(num_rois));
  for (int64_t k = 0; k < num_rois; ++k) g.order[next[static_cast<size_t>(rois[5 * k])]++] = k;
  return g;
}

template void check_roi_batch_indices<float>(const float*, int64_t, int64_t);
template void check_roi_batch_indices<double>(const double*, int64_t, int64_t);
template void check_rois<float>(const float*, int64_t, const RoiShape&, double);
template void check_rois<double>(const double*, int64_t, const RoiShape&, double);
template RoisByImage group_rois_by_image<float>(const float*, int64_t, int64_t);
template RoisByImage group_rois_by_image<double>(const double*, int64_t, int64_t);

}  // namespace detkit
