"""Build description for detkit's native code.

One pybind11 extension, ``detkit._C``, is compiled from the C++17 kernels in ``csrc/core`` and the
thin bindings in ``csrc/bindings``; every ``detkit/*.pyx`` file becomes a Cython extension.
Release flags only: ``-O3``, no ``-march=native`` (wheels must run on any x86-64/aarch64 CPU), and
``-ffp-contract=off`` so the compiler never fuses multiply-adds (native results then match the numpy
reference bit for bit) and ``-fno-trapping-math`` so branch-free loops vectorise (detkit never
relies on floating-point exception flags).
"""

import glob
import os
import sys

import numpy as np
from Cython.Build import cythonize
from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext, naive_recompile
from setuptools import Extension, setup

# naive_recompile: an in-place rebuild recompiles only the sources newer than their object file.
ParallelCompile("DETKIT_BUILD_JOBS", default=os.cpu_count() or 1, needs_recompile=naive_recompile).install()

if sys.platform == "win32":
    native_flags = ["/O2", "/fp:precise"]
    link_flags: list = []
else:
    native_flags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-pthread"]
    link_flags = ["-pthread"]

core_sources = sorted(glob.glob("csrc/core/*.cpp"))
binding_sources = sorted(glob.glob("csrc/bindings/*.cpp"))

native = Pybind11Extension(
    "detkit._C",
    sources=binding_sources + core_sources,
    include_dirs=["csrc", np.get_include()],  # bindings read numpy's ufunc struct
    cxx_std=17,
    extra_compile_args=native_flags,
    extra_link_args=link_flags,
    depends=sorted(glob.glob("csrc/core/*.h")) + sorted(glob.glob("csrc/bindings/*.h")),
)

cython_modules = [
    Extension(
        "detkit." + os.path.splitext(os.path.basename(pyx))[0],
        sources=[pyx],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=[] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"],
    )
    for pyx in sorted(glob.glob("detkit/*.pyx"))
]

setup(
    ext_modules=[native]
    + cythonize(
        cython_modules,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
    cmdclass={"build_ext": build_ext},
)
