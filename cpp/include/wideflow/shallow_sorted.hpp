// Wide shallow univariate ReLU network, exact O(m log n + n) kernel for sorted samples.
//
// With the samples sorted, x_1 <= ... <= x_n, neuron i is active (z_ij = a_i x_j + b_i > 0) on a suffix
// of the samples when a_i >= 0 and on a prefix when a_i < 0, because z_ij is monotone in x_j (also in
// floating point: a product and a sum are each monotone under rounding; FP contraction is off). Let k_i
// be the length of the prefix where the predicate g = (z > 0) XOR (a >= 0) holds; then the active set is
// [k_i, n) for a_i >= 0 and [0, k_i) for a_i < 0, and with prefix sums R_k = sum_{j<k} r_j,
// RX_k = sum_{j<k} r_j x_j every per-neuron gradient sum is a difference of two table entries:
//
//   S_i = sum_{j active} r_j,  SX_i = sum_{j active} r_j x_j
//   dL/da_i = (c_i/alpha) SX_i,  dL/db_i = (c_i/alpha) S_i,  dL/dc_i = (a_i SX_i + b_i S_i)/alpha.
//
// The forward pass is a histogram: the updated neuron adds (c_i a_i, c_i b_i) to bin k_i of the
// histogram of its orientation; prefix sums of the histograms give f(x_j) = (A_j x_j + B_j)/alpha. One
// step is one pass over the parameters (48 bytes per neuron in float64) plus O(n) work.
//
// The convention is the direct kernel's: relu(z) = max(z, 0) with derivative 1[z > 0], z = a*x + b
// formed identically, so both kernels see the same active sets, ties and a_i = 0 included.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "wideflow/parallel.hpp"
#include "wideflow/shallow.hpp"

