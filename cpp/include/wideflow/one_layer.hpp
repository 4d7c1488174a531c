// The one-layer baseline of the factorization studies: X (m x n) trained directly on
// L1(X) = 1/2 ||Y - X||_F^2, one GD step X+ = X + lr (Y - X).
#pragma once

#include <cmath>

#include "wideflow/chunk.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::one_layer {

// The one-layer baseline L1(X) = 1/2 ||Y - X||^2 trained directly: X+ = X + lr (Y - X) over `size` entries.
// losses[t] = loss at the start of step t; the final state is evaluated too. On divergence X holds the
// first non-finite state (steps_done is its index), as the factorization's run without keep_finite.
template <class T>
ChunkResult run(T* X, const T* Y, index_t size, const double* lrs, index_t steps, double* losses) {
    ChunkResult res;
    for (index_t t = 0;; ++t) {
        double loss = 0.0;
        for (index_t q = 0; q < size; ++q) {
            const T e = Y[q] - X[q];
            loss += double(e) * double(e);
        }
        loss *= 0.5;
        res.loss = loss;
        if (!std::isfinite(loss)) {
            res.diverged = true;
            res.steps_done = t;
            return res;
        }
        if (t == steps) break;
        losses[t] = loss;
        const T lr = T(lrs[t]);
        for (index_t q = 0; q < size; ++q) X[q] = X[q] + lr * (Y[q] - X[q]);
        res.steps_done = t + 1;
    }
    return res;
}

}  // namespace wideflow::one_layer
