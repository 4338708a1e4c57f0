// Felzenszwalb-Huttenlocher graph-based image segmentation ("Efficient Graph-Based Image
// Segmentation", IJCV 2004), derived from the paper.
//
// Graph: one vertex per pixel, 8-connected; edges are listed direction by direction (right, down,
// down-right, down-left), each in raster order of its first pixel, and weighted by the Euclidean
// distance between the Gaussian-smoothed colours of the two pixels (rounded to float).
// Edges are visited by non-decreasing weight (ties: listing order). Two components C1, C2 joined by
// an edge of weight w merge when w <= min(Int(C1) + k/|C1|, Int(C2) + k/|C2|), where Int(C) is the
// largest edge weight of C's minimum spanning tree (0 for a single pixel). A second pass over the
// same edge order then joins any two different components of which one has fewer than min_size
// pixels. Labels are numbered 0..n-1 by the raster order of each component's first pixel.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace detkit {

// Normalised sampled Gaussian of standard deviation sigma > 0 and radius ceil(4 sigma) (at least
// 1); with derivative=true, the same samples times -x / sigma^2 (a first-derivative filter).
std::vector<double> gaussian_kernel(double sigma, bool derivative);

// Separable correlation of a planar (h, w) image with kx along rows, then ky along columns;
// borders replicate the edge pixels. Each output sums its taps in kernel order, starting at 0.
void separable_filter(const double* in, int64_t h, int64_t w, const std::vector<double>& kx,
                      const std::vector<double>& ky, double* out);

// The 8-connected grid graph of a planar image (channels planes of h x w doubles), sorted by
// non-decreasing weight (stable). Edge i is packed as (weight bits << 32) | (a << 2 | direction),
// its second pixel being b = a + offset[direction].
struct SortedEdges {
  std::vector<uint64_t> packed;
  int64_t offset[4] = {0, 0, 0, 0};

  size_t size() const { return packed.size(); }
  int32_t a(size_t i) const { return static_cast<int32_t>(static_cast<uint32_t>(packed[i]) >> 2); }
  int32_t b(size_t i) const { return static_cast<int32_t>(a(i) + offset[packed[i] & 3]); }
  float weight(size_t i) const {
    const uint32_t bits = static_cast<uint32_t>(packed[i] >> 32);
    float w;
    std::memcpy(&w, &bits, sizeof w);
    return w;
  }
};
SortedEdges sorted_grid_graph(const double* planes, int channels, int64_t h, int64_t w);

// Segments the sorted graph of num_pixels vertices with threshold constant k and minimum
// component size min_size; writes labels 0..n-1 and returns n.
int32_t segment_graph(const SortedEdges& edges, int64_t num_pixels, double k, int64_t min_size,
                      int32_t* labels);

// Smooths each channel of `planes` (channels x h x w) with a Gaussian of standard deviation sigma
// (sigma == 0: no smoothing) into `out`.
void smooth_planes(const double* planes, int channels, int64_t h, int64_t w, double sigma,
                   double* out);

// The whole segmentation of an interleaved (h, w, channels) uint8 image. Requires h * w < 2^30.
int32_t felzenszwalb(const uint8_t* image, int64_t h, int64_t w, int channels, double k,
                     double sigma, int64_t min_size, int32_t* labels);

}  // namespace detkit
