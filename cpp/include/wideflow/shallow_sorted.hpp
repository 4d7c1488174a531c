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
// Inner loops (per block of kBlock neurons, kFusedBlock on the small-n path, all in L1):
//  - update: the (S, SX) of the neuron's cached bin from tables in the parameter type (AVX-512 and
//    n <= 15: register permutes; AVX2 and AVX-512 otherwise: one load of the adjacent (S, SX) pair per
//    neuron and a transpose), update a, b, c, and prefetch the next block;
//  - small n (n <= kFusedMaxSamples): the next step's forward pass and the new bins in one pass over the
//    samples, SIMD across neurons: z = a x_j + b, count z > 0 (integer counts), accumulate c relu(z) per
//    sample (register tiles of 2-4 samples, the parameter vectors held in registers): 6 vector
//    instructions per sample on AVX-512, 7 on AVX2. Each lane's sum over a block is formed in T and
//    added to per-lane partials in double; the lanes are summed once per chunk. No histogram and no
//    scalar scatter;
//  - larger n: the cached bin is checked in O(1) by two samples (the first active and the last inactive
//    one, table lookups); only a neuron whose knot crossed a sample, or whose orientation flipped, is
//    searched again (binary search, log2 n probes). The forward pass scatters (c a, c b) into a histogram
//    of interleaved (A, B) pairs; the bins everyone shares (active nowhere / everywhere) go to eight
//    interleaved sub-bins, so runs of neurons in one bin never wait on their own store (store-to-load
//    forwarding stalls).
//
// Precision (float32): a prediction of the fused path is, per lane, a sum in float32 over at most
// kFusedBlock / 16 = 64 neurons, then sums in double; the histogram path accumulates in double. The
// guard's bound (guard.hpp: at most 4096 neurons summed in T) covers both.
//
// Headers: shallow_bins.hpp (bins and their O(1) check), shallow_histogram.hpp (the histogram forward pass
// and the active sums), this file (evaluation, the update, the GD loop); shallow.hpp has the types, the
// register-tiled forward pass shared with the direct kernel and the step's start and end.
//
// The convention is the direct kernel's: relu(z) = max(z, 0) with derivative 1[z > 0], z = a*x + b
// formed identically, so both kernels see the same active sets, ties and a_i = 0 included.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <vector>

#include "wideflow/parallel.hpp"
#include "wideflow/shallow.hpp"
#include "wideflow/shallow_bins.hpp"
#include "wideflow/shallow_histogram.hpp"

namespace wideflow::shallow {

// Up to this many samples a GD step computes the next forward pass directly (O(m n), SIMD, fused with
// the bins); above it, through the histogram. Both give the same bins; the predictions agree to rounding.
constexpr index_t kFusedMaxSamples = 24;
// Neurons per block of the fused path (a multiple of kBlock; up to 1024 * 8 bytes per array in L1):
// its per-block costs (the sample tiles' set-up, the lanes to double) are spread over more neurons.
constexpr index_t kFusedBlock = 4 * kBlock;

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
inline void update_block(T* __restrict a, T* __restrict b, T* __restrict c, const bin_t* __restrict bin, index_t len,
                         const T* __restrict tab, T step_ab, T step_c, int& bad_out) {
    count_t<T> bad = 0;  // of T's width: the flags vectorize without narrowing the comparison masks
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
        bad |= count_t<T>(nonfinite(an, bn, cn));
    }
    bad_out |= int(bad != 0);
}

