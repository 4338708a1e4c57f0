#include <cstdint>
#include <vector>

#include "check.h"
#include "core/anchors.h"
#include "core/coders.h"
#include "core/parallel.h"

int main() {
  using namespace detkit;
  // Two levels: 3 x 5 grid with 2 cells (stride 8 x 4, offset 0.5), 1 x 2 grid with 1 cell.
  const std::vector<float> cells = {-4, -2, 4, 2, -1, -1, 1, 1, -8, -8, 8, 8};
  const AnchorLevel levels[2] = {{3, 5, 8.0, 4.0, 0, 2}, {1, 2, 16.0, 16.0, 2, 1}};
  const int64_t total = grid_anchor_count(levels, 2);
  CHECK(total == 3 * 5 * 2 + 2);
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    std::vector<float> out(4 * total, -1);
    grid_anchors<float>(cells.data(), levels, 2, 0.5, out.data());
    int64_t row = 0;
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t y = 0; y < levels[l].height; ++y)
        for (int64_t x = 0; x < levels[l].width; ++x)
          for (int64_t k = 0; k < levels[l].num_cells; ++k, ++row) {
            const float* c = &cells[4 * (levels[l].first_cell + k)];
            const float sx = static_cast<float>((x + 0.5) * levels[l].stride_x);
            const float sy = static_cast<float>((y + 0.5) * levels[l].stride_y);
            CHECK(out[4 * row] == c[0] + sx && out[4 * row + 1] == c[1] + sy);
            CHECK(out[4 * row + 2] == c[2] + sx && out[4 * row + 3] == c[3] + sy);
          }
    CHECK(row == total);
  }
  set_num_threads(get_num_threads());
  grid_anchors<double>(nullptr, nullptr, 0, 0.0, nullptr);  // no levels: nothing to do

  // Box coder: decode(encode(gt, anchors), anchors) == gt, in float64 and float32.
  const double weights[4] = {10, 10, 5, 5};
  const std::vector<double> anchors = {0, 0, 10, 20, 5, 5, 6, 9, -3, 2, 7, 4};
  const std::vector<double> gt = {1, 2, 12, 18, 4, 6, 7, 8, -4, 1, 9, 6};
  std::vector<double> deltas(12), back(12);
  box_encode<double>(gt.data(), anchors.data(), 3, weights, deltas.data());
  CHECK_NEAR(deltas[0], 10 * (6.5 - 5) / 10, 1e-12);
  box_decode<double>(deltas.data(), anchors.data(), 3, 1, weights, 100.0, back.data());
  for (int i = 0; i < 12; ++i) CHECK_NEAR(back[i], gt[i], 1e-9);
  std::vector<float> af(anchors.begin(), anchors.end()), gf(gt.begin(), gt.end()), df(12), bf(12);
  box_encode<float>(gf.data(), af.data(), 3, weights, df.data());
  box_decode<float>(df.data(), af.data(), 3, 1, weights, 100.0, bf.data());
  for (int i = 0; i < 12; ++i) CHECK_NEAR(bf[i], gt[i], 1e-4);
  // Several classes per row decode independently against the same anchor.
  std::vector<double> two(24), out2(24);
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < 4; ++k) two[8 * i + 4 * c + k] = deltas[4 * i + k];
  box_decode<double>(two.data(), anchors.data(), 3, 2, weights, 100.0, out2.data());
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) CHECK(out2[8 * i + k] == out2[8 * i + 4 + k] && out2[8 * i + k] == back[4 * i + k]);
  TEST_MAIN_END();
}
