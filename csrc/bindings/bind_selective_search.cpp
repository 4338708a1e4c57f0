#include <pybind11/stl.h>

#include "bindings/common.h"
#include "core/segmentation.h"
#include "core/selective_search.h"

namespace detkit::bind {

namespace {

// (H, W, C) uint8 image checks shared by the bindings; returns C.
int channels_of(const CArray<uint8_t>& image) {
  if (image.ndim() != 3 || image.shape(0) < 1 || image.shape(1) < 1 || image.shape(2) < 1)
    throw py::value_error("image must have shape (H, W, C) with H, W, C >= 1");
  if (image.shape(0) * image.shape(1) >= (int64_t{1} << 30))
    throw py::value_error("image must have fewer than 2**30 pixels");
  return static_cast<int>(image.shape(2));
}

template <class T>
py::array_t<T> shaped(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  return to_numpy(std::move(values)).reshape(shape);
}

py::array_t<int64_t> felzenszwalb_binding(const CArray<uint8_t>& image, double scale, double sigma,
                                          int64_t min_size) {
  const int channels = channels_of(image);
  const int64_t h = image.shape(0), w = image.shape(1);
  std::vector<int32_t> labels(static_cast<size_t>(h * w));
  {
    py::gil_scoped_release release;
    felzenszwalb(image.data(), h, w, channels, scale, sigma, min_size, labels.data());
  }
  return shaped(std::vector<int64_t>(labels.begin(), labels.end()), {h, w});
}

py::array_t<uint8_t> convert_color_binding(const CArray<uint8_t>& image, int color_space) {
  if (channels_of(image) != 3) throw py::value_error("image must have 3 channels");
  const int64_t h = image.shape(0), w = image.shape(1);
  const int channels = color_space_channels(color_space);
  std::vector<uint8_t> planes(static_cast<size_t>(channels * h * w));
  convert_color(image.data(), h * w, color_space, planes.data());
  return shaped(std::move(planes), {channels, h, w});
}

py::array_t<uint8_t> texture_bins_binding(const CArray<uint8_t>& planes) {
  if (planes.ndim() != 3 || planes.shape(0) < 1 || planes.shape(1) < 1 || planes.shape(2) < 1)
    throw py::value_error("planes must have shape (C, H, W) with C, H, W >= 1");
  const int channels = static_cast<int>(planes.shape(0));
  const int64_t h = planes.shape(1), w = planes.shape(2);
  std::vector<uint8_t> bins(static_cast<size_t>(h * w * 8 * channels));
  texture_bins(planes.data(), channels, h, w, bins.data());
  return shaped(std::move(bins), {h, w, 8 * channels});
}

py::object selective_search_binding(const CArray<uint8_t>& image, std::vector<int> color_spaces,
                                    std::vector<int> strategies, std::vector<double> ks, double sigma,
                                    int64_t min_box_size, int64_t max_proposals, uint64_t seed,
                                    bool keep_hierarchies) {
  if (channels_of(image) != 3) throw py::value_error("image must have 3 channels");
  for (int cs : color_spaces)
    if (cs < kSsHSV || cs > kSsIntensity) throw py::value_error("unknown colour space code");
  for (int s : strategies)
    if (s < 1 || s > 15) throw py::value_error("strategy must be a non-empty mask of similarity terms");
  for (double k : ks)
    if (!(k > 0) || !(k < 1e12)) throw py::value_error("ks must be positive and finite");
  if (!(sigma >= 0) || !(sigma <= 1e3)) throw py::value_error("sigma must be in [0, 1000]");
  SelectiveSearchOptions opt;
  opt.color_spaces = std::move(color_spaces);
  opt.strategies = std::move(strategies);
  opt.ks = std::move(ks);
  opt.sigma = sigma;
  opt.min_box_size = min_box_size;
  opt.max_proposals = max_proposals;
  opt.seed = seed;
  opt.keep_hierarchies = keep_hierarchies;
  const int64_t h = image.shape(0), w = image.shape(1);
  SelectiveSearchResult result;
  {
    py::gil_scoped_release release;
    result = selective_search(image.data(), h, w, opt);
  }
  const py::ssize_t count = static_cast<py::ssize_t>(result.boxes.size() / 4);
  py::array_t<int64_t> boxes =
      shaped(std::vector<int64_t>(result.boxes.begin(), result.boxes.end()), {count, 4});
  if (!keep_hierarchies) return std::move(boxes);
  py::list segmentations;
  for (auto& labels : result.segmentations)
    segmentations.append(shaped(std::vector<int64_t>(labels.begin(), labels.end()), {h, w}));
  py::list hierarchies;
  for (auto& hier : result.hierarchies) {
    py::dict d;
    d["color_space"] = hier.color_space;
    d["k"] = hier.k;
    d["strategy"] = hier.strategy;
    d["segmentation"] = hier.segmentation;
    d["num_initial"] = hier.num_initial;
    const py::ssize_t merges = static_cast<py::ssize_t>(hier.similarity.size());
    const py::ssize_t regions = static_cast<py::ssize_t>(hier.priority.size());
    d["merges"] = shaped(std::vector<int64_t>(hier.merges.begin(), hier.merges.end()), {merges, 2});
    d["similarity"] = to_numpy(std::move(hier.similarity));
    d["boxes"] = shaped(std::vector<int64_t>(hier.boxes.begin(), hier.boxes.end()), {regions, 4});
    d["priority"] = to_numpy(std::move(hier.priority));
    hierarchies.append(d);
  }
  return py::make_tuple(boxes, hierarchies, segmentations);
}

}  // namespace

void bind_selective_search(py::module_& m) {
  m.def("felzenszwalb", &felzenszwalb_binding, py::arg("image"), py::arg("scale"), py::arg("sigma"),
        py::arg("min_size"));
  m.def("ss_convert_color", &convert_color_binding, py::arg("image"), py::arg("color_space"));
  m.def("ss_texture_bins", &texture_bins_binding, py::arg("planes"));
  m.def("selective_search", &selective_search_binding, py::arg("image"), py::arg("color_spaces"),
        py::arg("strategies"), py::arg("ks"), py::arg("sigma"), py::arg("min_box_size"),
        py::arg("max_proposals"), py::arg("seed"), py::arg("keep_hierarchies"));
}

}  // namespace detkit::bind
