// COCO evaluate/accumulate on hand-built cells, and the JSON scanners on valid, chunked and
// malformed input (runs under AddressSanitizer/UBSan in the sanitizer build).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "core/coco_eval.h"
#include "core/coco_json.h"
#include "core/parallel.h"

namespace {

void test_perfect_detection_and_crowd() {
  // one image, one category: gt 0 normal, gt 1 crowd; dt 0 matches gt 0, dts 1-2 fall in the crowd
  std::vector<int64_t> gcell{0, 0}, gid{1, 2}, dcell{0, 0, 0}, did{1, 2, 3};
  std::vector<double> gbox{0, 0, 10, 10, 50, 50, 40, 40}, garea{100, 1600};
  std::vector<uint8_t> crowd{0, 1}, ignore{0, 1};
  std::vector<double> dbox{0, 0, 10, 10, 55, 55, 5, 5, 60, 60, 5, 5}, darea{100, 25, 25}, score{0.9, 0.8, 0.7};
  detkit::CocoGtColumns g{2, gcell.data(), gbox.data(), garea.data(), crowd.data(), ignore.data(), gid.data(), nullptr};
  detkit::CocoDtColumns d{3, dcell.data(), dbox.data(), darea.data(), score.data(), did.data(), nullptr};
  detkit::CocoEvalOptions opt;
  opt.num_cells = 1;
  opt.iou_thresholds = {0.5, 0.75};
  opt.area_ranges = {0, 1e10};
  opt.keep_details = true;
  const auto st = detkit::coco_evaluate(g, d, opt);
  CHECK(st.dt_offsets[1] == 3);
  CHECK(st.npig[0] == 1);
  CHECK(st.status[0] == 1 && st.status[1] == 1);  // dt 0 matched at both thresholds
  CHECK(st.status[2] == 3 && st.status[4] == 3);  // dts 1, 2 matched to the crowd: ignored
  CHECK(st.overlaps.size() == 6 && st.overlaps[3] == 1.0);  // IoU with a crowd = inter / area(dt)
  detkit::CocoStateView v{1, 1, 2, st.dt_offsets.data(), st.dt_score.data(), st.status.data(), st.npig.data()};
  detkit::CocoAccumulateOptions acc;
  acc.num_images = 1;
  acc.categories = {0};
  acc.areas = {0};
  acc.max_dets = {100};
  acc.images = {0};
  acc.recall_thresholds = {0.0, 0.5, 1.0};
  acc.out_categories = acc.out_areas = acc.out_max_dets = 1;
  std::vector<double> precision(2 * 3, -1), recall(2, -1), scores(2 * 3, -1);
  detkit::coco_accumulate(v, acc, precision.data(), recall.data(), scores.data());
  CHECK(recall[0] == 1.0 && recall[1] == 1.0);
  CHECK_NEAR(precision[2], 1.0, 1e-15);
  CHECK(scores[2] == 0.9);
}

// Statuses that differ per (area, threshold), 13 detections (not a multiple of the 8 x 8 tiles)
// and 3 x 3 (area, threshold) rows (nor that): accumulate must find each row's statuses in score
// order, whatever its tiled transposition does.
void test_accumulate_rows_in_score_order() {
  const int64_t N = 13, T = 3, A = 3;
  std::vector<int64_t> offsets{0, N}, npig{N, N, N};
  std::vector<double> score(N);
  std::vector<uint8_t> status(N * A * T, 0);  // unmatched, not ignored: false positives
  for (int64_t j = 0; j < N; ++j) score[j] = 0.01 * static_cast<double>(j);  // the last is the best
  for (int64_t a = 0; a < A; ++a)
    for (int64_t t = 0; t < T; ++t) {
      // row (a, t): the best a + t detections (in score order) are true positives
      for (int64_t j = N - (a + t); j < N; ++j) status[(j * A + a) * T + t] = 1;
    }
  detkit::CocoStateView v{1, A, T, offsets.data(), score.data(), status.data(), npig.data()};
  detkit::CocoAccumulateOptions acc;
  acc.num_images = 1;
  acc.categories = {0};
  acc.areas = {0, 1, 2};
  acc.max_dets = {100};
  acc.images = {0};
  acc.recall_thresholds = {0.0};
  acc.out_categories = 1;
  acc.out_areas = A;
  acc.out_max_dets = 1;
  std::vector<double> precision(T * A, -2), recall(T * A, -2), scores(T * A, -2);
  detkit::coco_accumulate(v, acc, precision.data(), recall.data(), scores.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t a = 0; a < A; ++a) {
      const int64_t tp = a + t;
      CHECK(recall[t * A + a] == static_cast<double>(tp) / N);
      // the true positives come first in score order: the interpolated precision at recall 0 is
      // the best of e / (e + eps) over them (1/(1 + eps) for one, 1 from two on), else 0
      double best = 0;
      for (int64_t e = 1; e <= tp; ++e)
        best = std::max(best, static_cast<double>(e) / (static_cast<double>(e) + 2.220446049250313e-16));
      CHECK(precision[t * A + a] == best);
    }
}

// Summary means: values above -1 only (NaN and -1 left out), C order of (t, x, am), -1 if none.
void test_summary_means_and_cells() {
  const double nan = std::nan("");
  // T = 2, X = 2, AM = 3
  std::vector<double> v{0.5, -1, 1.0, 0.25, nan, 0.0, -1, -1, 0.75, 1.0, -1, 0.5};
  std::vector<std::vector<int64_t>> t_sets{{0, 1}, {1}, {0}, {}}, am_lists{{0}, {1}, {1, 2}, {0}};
  std::vector<double> out(4);
  detkit::coco_summary_means(v.data(), 2, 2, 3, t_sets, am_lists, out.data());
  CHECK(out[0] == (0.5 + 0.25 + 1.0) / 3);  // column 0 over both t: 0.5, 0.25, -1 (out), 1.0
  CHECK(out[1] == -1.0);                      // column 1 at t = 1: -1, -1
  CHECK(out[2] == (1.0 + 0.0) / 2);           // columns 1, 2 at t = 0: -1, 1.0, NaN, 0.0
  CHECK(out[3] == -1.0);                      // no rows
  std::vector<int64_t> kpos{0, 2, -1, 1}, ipos{3, 0, 1, -1}, cell(4);
  detkit::coco_cells(kpos.data(), ipos.data(), 4, 5, cell.data());
  CHECK(cell[0] == 3 && cell[1] == 10 && cell[2] == -1 && cell[3] == -1);
}

void test_pairwise_sum_order() {
  std::vector<double> a(300);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& x : a) x = u(rng);
  double plain = 0;
  for (double x : a) plain += x;
  CHECK_NEAR(detkit::numpy_pairwise_sum(a.data(), 300), plain, 1e-12);
  CHECK(detkit::numpy_pairwise_sum(a.data(), 0) == 0.0);
}

