#include <cstdint>
#include <random>
#include <vector>

#include "check.h"
#include "core/parallel.h"
#include "core/segmentation.h"
#include "core/selective_search.h"

namespace {

// An h x w RGB image: a flat background with a flat rectangle [x1, x2) x [y1, y2).
std::vector<uint8_t> rectangle_image(int h, int w, int x1, int y1, int x2, int y2) {
  std::vector<uint8_t> img(static_cast<size_t>(h * w * 3), 40);
  for (int y = y1; y < y2; ++y)
    for (int x = x1; x < x2; ++x) {
      uint8_t* p = &img[3 * (y * w + x)];
      p[0] = 220, p[1] = 30, p[2] = 30;
    }
  return img;
}

bool has_box(const std::vector<int32_t>& boxes, int x1, int y1, int x2, int y2) {
  for (size_t i = 0; i + 3 < boxes.size(); i += 4)
    if (boxes[i] == x1 && boxes[i + 1] == y1 && boxes[i + 2] == x2 && boxes[i + 3] == y2) return true;
  return false;
}

detkit::SelectiveSearchOptions fast_options() {
  detkit::SelectiveSearchOptions opt;
  opt.color_spaces = {detkit::kSsHSV, detkit::kSsLab};
  opt.strategies = {15, 14};
  opt.ks = {50, 100};
  opt.min_box_size = 0;
  return opt;
}

}  // namespace

int main() {
  // Segmentation: a sharp two-region image splits exactly; labels follow raster order.
  {
    const int h = 12, w = 20;
    std::vector<uint8_t> img(h * w, 0);
    for (int y = 0; y < h; ++y)
      for (int x = 10; x < w; ++x) img[y * w + x] = 255;
    std::vector<int32_t> labels(h * w);
    CHECK(detkit::felzenszwalb(img.data(), h, w, 1, 100, 0.0, 10, labels.data()) == 2);
    CHECK(labels[0] == 0 && labels[w - 1] == 1 && labels[(h - 1) * w + 9] == 0);
  }
  // Segmentation of noise: every region has at least min_size pixels.
  {
    const int h = 40, w = 50, min_size = 25;
    std::mt19937 rng(3);
    std::vector<uint8_t> img(h * w * 3);
    for (auto& v : img) v = static_cast<uint8_t>(rng() & 0xff);
    std::vector<int32_t> labels(h * w);
    const int32_t n = detkit::felzenszwalb(img.data(), h, w, 3, 200, 0.8, min_size, labels.data());
    std::vector<int> size(n, 0);
    for (int32_t l : labels) {
      CHECK(l >= 0 && l < n);
      ++size[l];
    }
    for (int s : size) CHECK(s >= min_size);
  }
  // 1 x 1 image.
  {
    const uint8_t px[3] = {1, 2, 3};
    int32_t label = -1;
    CHECK(detkit::felzenszwalb(px, 1, 1, 3, 1, 0.8, 20, &label) == 1 && label == 0);
    const auto res = detkit::selective_search(px, 1, 1, fast_options());
    CHECK(res.boxes.size() == 4 && has_box(res.boxes, 0, 0, 1, 1));
  }
  // Selective search finds the rectangle and the whole image; results do not depend on threads.
  {
    const int h = 48, w = 64;
    const auto img = rectangle_image(h, w, 10, 8, 40, 30);
    detkit::SelectiveSearchOptions opt = fast_options();
    opt.keep_hierarchies = true;
    detkit::set_num_threads(1);
    const auto one = detkit::selective_search(img.data(), h, w, opt);
    detkit::set_num_threads(3);
    const auto many = detkit::selective_search(img.data(), h, w, opt);
    CHECK(one.boxes == many.boxes);
    CHECK(has_box(one.boxes, 10, 8, 40, 30));
    CHECK(has_box(one.boxes, 0, 0, w, h));
    CHECK(one.hierarchies.size() == 8);
    for (const auto& hier : one.hierarchies) {
      CHECK(static_cast<int32_t>(hier.similarity.size()) == hier.num_initial - 1);
      CHECK(hier.priority.size() == hier.boxes.size() / 4);
    }
  }
  // The ranking stream draws in (0, 1].
  {
    detkit::SplitMix64 rng(12345, 7);
    for (int i = 0; i < 10000; ++i) {
      const double u = rng.uniform();
      CHECK(u > 0.0 && u <= 1.0);
    }
  }
  TEST_MAIN_END();
}
