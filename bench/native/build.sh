#!/bin/bash
# Build bench/native/shallow_mb from the kernel sources, the way CMake compiles them (one object per ISA).
#   bench/native/build.sh [SOURCE_ROOT] [OUT_DIR]      (defaults: this checkout, build/native-mb)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$(cd "$here/../.." && pwd)}
out=${2:-$src/build/native-mb}
flags="-O3 -DNDEBUG -std=gnu++17 -ffp-contract=off -fno-trapping-math -fno-math-errno -mtune=native -Wno-psabi
       -fopenmp -DWIDEFLOW_HAVE_OPENMP -DWIDEFLOW_ISA_DISPATCH=1 -I$src/cpp/include -g"
mkdir -p "$out"
for level in 0 1 2; do
  g++ $flags -DWIDEFLOW_ISA_VARIANT=$level -c "$src/cpp/src/isa/shallow_kernels.cpp" -o "$out/isa$level.o" &
done
g++ $flags -c "$here/shallow_mb.cpp" -o "$out/main.o" &
wait
g++ -fopenmp "$out"/isa0.o "$out"/isa1.o "$out"/isa2.o "$out"/main.o -o "$out/shallow_mb"
echo "$out/shallow_mb"
