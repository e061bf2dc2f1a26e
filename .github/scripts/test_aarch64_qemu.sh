#!/usr/bin/env bash
# Decoder tests of an aarch64 build of the core, run under user-mode emulation on an
# x86-64 Debian machine (issue 12: the scalar fallbacks and the NEON paths of src/*.h
# had never run on ARM). CI builds and tests aarch64 wheels natively
# (.github/workflows/wheels.yml); this is for a developer without an ARM machine.
#
# Needs: qemu-user-static and gcc-aarch64-linux-gnu (apt), the host's venv with
# Cython and NumPy 2 (its headers serve: x86-64 and aarch64 are both LP64), and
#   ROOT: an arm64 root holding python3.11 and python3-numpy, e.g. after
#         `dpkg --add-architecture arm64 && apt-get update`:
#         apt-get install --download-only -o Dir::Cache::Archives=DEBS \
#             python3.11:arm64 libpython3.11-dev:arm64 python3-numpy:arm64
#         then `dpkg -x` every DEBS/*.deb into ROOT, and in ROOT/usr/lib/aarch64-linux-gnu
#         the links libblas.so.3 -> blas/libblas.so.3, liblapack.so.3 -> lapack/...
#         (what update-alternatives would have made);
#   SITE: pure-Python test dependencies: pip install --target SITE --no-deps pytest
#         hypothesis iniconfig packaging pluggy pygments attrs sortedcontainers.
# Usage: .github/scripts/test_aarch64_qemu.sh ROOT SITE [extra gcc flags, e.g.
#        -DPOSEFAST_NO_SIMD for the scalar fallbacks] [-- pytest arguments]
set -euo pipefail
root=$1 site=$2
shift 2
cflags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do cflags+=("$1"); shift; done
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

python -m cython -3 -I src -o "$out/_core.c" src/_core.pyx \
    --directive boundscheck=False,wraparound=False,cdivision=True,initializedcheck=False
mkdir "$out/pkg"
cp -r posefast "$out/pkg/"
rm -f "$out"/pkg/posefast/*.so
aarch64-linux-gnu-gcc -O3 -ffp-contract=off -fPIC -shared "${cflags[@]}" -Isrc \
    -I"$(python -c 'import numpy; print(numpy.get_include())')" \
    -I"$root/usr/include/python3.11" -I"$root/usr/include" \
    -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION \
    "$out/_core.c" -o "$out/pkg/posefast/_core.cpython-311-aarch64-linux-gnu.so"

# The tests start child processes with sys.executable: make that a script which
# starts the emulator again (qemu's -0 sets the guest's argv[0], whence sys.executable).
cat > "$out/python" <<WRAP
#!/bin/sh
exec qemu-aarch64-static -0 "\$0" -L "$root" "$root/usr/bin/python3.11" "\$@"
WRAP
chmod +x "$out/python"
# from $out, so that `import posefast` is the aarch64 build, not the source tree
repo=$PWD
cd "$out"
PYTHONPATH="$out/pkg:$site" "$out/python" -c \
    "import platform, posefast._core as c; print(platform.machine(), c.__file__)"
PYTHONPATH="$out/pkg:$site" "$out/python" -m pytest -q -p no:cacheprovider \
    "$repo/tests/test_decode_inputs.py" "$repo/tests/test_decode_reference.py" \
    "$repo/tests/test_decode_robust.py" "$repo/tests/test_decode_hostile.py" \
    "$repo/tests/test_decode_simd.py" "$@"
