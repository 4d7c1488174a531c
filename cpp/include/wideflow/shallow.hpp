// Wide shallow univariate ReLU network, direct fused kernel.
//
//   f(x) = (1/alpha) * sum_i c_i * max(a_i x + b_i, 0),      L = 1/2 sum_j (f(x_j) - y_j)^2
//
// One gradient-descent step is ONE pass over the neurons: for a block of neurons held in L1 the pass
// forms the gradient from the current residuals r_j = f(x_j) - y_j,
//
//   dL/dc_i = (1/alpha) sum_j r_j [a_i x_j + b_i]_+
//   dL/da_i = (c_i/alpha) sum_j r_j 1[a_i x_j + b_i > 0] x_j
//   dL/db_i = (c_i/alpha) sum_j r_j 1[a_i x_j + b_i > 0]
//
// updates (a_i, b_i, c_i) and adds the block's contribution to the next step's predictions, so the
// parameters are read and written once per step. Cost O(m n) per step; see shallow_sorted.hpp for the
// O(m log n + n) kernel.
//
// Conventions: relu(z) = max(z, 0) with derivative 1[z > 0]; z = a*x + b is formed as a product then a
// sum (the build disables FP contraction) so every kernel and NumPy see the same sign of z.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::shallow {

// Neurons per L1-resident block and SIMD lanes for the fixed-order partial sums.
constexpr index_t kBlock = 256;
constexpr int kLanes = 16;

template <class T>
struct Params {
    T* a;
    T* b;
    T* c;
    index_t m;
    double inv_alpha;
};

// What one call of a chunk of steps reports back.
struct ChunkResult {
    index_t steps_done = 0;  // completed steps (each recorded a finite loss and a finite update)
    bool diverged = false;   // stopped because a loss or an updated parameter was not finite
};

// Fixed-order sum of kLanes accumulators.
template <class T>
inline T lane_sum(const T* acc) {
    T s = acc[0];
    for (int k = 1; k < kLanes; ++k) s += acc[k];
    return s;
}

// sum_i c_i relu(a_i x + b_i) over i in [0, len), in a fixed order (lanes then a fixed lane reduction).
template <class T>
inline T block_forward(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                       T x) {
    T acc[kLanes] = {};
    index_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
        for (int k = 0; k < kLanes; ++k) {
            const T z = a[i + k] * x + b[i + k];
            acc[k] += c[i + k] * (z > T(0) ? z : T(0));
        }
    }
    for (int k = 0; i < len; ++i, ++k) {
        const T z = a[i] * x + b[i];
        acc[k] += c[i] * (z > T(0) ? z : T(0));
    }
    return lane_sum(acc);
}

// Chunk plan for a width m and n samples: chunk partials take chunk_count * n doubles.
inline ChunkPlan forward_plan(index_t m, index_t n) {
    // Aim at 256 chunks, at most ~64 MiB of partials, chunks of 2^11..2^16 neurons.
    index_t target = 256;
    const index_t cap = std::max<index_t>(1, (index_t(8) << 20) / std::max<index_t>(n, 1));
    target = std::min(target, cap);
    return plan_chunks(m, 2048, index_t(1) << 16, target, kBlock);
}

// Evaluate out[p] = (1/alpha) sum_i c_i relu(a_i x_p + b_i) at P points (direct, O(m P)).
template <class T>
void evaluate(const Params<T>& net, const double* x, index_t P, double* out, int threads) {
    const ChunkPlan plan = forward_plan(net.m, P);
    std::vector<double> partial(static_cast<std::size_t>(plan.count * P), 0.0);
    parallel_for(plan.count, threads_for(net.m * P, threads), [&](index_t k) {
        double* part = partial.data() + k * P;
        const index_t i0 = plan.begin(k), i1 = plan.end(k, net.m);
        for (index_t s = i0; s < i1; s += kBlock) {
            const index_t len = std::min(kBlock, i1 - s);
            for (index_t p = 0; p < P; ++p)
                part[p] += double(block_forward(net.a + s, net.b + s, net.c + s, len, T(x[p])));
        }
    });
    for (index_t p = 0; p < P; ++p) {
        double acc = 0.0;
        for (index_t k = 0; k < plan.count; ++k) acc += partial[k * P + p];
        out[p] = acc * net.inv_alpha;
    }
}

// Residuals r = pred - y and the loss 1/2 sum r^2 (fixed order).
inline double residuals(const double* pred, const double* y, index_t n, double* r) {
    double loss = 0.0;
    for (index_t j = 0; j < n; ++j) {
        r[j] = pred[j] - y[j];
        loss += r[j] * r[j];
    }
    return 0.5 * loss;
}

