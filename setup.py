"""Builds the Cython decoding core (``src/*.pyx``) as extension modules of ``posefast``.

Each ``src/NAME.pyx`` becomes ``posefast.NAME``; ``.pxd``/``.h`` files in ``src/`` are
shared declarations and inline helpers cimported by those modules.

Compiler flags: ``-O3 -ffp-contract=off`` (``/O2`` for MSVC, which does not contract by
default), never ``-march=native`` or any other target beyond the platform's baseline,
so that a wheel built on one machine runs on every machine of its platform tag
(x86-64: SSE2, which every x86-64 CPU has; aarch64: NEON, likewise). The SIMD paths in
``src/*.h`` are chosen at compile time from what the baseline guarantees, with scalar
fallbacks elsewhere. ``-ffp-contract=off``: GCC and Clang would otherwise fuse a * b + c
into one FMA instruction where the target has it (aarch64 always), rounding once
instead of twice, so that positions, and with nms_radius=0 which poses count as
duplicates, would differ between platforms and from the NumPy reference.
"""
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
SRC = "src"
FLAGS = {"msvc": ["/O2"]}  # gcc, clang: -O3 -ffp-contract=off (below)


class BuildExt(build_ext):
    """Optimisation flags in the spelling of the compiler in use."""

    def build_extensions(self):
        flags = FLAGS.get(self.compiler.compiler_type, ["-O3", "-ffp-contract=off"])
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


extensions = [
    Extension(
        f"posefast.{pyx.stem}",
        [f"{SRC}/{pyx.name}"],
        include_dirs=[SRC, np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for pyx in sorted((HERE / SRC).glob("*.pyx"))
]

setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
        extensions,
        include_path=[SRC],
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