void test_results_scanner() {
  const std::string ok =
      "[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [1.5, 2, 3e0, 4], \"score\": 0.25, \"x\": {\"y\": [null, true, \"s\\\"\"]}},"
      " {\"category_id\": 3, \"image_id\": 4.0, \"bbox\": [0, 0, 1, 1], \"score\": 1}]";
  detkit::CocoResultColumns c;
  CHECK(detkit::parse_coco_results(ok.data(), ok.size(), c));
  CHECK(c.size() == 2 && c.image_id[1] == 4 && c.bbox[0] == 1.5 && c.score[0] == 0.25);
  const char* bad[] = {"[{\"image_id\": 1, \"category_id\": 2,", "[{\"image_id\": 1.5, \"category_id\": 2}]",
                       "[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [1, 2, 3]}]", "[1, 2]", "{}",
                       "[{\"image_id\": 1, \"category_id\": 2, \"segmentation\": [}]", "[{\"image_id\": 01}]",
                       "[{\"image_id\": 1, \"category_id\": 2}] x", ""};
  for (const char* text : bad) {
    detkit::CocoResultColumns r;
    CHECK(!detkit::parse_coco_results(text, std::strlen(text), r));
  }
  // a file large enough to be split across threads parses exactly like a single chunk
  std::string big = "[";
  for (int i = 0; i < 120000; ++i) {
    if (i) big += i % 7 ? ", " : ",\n";
    big += "{\"image_id\": " + std::to_string(i % 97) + ", \"category_id\": 1, \"note\": \"{,}\", \"bbox\": [" +
           std::to_string(i) + ".5, 1, 2, 3], \"score\": 0." + std::to_string(i % 1000 + 1) + "}";
  }
  big += "]";
  detkit::set_num_threads(4);
  detkit::CocoResultColumns p;
  CHECK(detkit::parse_coco_results(big.data(), big.size(), p));
  CHECK(p.size() == 120000 && p.bbox[4 * 119999] == 119999.5 && p.image_id[119999] == 119999 % 97);
  // keypoints on a few records only: chunks without any get NaN rows
  std::string kp = "[";
  for (int i = 0; i < 120000; ++i) {
    if (i) kp += ", ";
    kp += "{\"image_id\": 1, \"category_id\": 1, \"score\": 0.5";
    if (i == 7) kp += ", \"keypoints\": [1, 2, 3]";
    kp += ", \"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
  }
  kp += "]";
  detkit::CocoResultColumns k;
  CHECK(detkit::parse_coco_results(kp.data(), kp.size(), k));
  CHECK(k.num_keypoint_values == 3 && k.keypoints.size() == 3 * 120000);
  CHECK(k.keypoints[21] == 1 && k.keypoints[23] == 3 && std::isnan(k.keypoints[0]) &&
        std::isnan(k.keypoints[3 * 119999]));
  big.pop_back();  // truncated: every chunk layout must fail
  detkit::CocoResultColumns q;
  CHECK(!detkit::parse_coco_results(big.data(), big.size(), q));
}

