// The forward pass of the sorted shallow kernel as a histogram: a neuron in bin q adds (c a, c b) to bin q
// of its chunk's histogram; prefix sums over the bins give f(x_j) = (A_j x_j + B_j) / alpha for every
// sample in O(n). Also the per-bin active sums S, SX of the residuals that the gradient reads. Every sum
// has a fixed order (bins, then chunks in chunk order), so the result does not depend on threads.
#pragma once

#include <algorithm>
#include <vector>

#include "wideflow/isa.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/shallow.hpp"
#include "wideflow/shallow_bins.hpp"

namespace wideflow::shallow {

// Interleaved sub-bins for the shared bins (see Histogram).
constexpr int kHistLanes = 8;
// Kept for callers that size per-chunk work by it; the histogram layout no longer depends on n.
inline int histogram_lanes(index_t) { return kHistLanes; }

WIDEFLOW_ISA_NAMESPACE_BEGIN

// Per-chunk histogram of (c a, c b) by bin. Layout: pairs (A, B) per bin (one cache line holds both),
// then kHistLanes groups of 4 pairs for the shared bins {0, n, n + 1, 2n + 1} (active nowhere or
// everywhere): neuron i of a block adds to group i % kHistLanes, so consecutive neurons in a shared bin
// hit different addresses. Reduced in a fixed order (the bin, then the groups in order).
struct Histogram {
    index_t n = 0;
    std::vector<double> data;
    index_t bins() const { return 2 * (n + 1); }
    void reset(index_t n_, int /*lanes: layout is fixed*/ = kHistLanes) {
        n = n_;
        data.assign(static_cast<std::size_t>(2 * bins() + 8 * kHistLanes), 0.0);
    }
    // Add neurons [0, len) with bins `bin` and weights (ca, cb).
    void add(const bin_t* __restrict bin, const double* __restrict ca, const double* __restrict cb, index_t len) {
        const bin_t nn = bin_t(n), nb = bin_t(bins());
        double* h = data.data();
        for (index_t s = 0; s < len; s += kBlock) {
            const index_t l = std::min(kBlock, len - s);
            alignas(64) bin_t slot[kBlock];
            for (index_t i = 0; i < l; ++i) {
                const bin_t q = bin[s + i];
                const bin_t cnt = q <= nn ? q : q - (nn + 1);
                const bin_t which = (q <= nn ? 0 : 2) + (cnt == 0 ? 0 : 1);
                const bool shared = cnt == 0 || cnt == nn;
                slot[i] = shared ? nb + bin_t(4 * (i % kHistLanes)) + which : q;
            }
            for (index_t i = 0; i < l; ++i) {
                double* p = h + 2 * index_t(slot[i]);
                const double pa = p[0] + ca[s + i], pb = p[1] + cb[s + i];
                p[0] = pa;
                p[1] = pb;
            }
        }
    }
    // Add this histogram into `tot` ([A by bin][B by bin], 2 * bins() doubles), bins [q0, q1) only.
    void accumulate_into(double* tot, index_t q0, index_t q1) const {
        const index_t nb = bins();
        const double* h = data.data();
        for (index_t q = q0; q < q1; ++q) {
            tot[q] += h[2 * q];
            tot[nb + q] += h[2 * q + 1];
        }
        const index_t shared[4] = {0, n, n + 1, 2 * n + 1};
        for (int w = 0; w < 4; ++w) {
            const index_t q = shared[w];
            if (q < q0 || q >= q1) continue;
            double sa = 0.0, sb = 0.0;
            for (int l = 0; l < kHistLanes; ++l) {
                sa += h[2 * (nb + 4 * l + w)];
                sb += h[2 * (nb + 4 * l + w) + 1];
            }
            tot[q] += sa;
            tot[nb + q] += sb;
        }
    }
    void accumulate_into(double* tot) const { accumulate_into(tot, 0, bins()); }
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

// pred_j = (A_j x_j + B_j) * inv_alpha from the per-chunk histograms (summed over chunks in order; the
// bins are split into ranges summed on `threads` threads, each range in the same chunk order).
// A suffix neuron with count cnt is active at j >= n - cnt; a prefix neuron with count cnt at j < cnt.
inline void histogram_predictions(const std::vector<Histogram>& hs, const double* xs, index_t n, double inv_alpha,
                                  double* pred, std::vector<double>& tot, int threads = 1) {
    const index_t nb = 2 * (n + 1);
    tot.assign(static_cast<std::size_t>(2 * nb + 2 * n), 0.0);
    constexpr index_t kRange = 4096;
    const index_t ranges = (nb + kRange - 1) / kRange;
    parallel_for(ranges, threads_for(index_t(hs.size()) * nb, threads), [&](index_t g) {
        const index_t q0 = g * kRange, q1 = std::min(nb, q0 + kRange);
        for (const auto& h : hs) h.accumulate_into(tot.data(), q0, q1);
    });
    const double* A = tot.data();
    const double* B = tot.data() + nb;
    // suffix part: at j, counts cnt >= n - j, i.e. running sum over cnt = n, n-1, ..., n-j
    // prefix part: at j, counts cnt > j, i.e. sum over cnt = j+1 .. n (run from the right)
    double* pa = tot.data() + 2 * nb;
    double* pb = pa + n;
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

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::shallow
