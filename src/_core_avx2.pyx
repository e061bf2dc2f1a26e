"""The decoding core built a second time, for x86-64 CPUs with AVX2 (setup.py compiles
this module with -mavx2, without FMA, so its results are the baseline build's bit for
bit). ``posefast.decode`` loads it only where ``posefast._core.cpu_has_avx2()`` says the
CPU can run it; ``POSEFAST_SIMD=baseline`` keeps the baseline build.
"""
include "_core.pyx"
