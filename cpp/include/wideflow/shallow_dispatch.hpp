// Table of the shallow kernels compiled for one instruction set, and the choice among the compiled
// tables (runtime CPU dispatch; the design is in isa.hpp). The bindings call the kernels through the
// table of the level in use; every table computes the same bits.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "wideflow/isa.hpp"
#include "wideflow/shallow.hpp"
#include "wideflow/shallow_sorted.hpp"

namespace wideflow::shallow {

template <class T>
struct Kernels {
    void (*evaluate)(const Params<T>&, const double*, index_t, double*, int);
    void (*evaluate_sorted)(const Params<T>&, const double*, index_t, double*, int);
    ChunkResult (*gd_direct)(const Params<T>&, const double*, const double*, index_t, double*, const double*, index_t,
                             double, double, double*, int);
    ChunkResult (*gd_sorted)(const Params<T>&, const double*, const double*, index_t, double*, const double*, index_t,
                             double, double, double*, int, bin_t*, bool);
};

struct KernelTable {
    Kernels<double> f64;
    Kernels<float> f32;
};

// One per compiled level, defined in cpp/src/isa/shallow_kernels.cpp (compiled once per level).
const KernelTable& kernels_baseline();
#if WIDEFLOW_ISA_DISPATCH
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();
#endif

inline const KernelTable& kernels_for(int level) {
#if WIDEFLOW_ISA_DISPATCH
    if (level >= isa::avx512) return kernels_avx512();
    if (level >= isa::avx2) return kernels_avx2();
#endif
    (void)level;
    return kernels_baseline();
}

// Level named by `request` ("" or "auto": the best the CPU runs), capped at what the CPU and the build
// support. `note` says why a request was not honoured (empty when it was).
inline int choose_level(const char* request, std::string& note) {
    const int best = std::min(isa::cpu_level(), isa::compiled_level());
    note.clear();
    if (request == nullptr || *request == '\0' || std::strcmp(request, "auto") == 0) return best;
    int want = -1;
    for (int l = isa::baseline; l <= isa::avx512; ++l)
        if (std::strcmp(request, isa::name_of(l)) == 0) want = l;
    if (want < 0) {
        note = std::string("unknown instruction set '") + request +
               "' (expected baseline, avx2, avx512 or auto); using " + isa::name_of(best);
        return best;
    }
    if (want > best) {
        note = std::string("instruction set '") + request + "' is not available on this CPU/build; using " +
               isa::name_of(best);
        return best;
    }
    return want;
}

}  // namespace wideflow::shallow
