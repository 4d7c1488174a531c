// Divergence safety without a parameter copy: cheap a-priori bounds that certify that the next steps of a
// shallow ReLU run cannot produce a non-finite value.
//
// A gradient-descent run must end in its last finite state. Keeping a copy of the parameters for a
// rollback doubles the memory of a wide net; instead the driver proves, before a chunk of steps, that
// none of them can overflow, from a handful of scalars:
//
//   A >= max_i |a_i|,  B >= max_i |b_i|,  C >= max_i |c_i|      (bounds on the parameters)
//   P >= max_j |f(x_j)|,  Ymax = max_j |y_j|,  X = max_j |x_j|   (predictions, targets, samples)
//
// With residuals |r_j| <= R = P + Ymax, every per-neuron gradient sum of the kernels is bounded by
// rho = n R (sums of r_j over an active set) or rho X (sums of r_j x_j), so one step with step sizes
// s_ab = lr/alpha (inner) and s_c = lr/alpha (outer) moves the parameters by at most
//
//   dA = s_ab C rho X,   dB = s_ab C rho,   dC = s_c (A rho X + B rho)
//
// and each prediction by at most m/alpha (dC Z' + C (dA X + dB)), Z' = A' X + B'. Iterating these maps
// gives bounds for every later step; while every quantity a kernel forms (in the parameter type T or in
// double) stays far below the overflow threshold, the step is certified: its result is finite. The bounds
// are pessimistic, so a certificate lasts a bounded number of steps. After a chunk the driver tightens
// the parameter bounds with the losses the kernel reported (sum_j |r_j| <= sqrt(2 n L), sum_j |r_j x_j|
// <= sqrt(2 L sum_j x_j^2)), and measures them again (abs_max, one read pass) only when a certificate
// becomes too short. Rounding of the kernels' arithmetic is covered by a relative margin per step.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::guard {

// max_i |v_i|, or NaN if some v_i is NaN (inf if some is infinite and none is NaN). Fixed blocks, parallel;
// the result does not depend on the thread count (max is exact).
template <class T>
double abs_max(const T* v, index_t n, int threads) {
    constexpr index_t kChunk = index_t(1) << 16;
    const index_t count = (n + kChunk - 1) / kChunk;
    std::vector<double> part(static_cast<std::size_t>(count), 0.0);
    std::vector<int> nan(static_cast<std::size_t>(count), 0);
    // a read pass: a second thread pays off only on arrays well beyond the caches
    parallel_for(count, n < (index_t(1) << 22) ? 1 : threads, [&](index_t k) {
        const index_t i0 = k * kChunk, i1 = std::min(n, i0 + kChunk);
        T acc[16] = {};
        int bad = 0;
        index_t i = i0;
        for (; i + 16 <= i1; i += 16)
            for (int l = 0; l < 16; ++l) {
                const T x = std::fabs(v[i + l]);
                acc[l] = x > acc[l] ? x : acc[l];
                bad |= int(x != x);
            }
        for (int l = 0; i < i1; ++i, ++l) {
            const T x = std::fabs(v[i]);
            acc[l] = x > acc[l] ? x : acc[l];
            bad |= int(x != x);
        }
        T mx = acc[0];
        for (int l = 1; l < 16; ++l) mx = acc[l] > mx ? acc[l] : mx;
        part[static_cast<std::size_t>(k)] = double(mx);
        nan[static_cast<std::size_t>(k)] = bad;
    });
    double mx = 0.0;
    for (index_t k = 0; k < count; ++k) {
        if (nan[static_cast<std::size_t>(k)]) return std::numeric_limits<double>::quiet_NaN();
        mx = std::max(mx, part[static_cast<std::size_t>(k)]);
    }
    return mx;
}

// What the bounds need to know about a shallow run (fixed for the run).
struct ShallowProblem {
    double n = 0;          // samples
    double m = 0;          // neurons
    double inv_alpha = 0;  // 1 / alpha
    double s_inner = 1;    // 0 or 1: whether (a, b) train
    double s_outer = 1;    // 0 or 1: whether c trains
    double X = 0;          // max |x_j|
    double sum_x2 = 0;     // sum_j x_j^2
    double Ymax = 0;       // max |y_j|
    double tmax = 0;       // threshold for quantities formed in the parameter type
    double dmax = 0;       // threshold for quantities formed in double
    double margin = 0;     // relative rounding margin per step
};

