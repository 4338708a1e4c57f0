#include "bindings/common.h"
#include "core/parallel.h"

namespace detkit::bind {

void bind_parallel(py::module_& m) {
  m.def("get_num_threads", &detkit::get_num_threads);
  m.def("set_num_threads", &detkit::set_num_threads, py::arg("n"));
}

}  // namespace detkit::bind