// update_block with whole vectors of NW neurons and an explicit lookup: lookup(bin + i, Si, SXi) fills
// the (S, SX) of the NW neurons from bin + i. Same arithmetic, in the same order, as update_block: the
// same bits.
//
// Prefetch: the block's compute phase (the fused forward pass) issues no memory traffic of its own, so
// the hardware prefetchers alone leave the memory idle part of the time; while it updates a block, the
// loop also prefetches the parameters and bins `dist` neurons ahead (the next block) if they lie within
// the `ahead` neurons from a.
template <class T, class Lookup>
inline void update_block_vec(T* __restrict a, T* __restrict b, T* __restrict c, const bin_t* __restrict bin,
                             index_t len, const T* __restrict tab, T step_ab, T step_c, int& bad_out,
                             const Lookup& lookup, index_t dist = 0, index_t ahead = 0) {
    constexpr int NW = simd::kNative<T>;
    constexpr index_t kLineT = 64 / index_t(sizeof(T)), kLineBin = 64 / index_t(sizeof(bin_t));
    using V = simd::native<T>;
    V chk = {};  // x - x is +0 for finite x and NaN otherwise, so chk stays +0 until a value is not finite
    index_t i = 0;
    for (; i + NW <= len; i += NW) {
        if (i + dist < ahead && i % kLineT == 0) {
            __builtin_prefetch(a + i + dist, 1);
            __builtin_prefetch(b + i + dist, 1);
            __builtin_prefetch(c + i + dist, 1);
            if (i % kLineBin == 0) __builtin_prefetch(bin + i + dist, 1);
        }
        V Si, SXi;
        lookup(bin + i, Si, SXi);
        const V ai = simd::load<V>(a + i), bi = simd::load<V>(b + i), ci = simd::load<V>(c + i);
        const V sc = step_ab * ci;
        const V an = ai - sc * SXi;
        const V bn = bi - sc * Si;
        const V cn = ci - step_c * (ai * SXi + bi * Si);
        simd::store(a + i, an);
        simd::store(b + i, bn);
        simd::store(c + i, cn);
        chk += ((an - an) + (bn - bn)) + (cn - cn);
    }
    int bad = 0;
    for (int k = 0; k < NW; ++k) bad |= int(chk[k] != T(0));
    if (i < len) update_block(a + i, b + i, c + i, bin + i, len - i, tab, step_ab, step_c, bad);
    bad_out |= bad;
}

#if defined(__GNUC__) && !defined(__clang__) && defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT == 2
#define WIDEFLOW_PERMUTE_TABLE 1
// Lookups for at most kPermuteBins bins (n <= 15) on AVX-512: the (S, SX) table lives in registers and a
// lookup is one or two two-register permutes (vpermt2ps / vpermt2pd) and a select instead of a gather
// (GCC's __builtin_shuffle; the index is taken modulo the two registers' lanes). Measured at n = 10,
// L2-resident, 1 thread: float32 1.2 -> 0.85 ns, float64 2.0 -> 1.45 ns per neuron-step (before the
// other changes of the fused path). On AVX2 two-register permutes do not exist (pair loads below).
constexpr index_t kPermuteBins = 32;

// The step's S and SX by bin as two arrays of kPermuteBins (zero beyond nb), written once per step: read
// as whole vectors by every block (built per block from scalar stores, each block paid a failed
// store-to-load forwarding).
template <class T>
inline void permute_tables(const T* __restrict tab, index_t nb, T* __restrict sv, T* __restrict sxv) {
    for (index_t q = 0; q < kPermuteBins; ++q) {
        sv[q] = q < nb ? tab[kTableStride * q] : T(0);
        sxv[q] = q < nb ? tab[kTableStride * q + 1] : T(0);
    }
}

template <class T>
inline void update_block_permute(T* __restrict a, T* __restrict b, T* __restrict c, const bin_t* __restrict bin,
                                 index_t len, const T* __restrict tab, const T* __restrict sv, const T* __restrict sxv,
                                 T step_ab, T step_c, int& bad_out, index_t dist, index_t ahead) {
    constexpr int NW = simd::kNative<T>, K = int(kPermuteBins) / (2 * NW);
    using V = simd::native<T>;
    using Int = count_t<T>;
    using I = typename simd::vec<Int, NW>::type;
    using I32 = typename simd::vec<std::int32_t, NW>::type;
    V ts[2 * K], tx[2 * K];
    for (int k = 0; k < 2 * K; ++k) {
        ts[k] = simd::load<V>(sv + k * NW);
        tx[k] = simd::load<V>(sxv + k * NW);
    }
    update_block_vec(
        a, b, c, bin, len, tab, step_ab, step_c, bad_out,
        [&](const bin_t* bq, V& Si, V& SXi) {
            const I q = __builtin_convertvector(simd::load<I32>(bq), I);
            Si = __builtin_shuffle(ts[0], ts[1], q);
            SXi = __builtin_shuffle(tx[0], tx[1], q);
            for (int k = 1; k < K; ++k) {
                const auto hi = q >= Int(2 * NW * k);
                Si = hi ? __builtin_shuffle(ts[2 * k], ts[2 * k + 1], q) : Si;
                SXi = hi ? __builtin_shuffle(tx[2 * k], tx[2 * k + 1], q) : SXi;
            }
        },
        dist, ahead);
}
#endif

#ifdef WIDEFLOW_PAIR_LOOKUP
template <class T>
inline void update_block_pairs(T* a, T* b, T* c, const bin_t* bin, index_t len, const T* tab, T step_ab, T step_c,
                               int& bad_out, index_t dist, index_t ahead) {
    update_block_vec(a, b, c, bin, len, tab, step_ab, step_c, bad_out, PairLookup{tab}, dist, ahead);
}
#endif