// The result columns of `text`, parsed with `threads` threads.
detkit::CocoResultColumns parsed_with_threads(const std::string& text, int threads) {
  detkit::set_num_threads(threads);
  detkit::CocoResultColumns c;
  CHECK(detkit::parse_coco_results(text.data(), text.size(), c));
  return c;
}

void test_segmentation_scanner() {
  // every kind: polygons, compressed string (with escapes), run lengths, other shapes, absent
  const std::string text =
      "[{\"image_id\": 1, \"category_id\": 2, \"segmentation\": [[1, 2, 3, 4, 5, 6], [7.5, 8, 9, 10, 11, 12, 13]]},"
      " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": {\"counts\": \"a\\\\b\\u0050\", \"size\": [3, 4]}},"
      " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": {\"size\": [2, 2], \"counts\": [1, 2, 1]}},"
      " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": {\"size\": [2.0, 2], \"counts\": [4]}},"
      " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": [1, 2, 3, 4, 5, 6]},"
      " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": null},"
      " {\"image_id\": 1, \"category_id\": 2}]";
  detkit::CocoResultColumns c;
  CHECK(detkit::parse_coco_results(text.data(), text.size(), c));
  const auto& g = c.segmentation;
  const detkit::Column<uint8_t> kinds = {detkit::kPolygons, detkit::kRleString, detkit::kRleCounts, detkit::kOther,
                                      detkit::kOther,    detkit::kOther,     detkit::kAbsent};
  CHECK(g.kind == kinds);
  CHECK((g.record_parts == detkit::Column<int64_t>{0, 2, 2, 3, 3, 3, 3, 3}));
  CHECK((g.part_offsets == detkit::Column<int64_t>{0, 6, 13, 16}));
  CHECK(g.values[6] == 7.5 && g.values[13] == 1 && g.values[15] == 1);
  CHECK((g.chars_offsets == detkit::Column<int64_t>{0, 0, 4, 4, 4, 4, 4, 4}));
  CHECK(std::string(g.chars.begin(), g.chars.end()) == "a\\bP");
  CHECK(g.size[2] == 3 && g.size[3] == 4 && g.size[4] == 2 && g.size[6] == 0);
  // a repeated "segmentation" key is left to the general parser
  const std::string twice = "[{\"image_id\": 1, \"category_id\": 2, \"segmentation\": [], \"segmentation\": []}]";
  detkit::CocoResultColumns t;
  CHECK(!detkit::parse_coco_results(twice.data(), twice.size(), t));
  // chunks parsed by several threads join into the single-thread columns
  std::string big = "[";
  for (int i = 0; i < 30000; ++i) {
    if (i) big += ", ";
    big += "{\"image_id\": 1, \"category_id\": 1, \"score\": 0.5, \"segmentation\": ";
    if (i % 3 == 0) big += "{\"size\": [4, 5], \"counts\": \"" + std::string(1 + i % 40, 'A') + "\"}";
    if (i % 3 == 1) big += "[[" + std::to_string(i) + ", 1, 2, 3, 4, 5]" + (i % 2 ? ", [1, 1, 1, 1, 1, 1]" : "") + "]";
    if (i % 3 == 2) big += i % 5 ? "{\"size\": [1, 2], \"counts\": [1, 1]}" : "7";
    big += "}";
  }
  big += "]";
  const detkit::CocoResultColumns one = parsed_with_threads(big, 1), many = parsed_with_threads(big, 4);
  CHECK(one.size() == 30000 && many.size() == 30000);
  CHECK(one.segmentation.kind == many.segmentation.kind && one.segmentation.size == many.segmentation.size);
  CHECK(one.segmentation.record_parts == many.segmentation.record_parts);
  CHECK(one.segmentation.part_offsets == many.segmentation.part_offsets);
  CHECK(one.segmentation.chars_offsets == many.segmentation.chars_offsets);
  CHECK(one.segmentation.values == many.segmentation.values && one.segmentation.chars == many.segmentation.chars);
  CHECK(many.segmentation.values[many.segmentation.part_offsets[many.segmentation.record_parts[29998]]] == 29998);
}

// Records without segmentations are not written out while no record has one; once one does,
// the earlier ones are, whether they were read by the same chunk or by another thread's.
void test_absent_segmentations_are_written_only_when_needed() {
  const std::string lead = "[{\"image_id\": 1, \"category_id\": 2}, {\"image_id\": 1, \"category_id\": 2},"
                           " {\"image_id\": 1, \"category_id\": 2, \"segmentation\": [[1, 2, 3, 4, 5, 6]]}]";
  detkit::CocoResultColumns c;
  CHECK(detkit::parse_coco_results(lead.data(), lead.size(), c));
  const auto& g = c.segmentation;
  CHECK(g.unwritten_absent == 0 && g.records() == 3);
  CHECK((g.kind == detkit::Column<uint8_t>{detkit::kAbsent, detkit::kAbsent, detkit::kPolygons}));
  CHECK((g.record_parts == detkit::Column<int64_t>{0, 0, 0, 1}));
  CHECK((g.chars_offsets == detkit::Column<int64_t>{0, 0, 0, 0}));
  CHECK((g.size == detkit::Column<int64_t>{0, 0, 0, 0, 0, 0}));
  for (int with_one : {0, 1}) {
    std::string big = "[";
    for (int i = 0; i < 30000; ++i) {
      big += i ? ", " : "";
      big += "{\"image_id\": 1, \"category_id\": 1, \"score\": 0.5";
      if (with_one && i == 29990) big += ", \"segmentation\": {\"size\": [4, 5], \"counts\": \"AB\"}";
      big += "}";
    }
    big += "]";
    const detkit::CocoResultColumns one = parsed_with_threads(big, 1), many = parsed_with_threads(big, 4);
    for (const auto* r : {&one, &many}) {
      const auto& s = r->segmentation;
      CHECK(s.records() == 30000);
      CHECK(s.unwritten_absent == (with_one ? 0 : 30000));
      CHECK(s.kind.size() == (with_one ? 30000u : 0u) && s.record_parts.size() == (with_one ? 30001u : 1u));
    }
    CHECK(one.segmentation.kind == many.segmentation.kind && one.segmentation.size == many.segmentation.size);
    CHECK(one.segmentation.record_parts == many.segmentation.record_parts);
    CHECK(one.segmentation.chars_offsets == many.segmentation.chars_offsets);
    CHECK(one.segmentation.chars == many.segmentation.chars);
    if (with_one) {
      CHECK(many.segmentation.kind[29990] == detkit::kRleString && many.segmentation.kind[29989] == detkit::kAbsent);
      CHECK(many.segmentation.chars_offsets[29990] == 0 && many.segmentation.chars_offsets[29991] == 2);
      CHECK(many.segmentation.size[2 * 29990] == 4 && many.segmentation.size[2 * 29990 + 1] == 5);
    }
  }
}

void test_instances_scanner() {
  const std::string text =
      "{\"info\": {}, \"images\": [{\"id\": 5, \"file_name\": \"a\"}], \"categories\": [{\"id\": 1}],"
      " \"annotations\": [{\"id\": 9, \"image_id\": 5, \"category_id\": 1, \"bbox\": [0, 0, 2, 2],"
      " \"area\": 4, \"iscrowd\": false, \"segmentation\": [[0, 0, 1, 1]], \"keypoints\": [1, 2, 2]}]}";
  detkit::CocoInstanceColumns c;
  CHECK(detkit::parse_coco_instances(text.data(), text.size(), c));
  CHECK(c.image_id.size() == 1 && c.id[0] == 9 && c.area[0] == 4 && c.iscrowd[0] == 0);
  CHECK(c.num_keypoint_values == 3 && c.keypoints[2] == 2);
  CHECK(c.segmentation.kind[0] == detkit::kPolygons && c.segmentation.values.size() == 4);
  CHECK(c.image_height[0] == -1 && c.image_width[0] == -1);
  const std::string sized = "{\"images\": [{\"id\": 5, \"height\": 7, \"width\": 9.5}, {\"width\": 3, \"id\": 6}]}";
  detkit::CocoInstanceColumns z;
  CHECK(detkit::parse_coco_instances(sized.data(), sized.size(), z));
  CHECK((z.image_height == detkit::Column<int64_t>{7, -1}) && (z.image_width == detkit::Column<int64_t>{-1, 3}));
  const std::string bad = "{\"images\": [{\"id\": \"5\"}]}";
  detkit::CocoInstanceColumns d;
  CHECK(!detkit::parse_coco_instances(bad.data(), bad.size(), d));
}

}  // namespace

