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

``src/_core_avx2.pyx`` (the same source, included) becomes ``posefast._core_avx2``,
compiled with ``-mavx2 -mf16c`` as well (no FMA: neither enables it), where the compiler
accepts those flags for its target (x86-64 with GCC or Clang; not MSVC, not aarch64, not
a macOS universal build); elsewhere the module is left out. It runs only on CPUs with
AVX2 and F16C: ``posefast.decode`` loads it after the baseline build says the CPU has
both.
"""
import os
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

HERE = Path(__file__).parent
SRC = "src"
FLAGS = {"msvc": ["/O2"]}  # gcc, clang: -O3 -ffp-contract=off (below)


AVX2 = "posefast._core_avx2"
# F16C (half <-> float conversions) came before AVX2 on every CPU line that has both
AVX2_FLAGS = ["-mavx2", "-mf16c"]


class BuildExt(build_ext):
    """Optimisation flags in the spelling of the compiler in use; the AVX2 build of the
    core only where the compiler can target AVX2."""

    def build_extensions(self):
        flags = FLAGS.get(self.compiler.compiler_type, ["-O3", "-ffp-contract=off"])
        avx2 = self.accepts(flags + AVX2_FLAGS)
        kept = []
        for ext in self.extensions:
            ext.extra_compile_args = list(flags)
            if ext.name == AVX2:
                if not avx2:
                    print(f"{AVX2}: left out (the compiler does not target AVX2 here)")
                    continue
                ext.extra_compile_args += AVX2_FLAGS
            kept.append(ext)
        self.extensions = kept
        super().build_extensions()

    def accepts(self, args):
        """Whether the compiler builds a file using AVX2 and F16C intrinsics with these
        arguments (for this build's target, e.g. macOS's ARCHFLAGS)."""
        if self.compiler.compiler_type == "msvc":
            return False
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "avx2.c")
            with open(src, "w") as f:
                f.write("#include <immintrin.h>\n"
                        "int f(const float* p) { return _mm256_movemask_ps("
                        "_mm256_loadu_ps(p)); }\n"
                        "float g(unsigned short h) { return _cvtsh_ss(h); }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=args)
            except CompileError:
                return False
        return True


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
