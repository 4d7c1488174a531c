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
// Inner loops (per block of kBlock neurons, all in L1):
//  - update: gather (S, SX) of the neuron's cached bin from tables in the parameter type, update a, b, c;
//  - small n (n <= kFusedMaxSamples): the next step's forward pass and the new bins in one pass over the
//    samples, SIMD across neurons: z = a x_j + b, count z > 0, accumulate c relu(z) per sample (register
//    tiles of 4 samples). No histogram and no scalar scatter;
//  - larger n: the cached bin is checked in O(1) by two samples (the first active and the last inactive
//    one, table lookups); only a neuron whose knot crossed a sample, or whose orientation flipped, is
//    searched again (binary search, log2 n probes). The forward pass scatters (c a, c b) into a histogram
//    of interleaved (A, B) pairs; the bins everyone shares (active nowhere / everywhere) go to eight
//    interleaved sub-bins, so runs of neurons in one bin never wait on their own store (store-to-load
//    forwarding stalls).
//
// The convention is the direct kernel's: relu(z) = max(z, 0) with derivative 1[z > 0], z = a*x + b
// formed identically, so both kernels see the same active sets, ties and a_i = 0 included.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "wideflow/parallel.hpp"
#include "wideflow/shallow.hpp"

namespace wideflow::shallow {

// Up to this many samples the active count is a branch-free count over all samples (SIMD across
// neurons); above it, a branch-free binary search with a fixed number of probes.
constexpr index_t kCountMaxSamples = 24;

// Up to this many samples a GD step computes the next forward pass directly (O(m n), SIMD, fused with
// the bins); above it, through the histogram. Both give the same bins; the predictions agree to rounding.
constexpr index_t kFusedMaxSamples = 24;

// Bin indices (2 (n + 1) bins per histogram; n < 2^30).
using bin_t = std::int32_t;

// The GD step's per-bin table, interleaved: entry q holds (S_q, SX_q, xon_q, xoff_q) in the parameter
// type, so the update and the O(1) bin check of a neuron touch one cache line (for large n the four
// separate tables would not fit in L1, and each neuron would miss four lines).
constexpr index_t kTableStride = 4;

// Interleaved sub-bins for the shared bins (see Histogram).
constexpr int kHistLanes = 8;
// Kept for callers that size per-chunk work by it; the histogram layout no longer depends on n.
inline int histogram_lanes(index_t) { return kHistLanes; }

// Chunks for the sorted kernel: about 64 (enough for load balance), fewer when the per-chunk histograms
// (about 4 (n + 1) doubles each, zeroed and reduced every step) would cost more than ~2 % of the
// parameter traffic of a step, at least 4 while the width allows. Depends on (m, n) only.
inline ChunkPlan sorted_plan(index_t m, index_t n) {
    const index_t per_chunk = 4 * (n + 1) + 4 * kHistLanes;
    index_t target = std::min<index_t>(64, m / std::max<index_t>(1, 16 * per_chunk));
    target = std::min<index_t>(target, (index_t(1) << 23) / per_chunk);
    target = std::max<index_t>(4, target);
    return plan_chunks(m, 4096, m, target, kBlock);
}

WIDEFLOW_ISA_NAMESPACE_BEGIN

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

// The bin of one neuron by the same binary search as active_bins (same probes, same predicate).
template <class T>
inline bin_t search_bin(T a, T b, const T* __restrict xs, index_t n) {
    index_t top = 1;
    while (top * 2 <= n) top *= 2;
    index_t p = 0;
    const bool up = a >= T(0);
    for (index_t step = top; step > 0; step /= 2) {
        const index_t probe = p + step;
        if (probe <= n) {
            const T z = a * xs[probe - 1] + b;
            if ((z > T(0)) != up) p = probe;
        }
    }
    return bin_t(up ? n - p : (n + 1) + p);
}

// Boundary samples of every bin, for the O(1) check of a cached bin: a neuron in bin q must be active at
// xon[q] and inactive at xoff[q] (and have the bin's orientation). A missing boundary (count 0 or n) is
// an infinity on the side that holds for every finite neuron of that orientation. For a_i = 0 the
// infinity gives z = NaN, the check fails and the neuron is searched: never a wrong bin.
// Written into the per-bin table (stride kTableStride, see BinTable).
template <class T>
inline void bin_boundaries(const T* __restrict xs, index_t n, T* __restrict xon, T* __restrict xoff) {
    const T inf = std::numeric_limits<T>::infinity();
    constexpr index_t w = kTableStride;
    for (index_t cnt = 0; cnt <= n; ++cnt) {
        xon[w * cnt] = cnt > 0 ? xs[n - cnt] : inf;                 // a >= 0: active on [n - cnt, n)
        xoff[w * cnt] = cnt < n ? xs[n - cnt - 1] : -inf;
        xon[w * (n + 1 + cnt)] = cnt > 0 ? xs[cnt - 1] : -inf;      // a < 0: active on [0, cnt)
        xoff[w * (n + 1 + cnt)] = cnt < n ? xs[cnt] : inf;
    }
}

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
    void add(const bin_t* __restrict bin, const double* __restrict ca, const double* __restrict cb,
             index_t len) {
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
inline void histogram_predictions(const std::vector<Histogram>& hs, const double* xs, index_t n,
                                  double inv_alpha, double* pred, std::vector<double>& tot,
                                  int threads = 1) {
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
        h.reset(P);
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
    histogram_predictions(hs, xs, P, net.inv_alpha, out, tot, threads);
}

// One GD update of a block of neurons given their bins and the per-bin active sums S, SX (tables in the
// parameter type: the values T(S[q]) a float32 net uses, gathered at its own width).
template <class T>
inline void update_block(T* __restrict a, T* __restrict b, T* __restrict c, const bin_t* __restrict bin,
                         index_t len, const T* __restrict tab, T step_ab, T step_c, int& bad_out) {
    int bad = 0;
    for (index_t i = 0; i < len; ++i) {
        const bin_t q = bin_t(kTableStride) * bin[i];  // 32-bit index math: 16-lane gathers
        const T Si = tab[q], SXi = tab[q + 1];
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

#if defined(__GNUC__) && !defined(__clang__) && defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT == 2
#define WIDEFLOW_PERMUTE_TABLE 1
// update_block for at most kPermuteBins bins (n <= 15) on AVX-512: the (S, SX) table lives in registers
// and a lookup is one or two two-register permutes (vpermt2ps / vpermt2pd) and a select instead of a
// gather (GCC's __builtin_shuffle; the index is taken modulo the two registers' lanes). Measured at
// n = 10, L2-resident, 1 thread: float32 1.2 -> 0.85 ns, float64 2.0 -> 1.45 ns per neuron-step. On AVX2
// the same code was no faster in float32 and slower in float64 (no two-register permutes), so AVX2 keeps
// the gathers. Same arithmetic, in the same order, as update_block: the same bits.
constexpr index_t kPermuteBins = 32;

template <class T>
inline void update_block_permute(T* __restrict a, T* __restrict b, T* __restrict c,
                                 const bin_t* __restrict bin, index_t len, const T* __restrict tab,
                                 index_t nb, T step_ab, T step_c, int& bad_out) {
    constexpr int NW = simd::kNative<T>, K = int(kPermuteBins) / (2 * NW);
    using V = simd::native<T>;
    using Int = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;
    using I = typename simd::vec<Int, NW>::type;
    using I32 = typename simd::vec<std::int32_t, NW>::type;
    alignas(64) T sv[kPermuteBins] = {}, sxv[kPermuteBins] = {};
    for (index_t q = 0; q < nb; ++q) {
        sv[q] = tab[kTableStride * q];
        sxv[q] = tab[kTableStride * q + 1];
    }
    V ts[2 * K], tx[2 * K];
    for (int k = 0; k < 2 * K; ++k) {
        ts[k] = simd::load<V>(sv + k * NW);
        tx[k] = simd::load<V>(sxv + k * NW);
    }
    const V zero = {};
    I badv = {};
    index_t i = 0;
    for (; i + NW <= len; i += NW) {
        const I q = __builtin_convertvector(simd::load<I32>(bin + i), I);
        V Si = __builtin_shuffle(ts[0], ts[1], q), SXi = __builtin_shuffle(tx[0], tx[1], q);
        for (int k = 1; k < K; ++k) {
            const auto hi = q >= Int(2 * NW * k);
            Si = hi ? __builtin_shuffle(ts[2 * k], ts[2 * k + 1], q) : Si;
            SXi = hi ? __builtin_shuffle(tx[2 * k], tx[2 * k + 1], q) : SXi;
        }
        const V ai = simd::load<V>(a + i), bi = simd::load<V>(b + i), ci = simd::load<V>(c + i);
        const V sc = step_ab * ci;
        const V an = ai - sc * SXi;
        const V bn = bi - sc * Si;
        const V cn = ci - step_c * (ai * SXi + bi * Si);
        simd::store(a + i, an);
        simd::store(b + i, bn);
        simd::store(c + i, cn);
        badv |= ~(((an - an) == zero) & ((bn - bn) == zero) & ((cn - cn) == zero));
    }
    int bad = 0;
    for (int k = 0; k < NW; ++k) bad |= badv[k] != 0;
    if (i < len) update_block(a + i, b + i, c + i, bin + i, len - i, tab, step_ab, step_c, bad);
    bad_out |= bad;
}
#endif

// Small n: the next step's forward pass of a block, part[j] += sum_i c_i relu(a_i x_j + b_i) (the
// direct kernel's lanes and order), and the new bins, in one pass over J samples at a time; cnt
// accumulates the active counts (in T: exact for these n).
template <int J, class T>
WIDEFLOW_NOINLINE void fused_forward_tile(const T* __restrict a, const T* __restrict b, const T* __restrict c,
                               index_t len, const T* __restrict x, T* __restrict cnt, double* __restrict part) {
    constexpr int L = kLanes<T>, NW = simd::kNative<T>, P = L / NW;
    using V = simd::native<T>;
    V acc[J][P];
    T xs[J];
    for (int j = 0; j < J; ++j) {
        xs[j] = x[j];
        for (int p = 0; p < P; ++p) acc[j][p] = V{};
    }
    const V zero = {}, one = zero + T(1);
    index_t i = 0;
    for (; i + L <= len; i += L) {
        for (int p = 0; p < P; ++p) {
            const index_t o = i + p * NW;
            const V av = simd::load<V>(a + o), bv = simd::load<V>(b + o), cv = simd::load<V>(c + o);
            V cn = simd::load<V>(cnt + o);
            for (int j = 0; j < J; ++j) {
                const V z = av * xs[j] + bv;
                const auto on = z > zero;
                cn += on ? one : zero;
                acc[j][p] += on ? cv * z : zero;  // one multiply and one masked add
            }
            simd::store(cnt + o, cn);
        }
    }
    T tail[J][L] = {};
    for (int k = 0; i < len; ++i, ++k) {
        for (int j = 0; j < J; ++j) {
            const T z = a[i] * xs[j] + b[i];
            cnt[i] += z > T(0) ? T(1) : T(0);
            tail[j][k] = z > T(0) ? c[i] * z : T(0);
        }
    }
    for (int j = 0; j < J; ++j) {
        T lanes[L];
        for (int p = 0; p < P; ++p) simd::store(lanes + p * NW, acc[j][p] + simd::load<V>(tail[j] + p * NW));
        part[j] += double(lane_sum(lanes));
    }
}

template <class T>
inline void fused_forward_bins(const T* __restrict a, const T* __restrict b, const T* __restrict c,
                               index_t len, const T* __restrict x, index_t n, bin_t* __restrict bin,
                               double* __restrict part) {
    alignas(64) T cnt[kBlock];
    for (index_t i = 0; i < len; ++i) cnt[i] = T(0);
    index_t j = 0;
    for (; j + kSampleTile <= n; j += kSampleTile)
        fused_forward_tile<kSampleTile>(a, b, c, len, x + j, cnt, part + j);
    switch (n - j) {
        case 3: fused_forward_tile<3>(a, b, c, len, x + j, cnt, part + j); break;
        case 2: fused_forward_tile<2>(a, b, c, len, x + j, cnt, part + j); break;
        case 1: fused_forward_tile<1>(a, b, c, len, x + j, cnt, part + j); break;
        default: break;
    }
    const bin_t off = bin_t(n + 1);
    for (index_t i = 0; i < len; ++i) {
        const bin_t q = bin_t(cnt[i]) + (a[i] >= T(0) ? 0 : off);
        if (q != bin[i]) bin[i] = q;  // a bin that did not move is not stored (its cache line stays clean)
    }
}

// Larger n: check each cached bin in O(1) against the new (a, b); search only the stale ones.
template <class T>
inline void refresh_bins(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xs,
                         index_t n, const T* __restrict tab, bin_t* __restrict bin) {
    alignas(64) int stale[kBlock];
    int any = 0;
    const bin_t nn = bin_t(n);
    for (index_t i = 0; i < len; ++i) {
        const bin_t q = bin[i];
        const T z1 = a[i] * tab[bin_t(kTableStride) * q + 2] + b[i];
        const T z0 = a[i] * tab[bin_t(kTableStride) * q + 3] + b[i];
        const bool ok = (z1 > T(0)) & !(z0 > T(0)) & ((a[i] >= T(0)) == (q <= nn));
        stale[i] = ok ? 0 : 1;
        any |= stale[i];
    }
    if (!any) return;
    for (index_t i = 0; i < len; ++i)
        if (stale[i]) bin[i] = search_bin(a[i], b[i], xs, n);
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
    const bool fused = n <= kFusedMaxSamples;
    std::vector<Histogram> hs(static_cast<std::size_t>(fused ? 0 : plan.count));
    std::vector<double> partial(static_cast<std::size_t>(fused ? plan.count * n : 0));
    std::vector<int> chunk_bad(static_cast<std::size_t>(plan.count));
    std::vector<double> r(static_cast<std::size_t>(n)), tot;
    // Active sums by bin: S[bin] = sum of r_j over the bin's active set, SX likewise with r_j x_j.
    std::vector<double> S(static_cast<std::size_t>(nb)), SX(static_cast<std::size_t>(nb));
    std::vector<T> tab(static_cast<std::size_t>(kTableStride * nb));  // (S, SX, xon, xoff) by bin
    std::vector<T> xt(static_cast<std::size_t>(n));
    for (index_t j = 0; j < n; ++j) xt[j] = T(x[j]);
    bin_boundaries(xt.data(), n, tab.data() + 2, tab.data() + 3);
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
        for (index_t q = 0; q < nb; ++q) {
            tab[kTableStride * q] = T(S[q]);
            tab[kTableStride * q + 1] = T(SX[q]);
        }
        const T step_ab = T(lr[s] * scale_inner * net.inv_alpha);
        const T step_c = T(lr[s] * scale_outer * net.inv_alpha);
        if (fused) std::fill(partial.begin(), partial.end(), 0.0);

        parallel_for(plan.count, threads, [&](index_t q) {
            int bad = 0;
            alignas(64) double ca[kBlock], cb[kBlock];
            double* part = fused ? partial.data() + q * n : nullptr;
            Histogram* h = fused ? nullptr : &hs[q];
            if (h) h->reset(n);
            const index_t i0 = plan.begin(q), i1 = plan.end(q, net.m);
            for (index_t s0 = i0; s0 < i1; s0 += kBlock) {
                const index_t len = std::min(kBlock, i1 - s0);
                T* __restrict a = net.a + s0;
                T* __restrict b = net.b + s0;
                T* __restrict c = net.c + s0;
                bin_t* __restrict bin = bins + s0;
#ifdef WIDEFLOW_PERMUTE_TABLE
                if (nb <= kPermuteBins)
                    update_block_permute(a, b, c, bin, len, tab.data(), nb, step_ab, step_c, bad);
                else
#endif
                    update_block(a, b, c, bin, len, tab.data(), step_ab, step_c, bad);
                if (fused) {
                    fused_forward_bins(a, b, c, len, xt.data(), n, bin, part);
                } else {
                    refresh_bins(a, b, len, xt.data(), n, tab.data(), bin);
                    histogram_weights(a, b, c, len, ca, cb);
                    h->add(bin, ca, cb, len);
                }
            }
            chunk_bad[q] = bad;
        });

        int bad = 0;
        for (index_t q = 0; q < plan.count; ++q) bad |= chunk_bad[q];
        if (fused) {
            for (index_t j = 0; j < n; ++j) {
                double acc = 0.0;
                for (index_t q = 0; q < plan.count; ++q) acc += partial[q * n + j];
                pred[j] = acc * net.inv_alpha;
            }
        } else {
            histogram_predictions(hs, x, n, net.inv_alpha, pred, tot, threads);
        }
        res.steps_done = s + 1;
        if (bad) {
            res.diverged = true;
            return res;
        }
    }
    return res;
}

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::shallow
