// Many independent factorization problems of one shape in one call (the batched sweeps of a study): each
// run is factorization.hpp's `run` on one thread, so batching never changes a run's bits.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>

#include "wideflow/chunk.hpp"
#include "wideflow/factorization.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::factorization {

// Many independent problems of one shape: Us (B x m x k), Vs (B x n x k), Ys (B x m x n, or one shared
// m x n when y_stride = 0). Run b uses step sizes run_lr[b] * step_lr[t]. Each run goes entirely to one
// thread and runs the exact code of `run` (threads = 1), so it is bitwise equal to the run done alone, for
// any thread count. Runs with diverged[b] set on entry are skipped (they stopped in an earlier chunk).
// Per run: records at rec_loss + b*nrec and rec_x + b*nrec*m*n (if rec_x), steps_done[b], diverged[b].
template <class T>
void run_batch(T* Us, T* Vs, const T* Ys, index_t y_stride, index_t B, const Shape& s, const double* run_lr,
               const double* step_lr, index_t steps, const index_t* rec_idx, index_t nrec, double* rec_loss,
               double* rec_x, bool keep_finite, index_t* steps_done, std::uint8_t* diverged, int threads) {
    auto one = [&](index_t b) {
        if (diverged[b]) {
            steps_done[b] = 0;
            return;
        }
        Recorder rec{nullptr, rec_idx, nrec, rec_loss ? rec_loss + b * nrec : nullptr,
                     rec_x ? rec_x + b * nrec * s.m * s.n : nullptr};
        const ChunkResult r = run<T>(Us + b * s.m * s.k, Vs + b * s.n * s.k, Ys + b * y_stride, s, step_lr, run_lr[b],
                                     steps, rec, keep_finite, 1);
        steps_done[b] = r.steps_done;
        diverged[b] = r.diverged ? 1 : 0;
    };
#ifdef WIDEFLOW_HAVE_OPENMP
    const int nt = int(std::min<index_t>(std::max(threads, 1), B));
    if (nt > 1) {
        // an exception (allocation failure) must not leave the parallel region; the first is rethrown
        std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (index_t b = 0; b < B; ++b) {
            try {
                one(b);
            } catch (...) {
#pragma omp critical(wideflow_factorization_error)
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    (void)threads;
    for (index_t b = 0; b < B; ++b) one(b);
}

}  // namespace wideflow::factorization
