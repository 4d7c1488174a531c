// Two-layer linear factorization X = U V^T (Tarmoun et al. 2021): GD on one problem.
//
//   L(U, V) = 1/2 ||Y - U V^T||_F^2,   E = Y - U V^T,
//   one GD step:  U+ = U + lr E V,   V+ = V + lr E^T U      (simultaneous: both use the old U, V)
//
// U is m x k, V is n x k, Y is m x n, all row-major (NumPy C order).
//
// Two code paths, chosen from the shape alone (never from the thread count or the batch size), so that a
// run gives bitwise the same iterates alone, inside a batch, and on any number of threads: a tiny path on
// 64-byte packs and a general path on Eigen products over fixed row blocks (factorization_paths.hpp).
// This file: the working state, the step loop and one run; factorization_batch.hpp runs many problems,
// factorization_flow.hpp is the gradient-flow System, one_layer.hpp the one-layer baseline.
//
// The state is kept in rotating buffers (see Work), so when a step produces a non-finite state the last
// finite one is still at hand; a run can stop there (keep_finite) or hand back the non-finite state.
// Products are accumulated with explicit fused multiply-adds where the target has them (see simd::Pack),
// never contracted by the compiler.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "wideflow/chunk.hpp"
#include "wideflow/factorization_paths.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::factorization {

// Where a run records its trajectory (all pointers may be null).
//   losses[s]      loss at the start of step s, s in [0, steps)
//   rec[0..nrec)   sorted state indices in [0, steps] to record: rec_loss[r] and (if rec_x) the product
//                  X = U V^T as an m x n block rec_x + r*m*n
struct Recorder {
    double* losses = nullptr;
    const index_t* rec = nullptr;
    index_t nrec = 0;
    double* rec_loss = nullptr;
    double* rec_x = nullptr;  // float64 m*n per record
};

// ------------------------------------------------------------------------------------------ one run

// Working state of one run: copies of [U; V] in the path's layout (leading dimension ld), used in rotation,
// plus E and D. The tiny path forms the next state while it computes the loss, so it rotates three
// buffers (states t - 1, t, t + 1: the last finite state survives a non-finite state t); the general path
// checks the loss before it updates, so two suffice.
template <class T>
struct Work {
    Shape s;
    bool tiny = false;
    index_t kv = 0, ld = 0;
    int nbuf = 2;
    Buffer<T> uv[3];  // [U; V] rows, ld wide
    Buffer<T> E, D;

    explicit Work(const Shape& shape) : s(shape), tiny(tiny_path<T>(shape)) {
        const index_t L = kLanes<T>;
        kv = (s.k + L - 1) / L;
        ld = tiny ? kv * L : s.k;
        nbuf = tiny ? 3 : 2;
        for (int b = 0; b < nbuf; ++b) uv[b].assign(std::size_t((s.m + s.n) * ld), T(0));
        E.assign(std::size_t(s.m * s.n), T(0));
        D.assign(std::size_t(s.m * s.n), T(0));
    }
    void load(int w, const T* U, const T* V) {
        T* dst = uv[w].data();
        for (index_t i = 0; i < s.m; ++i) std::memcpy(dst + i * ld, U + i * s.k, std::size_t(s.k) * sizeof(T));
        dst += s.m * ld;
        for (index_t j = 0; j < s.n; ++j) std::memcpy(dst + j * ld, V + j * s.k, std::size_t(s.k) * sizeof(T));
    }
    void store(int w, T* U, T* V) const {
        const T* src = uv[w].data();
        for (index_t i = 0; i < s.m; ++i) std::memcpy(U + i * s.k, src + i * ld, std::size_t(s.k) * sizeof(T));
        src += s.m * ld;
        for (index_t j = 0; j < s.n; ++j) std::memcpy(V + j * s.k, src + j * ld, std::size_t(s.k) * sizeof(T));
    }
};

// The step loop, templated on the path (KV > 0: tiny path with KV vectors per row; KV = 0: general).
// `cur` (in/out) is the buffer holding the state.
template <class T, int KV>
ChunkResult run_loop(Work<T>& w, const T* Y, const double* lrs, double lr_scale, index_t steps, const Recorder& rec,
                     bool keep_finite, int threads, int& cur) {
    const Shape& s = w.s;
    ChunkResult res;
    index_t r = 0;  // next record
    for (index_t t = 0;; ++t) {
        const bool update = t < steps;
        const int nxt = (cur + 1) % w.nbuf;
        const T lr = update ? T(lr_scale * lrs[t]) : T(0);
        const T* U = w.uv[cur].data();
        const T* V = U + s.m * w.ld;
        T* Un = w.uv[nxt].data();
        T* Vn = Un + s.m * w.ld;
        double loss;
        if constexpr (KV > 0) {
            // fused: the update into the next buffer is formed whatever the loss; the third buffer (state
            // t - 1) is untouched.
            loss = tiny_step<T, KV>(U, V, Y, s.m, s.n, lr, update, w.D.data(), w.E.data(), Un, Vn);
        } else {
            loss = general_residual<T>(U, V, Y, s, w.D.data(), w.E.data(), threads);
        }
        if (!std::isfinite(loss)) {
            res.diverged = true;
            res.steps_done = t;
            if (keep_finite && t > 0) {
                cur = (cur + w.nbuf - 1) % w.nbuf;  // back to state t - 1
            } else {
                res.loss = loss;
            }
            return res;
        }
        res.loss = loss;
        while (r < rec.nrec && rec.rec[r] < t) ++r;
        for (; r < rec.nrec && rec.rec[r] == t; ++r) {
            if (rec.rec_loss) rec.rec_loss[r] = loss;
            if (rec.rec_x) {
                double* x = rec.rec_x + r * s.m * s.n;
                for (index_t q = 0; q < s.m * s.n; ++q) x[q] = double(w.D[q]);
            }
        }
        if (!update) break;
        if (rec.losses) rec.losses[t] = loss;
        if constexpr (KV == 0) general_update<T>(U, V, w.E.data(), s, lr, Un, Vn, threads);
        cur = nxt;
        res.steps_done = t + 1;
    }
    return res;
}

template <class T, int KV = 1>
ChunkResult dispatch(Work<T>& w, const T* Y, const double* lrs, double lr_scale, index_t steps, const Recorder& rec,
                     bool keep_finite, int threads, int& cur) {
    if constexpr (KV > kMaxVectors) {
        return run_loop<T, 0>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    } else {
        if (w.tiny && w.kv == KV) return run_loop<T, KV>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
        return dispatch<T, KV + 1>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    }
}

// Run `steps` GD steps on one problem, in place on U (m x k) and V (n x k). Step t uses the step size
// lr_scale * lrs[t]. The final state is always evaluated, so a non-finite end state is reported
// (steps_done = steps, diverged). On divergence U, V receive the last finite state if keep_finite, else the
// first non-finite one. `threads` parallelizes the general path over row blocks (the tiny path runs on one
// thread); the result does not depend on it.
template <class T>
ChunkResult run(T* U, T* V, const T* Y, const Shape& s, const double* lrs, double lr_scale, index_t steps,
                const Recorder& rec, bool keep_finite, int threads) {
    Work<T> w(s);
    w.load(0, U, V);
    int cur = 0;
    const ChunkResult res = dispatch<T>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    w.store(cur, U, V);
    return res;
}

}  // namespace wideflow::factorization
