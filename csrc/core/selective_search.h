// Selective search (Uijlings, van de Sande, Gevers, Smeulders, "Selective Search for Object
// Recognition", IJCV 2013): hierarchical grouping of a Felzenszwalb-Huttenlocher segmentation
// under several colour spaces, thresholds k and similarity strategies, derived from the paper.
//
// Per (colour space, k): the image converted to the colour space (uint8 planes) is segmented with
// smoothing sigma, threshold k and min_size = floor(k). Per strategy, neighbouring regions
// (8-connected) are merged greedily, most similar pair first (ties: smaller region ids first),
// until one region is left. The similarity of regions a, b in an image of S pixels is the sum of the
// strategy's terms:
//   colour  sum(min(Ca, Cb)): 25-bin histograms per channel, L1-normalised over all channels
//   texture sum(min(Ta, Tb)): 8 oriented Gaussian derivatives (sigma 1, positive part) per channel,
//           10 bins per orientation over [0, image maximum of that orientation], L1-normalised
//   size    1 - (|a| + |b|) / S
//   fill    1 - (|bbox(a u b)| - |a| - |b|) / S
// A merged region's histograms are the size-weighted average of its parts' (float32), with the
// intersections summed in double. Region i of a hierarchy of R regions (in creation order: the
// initial regions by label, then one per merge) gets priority (R - i) x u_i, u_i uniform in (0, 1]
// from a splitmix64 stream seeded by (seed, hierarchy index); proposals are the regions of all
// hierarchies by increasing priority (stable), without boxes narrower or lower than min_box_size,
// each box kept once (at its best priority).
#pragma once

#include <cstdint>
#include <vector>

namespace detkit {

enum SsColorSpace : int { kSsHSV = 0, kSsLab = 1, kSsRGI = 2, kSsHue = 3, kSsIntensity = 4 };
enum SsSimilarity : int { kSsColour = 1, kSsTexture = 2, kSsSize = 4, kSsFill = 8 };

// Number of channels of a colour space (3 or 1).
int color_space_channels(int color_space);

// Converts n interleaved RGB uint8 pixels into the planar uint8 channels of `color_space`.
void convert_color(const uint8_t* rgb, int64_t n, int color_space, uint8_t* planes);

// Per-pixel texture bins (0..9) of planar uint8 channels: out[p * 8 * channels + c * 8 + o].
void texture_bins(const uint8_t* planes, int channels, int64_t h, int64_t w, uint8_t* out);

// Draws of the ranking stream: uniform doubles in (0, 1].
struct SplitMix64 {
  uint64_t state;
  SplitMix64(uint64_t seed, uint64_t stream);
  double uniform();
};

struct SelectiveSearchOptions {
  std::vector<int> color_spaces;  // SsColorSpace codes
  std::vector<int> strategies;    // bit masks of SsSimilarity
  std::vector<double> ks;         // thresholds k > 0
  double sigma = 0.8;
  int64_t min_box_size = 20;
  int64_t max_proposals = -1;  // -1: all
  uint64_t seed = 0;
  bool keep_hierarchies = false;
};

// One grouping hierarchy. Region ids: 0..num_initial-1 are the segments (labels), merge t makes
// region num_initial + t.
struct Hierarchy {
  int color_space = 0;
  double k = 0;
  int strategy = 0;
  int32_t segmentation = 0;  // index into SelectiveSearchResult::segmentations
  int32_t num_initial = 0;
  std::vector<int32_t> merges;     // 2 per merge: the two merged region ids (smaller first)
  std::vector<double> similarity;  // per merge
  std::vector<int32_t> boxes;      // 4 per region: x1, y1, x2, y2 (pixel edges, x2/y2 exclusive)
  std::vector<double> priority;    // per region; lower ranks first
};

struct SelectiveSearchResult {
  std::vector<int32_t> boxes;  // 4 per proposal, rank order
  std::vector<Hierarchy> hierarchies;                // when keep_hierarchies
  std::vector<std::vector<int32_t>> segmentations;   // per (colour space, k), when keep_hierarchies
};

// rgb: interleaved (h, w, 3) uint8. Hierarchies are ordered colour space, then k, then strategy,
// and run in parallel (detkit::parallel_for); the result does not depend on the thread count.
SelectiveSearchResult selective_search(const uint8_t* rgb, int64_t h, int64_t w,
                                       const SelectiveSearchOptions& options);

}  // namespace detkit