namespace wideflow::shallow {

// Up to this many samples the active count is a branch-free count over all samples (SIMD across
// neurons); above it, a branch-free binary search with a fixed number of probes.
constexpr index_t kCountMaxSamples = 24;

// Bin indices (2 (n + 1) bins per histogram; n < 2^30).
using bin_t = std::int32_t;

// Interleaved sub-histograms (breaks store-to-load dependency chains when many neurons share a bin),
// reduced in a fixed order. Small n only: for large n bins rarely collide.
constexpr int kHistLanes = 8;
inline int histogram_lanes(index_t n) { return n < 512 ? kHistLanes : 1; }

// Chunks for the sorted kernel: about 64 (enough for load balance), fewer when the per-chunk histograms
// (lanes * 4 * (n + 1) doubles each) would exceed ~64 MiB in all. Depends on (m, n) only.
inline ChunkPlan sorted_plan(index_t m, index_t n) {
    const index_t per_chunk = index_t(histogram_lanes(n)) * 4 * (n + 1);
    const index_t target = std::max<index_t>(1, std::min<index_t>(64, (index_t(1) << 23) / per_chunk));
    return plan_chunks(m, 4096, m, target, kBlock);
}

// Bin of each neuron: bin[i] = cnt_i for a_i >= 0 (active on the last cnt_i samples) and
// (n + 1) + cnt_i for a_i < 0 (active on the first cnt_i samples), where cnt_i = #{j : a_i x_j + b_i > 0}
// over the ascending xs. The count equals the length of the active suffix/prefix because z is monotone
// in x_j.
template <class T>
inline void active_bins(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xs,
                        index_t n, bin_t* __restrict bin) {
    if (n <= kCountMaxSamples) {
        for (index_t i = 0; i < len; ++i) bin[i] = 0;
        for (index_t j = 0; j < n; ++j) {
            const T xj = xs[j];
            for (index_t i = 0; i < len; ++i) {
                const T z = a[i] * xj + b[i];
                bin[i] += z > T(0) ? 1 : 0;
            }
        }
    } else {
        // g_j = (z_j > 0) XOR (a >= 0) holds on a prefix of length p; cnt = n - p (a >= 0) or p (a < 0).
        index_t top = 1;
        while (top * 2 <= n) top *= 2;
        for (index_t i = 0; i < len; ++i) bin[i] = 0;
        for (index_t step = top; step > 0; step /= 2) {
            for (index_t i = 0; i < len; ++i) {
                const index_t probe = bin[i] + step;
                const index_t at = (probe <= n ? probe : n) - 1;
                const T z = a[i] * xs[at] + b[i];
                const bool g = (z > T(0)) != (a[i] >= T(0));
                bin[i] = (probe <= n && g) ? probe : bin[i];
            }
        }
        for (index_t i = 0; i < len; ++i) bin[i] = a[i] >= T(0) ? n - bin[i] : bin[i];
    }
    for (index_t i = 0; i < len; ++i) bin[i] += a[i] >= T(0) ? 0 : n + 1;
}

// Per-chunk histogram of (c a, c b) by bin: layout [lane][2 quantities][2 (n + 1) bins].
struct Histogram {
    index_t n = 0;
    int lanes = 1;
    std::vector<double> data;
    index_t bins() const { return 2 * (n + 1); }
    void reset(index_t n_, int lanes_) {
        n = n_;
        lanes = lanes_;
        data.assign(static_cast<std::size_t>(lanes * 2 * bins()), 0.0);
    }
    // Add neurons [0, len) with bins `bin` and weights (ca, cb).
    void add(const bin_t* __restrict bin, const double* __restrict ca, const double* __restrict cb,
             index_t len) {
        const index_t nb = bins();
        double* h = data.data();
        if (lanes == kHistLanes) {
            index_t i = 0;
            for (; i + kHistLanes <= len; i += kHistLanes)
                for (int l = 0; l < kHistLanes; ++l) {
                    double* row = h + l * 2 * nb;
                    row[bin[i + l]] += ca[i + l];
                    row[nb + bin[i + l]] += cb[i + l];
                }
            for (int l = 0; i < len; ++i, ++l) {
                double* row = h + l * 2 * nb;
                row[bin[i]] += ca[i];
                row[nb + bin[i]] += cb[i];
            }
        } else {
            for (index_t i = 0; i < len; ++i) {
                h[bin[i]] += ca[i];
                h[nb + bin[i]] += cb[i];
            }
        }
    }
    // Add the lanes, in order, into `tot` (2 * bins() doubles).
    void accumulate_into(double* tot) const {
        const index_t w = 2 * bins();
        for (int l = 0; l < lanes; ++l) {
            const double* src = data.data() + l * w;
            for (index_t q = 0; q < w; ++q) tot[q] += src[q];
        }
    }
};

// Weights (c_i a_i, c_i b_i) of a block, in double.
template <class T>
inline void histogram_weights(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                              double* __restrict ca, double* __restrict cb) {
    for (index_t i = 0; i < len; ++i) {
        ca[i] = double(c[i]) * double(a[i]);
        cb[i] = double(c[i]) * double(b[i]);
    }
}

// pred_j = (A_j x_j + B_j) * inv_alpha from the per-chunk histograms (summed over chunks in order).
// A suffix neuron with count cnt is active at j >= n - cnt; a prefix neuron with count cnt at j < cnt.
inline void histogram_predictions(const std::vector<Histogram>& hs, const double* xs, index_t n,
                                  double inv_alpha, double* pred, std::vector<double>& tot) {
    const index_t nb = 2 * (n + 1);
    tot.assign(static_cast<std::size_t>(2 * nb), 0.0);
    for (const auto& h : hs) h.accumulate_into(tot.data());
    const double* A = tot.data();
    const double* B = tot.data() + nb;
    // suffix part: at j, counts cnt >= n - j, i.e. running sum over cnt = n, n-1, ..., n-j
    // prefix part: at j, counts cnt > j, i.e. sum over cnt = j+1 .. n (run from the right)
    std::vector<double>& scratch = tot;  // reuse: append space for the prefix sums
    scratch.resize(static_cast<std::size_t>(2 * nb + 2 * n));
    double* pa = scratch.data() + 2 * nb;
    double* pb = pa + n;
    A = scratch.data();
    B = scratch.data() + nb;
    double sa = 0.0, sb = 0.0;
    for (index_t j = n - 1; j >= 0; --j) {
        sa += A[(n + 1) + j + 1];
        sb += B[(n + 1) + j + 1];
        pa[j] = sa;
        pb[j] = sb;
    }
    sa = sb = 0.0;
    for (index_t j = 0; j < n; ++j) {
        sa += A[n - j];
        sb += B[n - j];
        pred[j] = ((sa + pa[j]) * xs[j] + (sb + pb[j])) * inv_alpha;
    }
}

// Active sums by bin: S[bin] = sum of r_j over the bin's active set, SX[bin] likewise with r_j x_j.
// Suffix bins (0..n) hold the last cnt samples, prefix bins (n+1..2n+1) the first cnt samples.
inline void active_sums(const double* r, const double* x, index_t n, double* S, double* SX) {
    S[0] = SX[0] = S[n + 1] = SX[n + 1] = 0.0;
    for (index_t q = 1; q <= n; ++q) {
        S[q] = S[q - 1] + r[n - q];
        SX[q] = SX[q - 1] + r[n - q] * x[n - q];
        S[n + 1 + q] = S[n + q] + r[q - 1];
        SX[n + 1 + q] = SX[n + q] + r[q - 1] * x[q - 1];
    }
}

// Evaluate at ascending points xs (length P).
template <class T>
void evaluate_sorted(const Params<T>& net, const double* xs, index_t P, double* out, int threads) {
    const ChunkPlan plan = sorted_plan(net.m, P);
    threads = threads_for(net.m * 2, threads);
    std::vector<Histogram> hs(static_cast<std::size_t>(plan.count));
    std::vector<T> xt(static_cast<std::size_t>(P));
    for (index_t j = 0; j < P; ++j) xt[j] = T(xs[j]);
    parallel_for(plan.count, threads, [&](index_t q) {
        Histogram& h = hs[q];
        h.reset(P, histogram_lanes(P));
        alignas(64) bin_t bin[kBlock];
        alignas(64) double ca[kBlock], cb[kBlock];
        const index_t i0 = plan.begin(q), i1 = plan.end(q, net.m);
        for (index_t s = i0; s < i1; s += kBlock) {
            const index_t len = std::min(kBlock, i1 - s);
            active_bins(net.a + s, net.b + s, len, xt.data(), P, bin);
            histogram_weights(net.a + s, net.b + s, net.c + s, len, ca, cb);
            h.add(bin, ca, cb, len);
        }
    });
    std::vector<double> tot;
    histogram_predictions(hs, xs, P, net.inv_alpha, out, tot);
}

// One GD update of a block of neurons given their bins and the per-bin active sums S, SX.
template <class T>
inline void update_block(T* __restrict a, T* __restrict b, T* __restrict c, const bin_t* __restrict bin,
                         index_t len, const double* __restrict S, const double* __restrict SX, T step_ab,
                         T step_c, int& bad_out) {
    int bad = 0;
    for (index_t i = 0; i < len; ++i) {
        const T Si = T(S[bin[i]]), SXi = T(SX[bin[i]]);
        const T ai = a[i], bi = b[i], ci = c[i];
        const T sc = step_ab * ci;
        const T an = ai - sc * SXi;
        const T bn = bi - sc * Si;
        const T cn = ci - step_c * (ai * SXi + bi * Si);
        a[i] = an;
        b[i] = bn;
        c[i] = cn;
        // x - x is 0 for finite x and NaN otherwise (integer OR: vectorizable, order-free)
        bad |= int(!((an - an) == T(0) && (bn - bn) == T(0) && (cn - cn) == T(0)));
    }
    bad_out |= bad;
}

// Fused GD steps with the sorted kernel; same contract as gd_direct, x must be ascending.
//
// bins (length m) caches each neuron's bin between steps: the bins computed for the forward pass of step
// s are the bins of step s + 1, so each step locates every neuron once. If bins_valid is false (first
// call, or the parameters changed outside the kernel) they are recomputed first. On return they are valid
// for the parameters reached.
template <class T>
ChunkResult gd_sorted(const Params<T>& net, const double* x, const double* y, index_t n, double* pred,
                      const double* lr, index_t steps, double scale_inner, double scale_outer, double* losses,
                      int threads, bin_t* bins, bool bins_valid) {
    ChunkResult res;
    const ChunkPlan plan = sorted_plan(net.m, n);
    threads = threads_for(net.m * 2, threads);
    const index_t nb = 2 * (n + 1);
    std::vector<Histogram> hs(static_cast<std::size_t>(plan.count));
    std::vector<int> chunk_bad(static_cast<std::size_t>(plan.count));
    std::vector<double> r(static_cast<std::size_t>(n)), tot;
    // Active sums by bin: S[bin] = sum of r_j over the bin's active set, SX likewise with r_j x_j.
    std::vector<double> S(static_cast<std::size_t>(nb)), SX(static_cast<std::size_t>(nb));
    std::vector<T> xt(static_cast<std::size_t>(n));
    for (index_t j = 0; j < n; ++j) xt[j] = T(x[j]);
    const int lanes = histogram_lanes(n);
    if (!bins_valid) {
        parallel_for(plan.count, threads, [&](index_t q) {
            const index_t i0 = plan.begin(q), i1 = plan.end(q, net.m);
            for (index_t s0 = i0; s0 < i1; s0 += kBlock)
                active_bins(net.a + s0, net.b + s0, std::min(kBlock, i1 - s0), xt.data(), n, bins + s0);
        });
    }

    for (index_t s = 0; s < steps; ++s) {
        if (!start_step(pred, y, n, r.data(), losses + s, res)) return res;
        active_sums(r.data(), x, n, S.data(), SX.data());
        const T step_ab = T(lr[s] * scale_inner * net.inv_alpha);
        const T step_c = T(lr[s] * scale_outer * net.inv_alpha);
        const double* Sp = S.data();
        const double* SXp = SX.data();

        parallel_for(plan.count, threads, [&](index_t q) {
            Histogram& h = hs[q];
            h.reset(n, lanes);
            int bad = 0;
            alignas(64) double ca[kBlock], cb[kBlock];
            const index_t i0 = plan.begin(q), i1 = plan.end(q, net.m);
            for (index_t s0 = i0; s0 < i1; s0 += kBlock) {
                const index_t len = std::min(kBlock, i1 - s0);
                T* __restrict a = net.a + s0;
                T* __restrict b = net.b + s0;
                T* __restrict c = net.c + s0;
                bin_t* __restrict bin = bins + s0;
                update_block(a, b, c, bin, len, Sp, SXp, step_ab, step_c, bad);
                active_bins(a, b, len, xt.data(), n, bin);
                histogram_weights(a, b, c, len, ca, cb);
                h.add(bin, ca, cb, len);
            }
            chunk_bad[q] = bad;
        });

        int bad = 0;
        for (index_t q = 0; q < plan.count; ++q) bad |= chunk_bad[q];
        histogram_predictions(hs, x, n, net.inv_alpha, pred, tot);
        res.steps_done = s + 1;
        if (bad) {
            res.diverged = true;
            return res;
        }
    }
    return res;
}

}  // namespace wideflow::shallow
