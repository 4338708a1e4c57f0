// detkit._C: pybind11 bindings of the C++ kernels in csrc/core. No algorithm code lives here.
#include "bindings/common.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "detkit native kernels (thin bindings; validate inputs with the detkit Python API)";
  detkit::bind::bind_parallel(m);
  detkit::bind::bind_box_iou(m);
  detkit::bind::bind_nms(m);
  detkit::bind::bind_validate(m);
  detkit::bind::bind_roi(m);
  detkit::bind::bind_anchors(m);
  detkit::bind::bind_losses(m);
  detkit::bind::bind_selective_search(m);
  detkit::bind::bind_coco_eval(m);
  detkit::bind::bind_coders(m);
}