// Every number equals strtod's correctly rounded value, bit for bit: random decimals with up to
// 19 significant digits and up to 19 fraction digits (both conversion paths of the scanner), and
// decimals exactly halfway between two doubles (ties to even) or one unit in the last digit off.
void test_number_rounding() {
  std::mt19937_64 rng(7);
  std::vector<std::string> texts = {"9007199254740993", "4503599627370496.5", "4503599627370497.5",
                                    "2251799813685248.25", "2251799813685248.75", "1125899906842624.125",
                                    "4503599627370496.4999999", "4503599627370496.5000001", "0.1", "-0.0"};
  for (int i = 0; i < 20000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 19), fraction = static_cast<int>(rng() % (digits + 1));
    std::string d = std::to_string(rng() % 10000000000000000000ull);
    d = std::string(19 - d.size(), '0') + d;
    d = std::to_string(1 + rng() % 9) + d.substr(0, digits - 1);  // `digits` significant digits
    const size_t point = d.size() - fraction;
    texts.push_back((rng() % 2 ? "-" : "") + (point ? d.substr(0, point) : "0") +
                    (fraction ? "." + d.substr(point) : ""));
  }
  // halfway between the doubles M * 2^-j and (M + 1) * 2^-j (M has 53 bits, j <= 3): (2M + 1) / 2^(j+1)
  for (int i = 0; i < 2000; ++i) {
    const uint64_t M = (uint64_t{1} << 52) | (rng() >> 12);
    const int j = static_cast<int>(rng() % 4);
    const uint64_t odd = 2 * M + 1;
    uint64_t whole = odd >> (j + 1), rest = odd & ((uint64_t{2} << j) - 1);
    std::string frac;  // rest / 2^(j+1) in decimal: exactly j + 1 digits
    for (int k = 0; k <= j; ++k) {
      rest *= 10;
      frac += static_cast<char>('0' + (rest >> (j + 1)));
      rest &= (uint64_t{2} << j) - 1;
    }
    const std::string tie = std::to_string(whole) + "." + frac;
    texts.push_back(tie);
    std::string up = tie, down = tie;  // one unit in the last digit up and down (last digit is 5)
    up.back() = '6';
    down.back() = '4';
    texts.push_back(up);
    texts.push_back(down);
  }
  std::string json = "[";
  for (size_t i = 0; i < texts.size(); ++i)
    json += (i ? ", " : "") + std::string("{\"image_id\": 1, \"category_id\": 1, \"keypoints\": [") + texts[i] + "]}";
  json += "]";
  detkit::CocoResultColumns c;
  CHECK(detkit::parse_coco_results(json.data(), json.size(), c));
  CHECK(c.keypoints.size() == texts.size());
  int wrong = 0;
  for (size_t i = 0; i < texts.size() && i < c.keypoints.size(); ++i) {
    const double want = std::strtod(texts[i].c_str(), nullptr);
    if (std::memcmp(&want, &c.keypoints[i], 8) != 0 && wrong++ < 5)
      std::fprintf(stderr, "%s: got %.17g, want %.17g\n", texts[i].c_str(), c.keypoints[i], want);
  }
  CHECK(wrong == 0);
}

int main() {
  test_perfect_detection_and_crowd();
  test_pairwise_sum_order();
  test_accumulate_rows_in_score_order();
  test_summary_means_and_cells();
  test_results_scanner();
  test_segmentation_scanner();
  test_absent_segmentations_are_written_only_when_needed();
  test_instances_scanner();
  test_number_rounding();
  TEST_MAIN_END();
}
