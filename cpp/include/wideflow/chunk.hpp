// What one bounded call of a gradient-descent kernel (a chunk of steps) reports back: one type for every
// model family, so the Python driver reads the same three fields whichever model it runs.
#pragma once

#include <cmath>

#include "wideflow/parallel.hpp"

namespace wideflow {

struct ChunkResult {
    // Completed steps: each recorded a finite loss and a finite update. On divergence, the index of the
    // step whose loss or update was not finite (the factorization kernels also count a non-finite final
    // state, giving steps_done = steps).
    index_t steps_done = 0;
    bool diverged = false;  // stopped because a loss or an updated parameter was not finite
    double loss = NAN;      // loss of the state handed back where the kernel evaluates it, NaN otherwise
};

}  // namespace wideflow