// Parameter bounds after one step with gradient-sum bounds rho (sums of r) and rhox (sums of r x).
inline void advance(const ShallowProblem& p, double lr, double rho, double rhox, double& A, double& B, double& C) {
    const double sab = std::fabs(lr) * p.s_inner * p.inv_alpha, sc = std::fabs(lr) * p.s_outer * p.inv_alpha;
    const double grow = 1.0 + p.margin;
    const double A1 = (A + sab * C * rhox) * grow;
    const double B1 = (B + sab * C * rho) * grow;
    const double C1 = (C + sc * (A * rhox + B * rho)) * grow;
    A = A1;
    B = B1;
    C = C1;
}

// Number of the next `steps` steps (step sizes lr[0..steps)) certified finite, from parameter bounds
// (A, B, C), a bound P on the current predictions and the current loss. 0 if even the first step is not
// certified.
inline index_t certify(const ShallowProblem& p, double A, double B, double C, double P, double loss, const double* lr,
                       index_t steps) {
    constexpr double kBlockSum = 4096.0;  // neurons summed in T before a partial goes to double
    const double grow = 1.0 + p.margin;
    double R2 = std::sqrt(2.0 * loss) * grow;  // >= ||r||_2 (from the current loss, then by the triangle inequality)
    const double sqrt_n = std::sqrt(p.n), norm_x = std::sqrt(p.sum_x2);
    for (index_t k = 0; k < steps; ++k) {
        const double R = std::min((P + p.Ymax) * grow, R2);
        // sum_j |r_j| <= min(n max|r|, sqrt(n) ||r||_2), sum_j |r_j x_j| <= min(.. X, ||r||_2 ||x||_2)
        const double rho = std::min(p.n * R, sqrt_n * R2), rhox = std::min(p.n * R * p.X, R2 * norm_x);
        const double sab = std::fabs(lr[k]) * p.s_inner * p.inv_alpha;
        const double Z = A * p.X + B;
        double A1 = A, B1 = B, C1 = C;
        advance(p, lr[k], rho, rhox, A1, B1, C1);
        const double Z1 = A1 * p.X + B1;
        const double F1 = C1 * Z1;
        const double dP = p.inv_alpha * p.m * ((C1 - C) * Z1 + C * ((A1 - A) * p.X + (B1 - B)));
        const double P1 = std::min(P + dP, p.inv_alpha * p.m * F1) * grow;
        // quantities formed in the parameter type: residuals, gradient sums, step * c, new parameters,
        // activations, per-block forward sums
        const double t_big =
            std::max({R, rho, rhox, rho * Z, A * rhox + B * rho, sab * C, A1, B1, C1, Z1, kBlockSum * F1});
        // in double: histogram and prediction sums (before and after 1/alpha), the loss
        const double d_big = std::max({p.m * F1, p.m * C1 * (A1 + B1), P1, 0.5 * p.n * (P1 + p.Ymax) * (P1 + p.Ymax)});
        if (!(t_big < p.tmax) || !(d_big < p.dmax)) return k;  // NaN-safe
        A = A1;
        B = B1;
        C = C1;
        P = P1;
        R2 = (R2 + sqrt_n * dP) * grow;
    }
    return steps;
}

// Tighten (A, B, C) along the steps just run, from the losses the kernel reported at their starts.
inline void advance_along(const ShallowProblem& p, const double* lr, const double* losses, index_t steps, double& A,
                          double& B, double& C) {
    for (index_t k = 0; k < steps; ++k) {
        const double two_l = 2.0 * std::max(losses[k], 0.0);
        const double rho = std::sqrt(p.n * two_l) * (1.0 + p.margin);
        const double rhox = std::sqrt(two_l * p.sum_x2) * (1.0 + p.margin);
        advance(p, lr[k], rho, rhox, A, B, C);
    }
}

}  // namespace wideflow::guard
