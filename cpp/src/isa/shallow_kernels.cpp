// The shallow kernels compiled for one instruction set (WIDEFLOW_ISA_VARIANT = 0, 1, 2; see isa.hpp).
// CMake compiles this file once per level. Order matters: the standard library and parallel.hpp come
// first, at the global flags; only the kernel headers are inside the target region.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#if WIDEFLOW_ISA_DISPATCH
#include <immintrin.h>  // before the target region (the AVX2 kernels use intrinsics)
#endif

#include "wideflow/chunk.hpp"
#include "wideflow/isa.hpp"
#include "wideflow/parallel.hpp"

WIDEFLOW_ISA_REGION_BEGIN
#include "wideflow/shallow.hpp"
#include "wideflow/shallow_sorted.hpp"
WIDEFLOW_ISA_REGION_END

#include "wideflow/shallow_dispatch.hpp"

namespace wideflow::shallow {

#if WIDEFLOW_ISA_VARIANT == 0
#define WIDEFLOW_TABLE kernels_baseline
#elif WIDEFLOW_ISA_VARIANT == 1
#define WIDEFLOW_TABLE kernels_avx2
#else
#define WIDEFLOW_TABLE kernels_avx512
#endif

const KernelTable& WIDEFLOW_TABLE() {
    static const KernelTable table{
        {&evaluate<double>, &evaluate_sorted<double>, &gd_direct<double>, &gd_sorted<double>},
        {&evaluate<float>, &evaluate_sorted<float>, &gd_direct<float>, &gd_sorted<float>}};
    return table;
}

}  // namespace wideflow::shallow
