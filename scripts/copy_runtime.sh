#!/usr/bin/env bash
# copy_runtime.sh BIN DEST - copies qopt-run and the OpenBLAS (with its Fortran runtime) that
# compiled libraries load into DEST, for running libraries on a machine without qopt's build
# (the GPU machine lacks OpenBLAS); set LD_LIBRARY_PATH to DEST there.
set -euo pipefail
bin=${1:?usage: copy_runtime.sh BIN DEST}
dest=${2:?usage: copy_runtime.sh BIN DEST}
mkdir -p "$dest"
cp "$bin/qopt-run" "$dest/"
blas=$(/sbin/ldconfig -p | awk '/libopenblas\.so\.0 / && !found {print $NF; found = 1}')
[ -n "$blas" ] || { echo "copy_runtime.sh: OpenBLAS is not installed" >&2; exit 1; }
for lib in $blas $(ldd "$blas" | awk '/libgfortran|libquadmath/ {print $3}'); do
  cp -L "$lib" "$dest/"
done