// Start of a GD step: residuals r = pred - y and the step's loss into *loss_out. Returns false (and marks
// the chunk diverged) if the loss is not finite; the parameters are then left as they are.
inline bool start_step(const double* pred, const double* y, index_t n, double* r, double* loss_out,
                       ChunkResult& res) {
    *loss_out = residuals(pred, y, n, r);
    if (std::isfinite(*loss_out)) return true;
    res.diverged = true;
    return false;
}

// Run up to `steps` fused GD steps in place. On entry pred holds f(x_j) for the current parameters; on
// exit it holds f(x_j) for the parameters reached. losses[s] receives the loss at the start of step s.
// lr[s] is the step size of step s; scale_inner / scale_outer (0 or 1) select what trains.
template <class T>
ChunkResult gd_direct(const Params<T>& net, const double* x, const double* y, index_t n, double* pred,
                      const double* lr, index_t steps, double scale_inner, double scale_outer,
                      double* losses, int threads) {
    ChunkResult res;
    const ChunkPlan plan = forward_plan(net.m, n);
    threads = threads_for(net.m * n, threads);
    std::vector<double> partial(static_cast<std::size_t>(plan.count * n));
    std::vector<int> chunk_bad(static_cast<std::size_t>(plan.count));
    std::vector<double> r(static_cast<std::size_t>(n));
    std::vector<T> xt(static_cast<std::size_t>(n)), rt(static_cast<std::size_t>(n)),
        rxt(static_cast<std::size_t>(n));
    for (index_t j = 0; j < n; ++j) xt[j] = T(x[j]);

    for (index_t s = 0; s < steps; ++s) {
        if (!start_step(pred, y, n, r.data(), losses + s, res)) return res;
        for (index_t j = 0; j < n; ++j) {
            rt[j] = T(r[j]);
            rxt[j] = T(r[j] * x[j]);
        }
        const T step_ab = T(lr[s] * scale_inner * net.inv_alpha);
        const T step_c = T(lr[s] * scale_outer * net.inv_alpha);
        std::fill(partial.begin(), partial.end(), 0.0);

        parallel_for(plan.count, threads, [&](index_t k) {
            double* part = partial.data() + k * n;
            int bad = 0;
            alignas(64) T ga[kBlock], gb[kBlock], gc[kBlock];
            const index_t i0 = plan.begin(k), i1 = plan.end(k, net.m);
            for (index_t s0 = i0; s0 < i1; s0 += kBlock) {
                const index_t len = std::min(kBlock, i1 - s0);
                T* __restrict a = net.a + s0;
                T* __restrict b = net.b + s0;
                T* __restrict c = net.c + s0;
                for (index_t i = 0; i < len; ++i) ga[i] = gb[i] = gc[i] = T(0);
                // gradient sums over the samples, SIMD across neurons
                for (index_t j = 0; j < n; ++j) {
                    const T xj = xt[j], rj = rt[j], rxj = rxt[j];
                    for (index_t i = 0; i < len; ++i) {
                        const T z = a[i] * xj + b[i];
                        const bool on = z > T(0);
                        gc[i] += on ? rj * z : T(0);
                        ga[i] += on ? rxj : T(0);
                        gb[i] += on ? rj : T(0);
                    }
                }
                // update (all gradients use the old c)
                for (index_t i = 0; i < len; ++i) {
                    const T sc = step_ab * c[i];
                    const T an = a[i] - sc * ga[i];
                    const T bn = b[i] - sc * gb[i];
                    const T cn = c[i] - step_c * gc[i];
                    a[i] = an;
                    b[i] = bn;
                    c[i] = cn;
                    // x - x is 0 for finite x and NaN otherwise (integer OR: vectorizable, order-free)
                    bad |= int(!((an - an) == T(0) && (bn - bn) == T(0) && (cn - cn) == T(0)));
                }
                // next step's predictions
                for (index_t j = 0; j < n; ++j) part[j] += double(block_forward(a, b, c, len, xt[j]));
            }
            chunk_bad[k] = bad;
        });

        bool finite = true;
        for (index_t k = 0; k < plan.count; ++k) finite = finite && !chunk_bad[k];
        for (index_t j = 0; j < n; ++j) {
            double acc = 0.0;
            for (index_t k = 0; k < plan.count; ++k) acc += partial[k * n + j];
            pred[j] = acc * net.inv_alpha;
        }
        res.steps_done = s + 1;
        if (!finite) {
            res.diverged = true;
            return res;
        }
    }
    return res;
}

}  // namespace wideflow::shallow