// Small n: the next step's forward pass of a block, part[j] += sum_i c_i relu(a_i x_j + b_i) (the
// direct kernel's lanes and order: shallow.hpp's forward_all), and the new bins from the active counts,
// in one pass over the samples.
template <class T>
inline void fused_forward_bins(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                               const T* __restrict x, index_t n, bin_t* __restrict bin, double* __restrict part) {
    alignas(64) count_t<T> cnt[kFusedBlock];
    forward_all<true>(a, b, c, len, x, n, cnt, part, bin, count_t<T>(n + 1));
}

// Fused GD steps with the sorted kernel; same contract as gd_direct, x must be ascending.
//
// bins (length m) caches each neuron's bin between steps: the bins computed for the forward pass of step
// s are the bins of step s + 1, so each step locates every neuron once. If bins_valid is false (first
// call, or the parameters changed outside the kernel) they are recomputed first. On return they are valid
// for the parameters reached.
template <class T>
ChunkResult gd_sorted(const Params<T>& net, const double* x, const double* y, index_t n, double* pred, const double* lr,
                      index_t steps, double scale_inner, double scale_outer, double* losses, int threads, bin_t* bins,
                      bool bins_valid) {
    ChunkResult res;
    const ChunkPlan plan = sorted_plan(net.m, n);
    threads = threads_for(net.m * 2, threads);
    const index_t nb = 2 * (n + 1);
    const bool fused = n <= kFusedMaxSamples;
    std::vector<Histogram> hs(static_cast<std::size_t>(fused ? 0 : plan.count));
    std::vector<double> partial(static_cast<std::size_t>(fused ? plan.count * n * kLanes<T> : 0));
    std::vector<int> chunk_bad(static_cast<std::size_t>(plan.count));
    std::vector<double> r(static_cast<std::size_t>(n)), tot;
    // Active sums by bin: S[bin] = sum of r_j over the bin's active set, SX likewise with r_j x_j.
    std::vector<double> S(static_cast<std::size_t>(nb)), SX(static_cast<std::size_t>(nb));
    std::vector<T> tab(static_cast<std::size_t>(kTableStride * nb));  // (S, SX, xon, xoff) by bin
    std::vector<T> xt(static_cast<std::size_t>(n));
#ifdef WIDEFLOW_PERMUTE_TABLE
    alignas(64) T perm[2 * kPermuteBins];  // (S, SX) by bin for update_block_permute
#endif
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
#ifdef WIDEFLOW_PERMUTE_TABLE
        if (nb <= kPermuteBins) permute_tables(tab.data(), nb, perm, perm + kPermuteBins);
#endif
        const T step_ab = T(lr[s] * scale_inner * net.inv_alpha);
        const T step_c = T(lr[s] * scale_outer * net.inv_alpha);
        if (fused) std::fill(partial.begin(), partial.end(), 0.0);

        parallel_for(plan.count, threads, [&](index_t q) {
            int bad = 0;
            alignas(64) double ca[kBlock], cb[kBlock];
            double* part = fused ? partial.data() + q * n * kLanes<T> : nullptr;
            Histogram* h = fused ? nullptr : &hs[q];
            if (h) h->reset(n);
            const index_t i0 = plan.begin(q), i1 = plan.end(q, net.m);
            const index_t blk = fused ? kFusedBlock : kBlock;
            for (index_t s0 = i0; s0 < i1; s0 += blk) {
                const index_t len = std::min(blk, i1 - s0);
                T* __restrict a = net.a + s0;
                T* __restrict b = net.b + s0;
                T* __restrict c = net.c + s0;
                bin_t* __restrict bin = bins + s0;
#ifdef WIDEFLOW_PERMUTE_TABLE
                if (nb <= kPermuteBins)
                    update_block_permute(a, b, c, bin, len, tab.data(), perm, perm + kPermuteBins, step_ab, step_c, bad,
                                         blk, i1 - s0);
                else
#endif
#ifdef WIDEFLOW_PAIR_LOOKUP
                    update_block_pairs(a, b, c, bin, len, tab.data(), step_ab, step_c, bad, blk, i1 - s0);
#else
                    update_block(a, b, c, bin, len, tab.data(), step_ab, step_c, bad);
#endif
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

        if (fused)
            reduce_lane_partials<T>(partial.data(), plan.count, n, net.inv_alpha, pred);
        else
            histogram_predictions(hs, x, n, net.inv_alpha, pred, tot, threads);
        if (!end_step(chunk_bad, s, res)) return res;
    }
    return res;
}

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::shallow
