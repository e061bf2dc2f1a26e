"""Builds the Cython decoding core (``src/*.pyx``) as extension modules of ``posefast``.

Each ``src/NAME.pyx`` becomes ``posefast.NAME``; ``.pxd``/``.h`` files in ``src/`` are
shared declarations and inline helpers cimported by those modules.
"""
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
SRC = "src"

extensions = [
    Extension(
        f"posefast.{pyx.stem}",
        [f"{SRC}/{pyx.name}"],
        include_dirs=[SRC, np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )
    for pyx in sorted((HERE / SRC).glob("*.pyx"))
]

setup(
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
