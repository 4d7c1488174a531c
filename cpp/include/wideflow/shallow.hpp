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

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "wideflow/chunk.hpp"
#include "wideflow/isa.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/simd.hpp"

namespace wideflow::shallow {

// Neurons per L1-resident block.
constexpr index_t kBlock = 256;
// Lanes of the fixed-order partial sums over neurons: one 64-byte vector (8 doubles, 16 floats) in every
// instruction set (isa.hpp: the lanes are fixed, so the bits are too).
template <class T>
constexpr int kLanes = int(64 / sizeof(T));

template <class T>
struct Params {
    T* a;
    T* b;
    T* c;
    index_t m;
    double inv_alpha;
};

// The functions below are compiled once per instruction set (see isa.hpp); the types above are shared.
WIDEFLOW_ISA_NAMESPACE_BEGIN

// Fixed-order sum of kLanes accumulators.
template <class T>
inline T lane_sum(const T* acc) {
    T s = acc[0];
    for (int k = 1; k < kLanes<T>; ++k) s += acc[k];
    return s;
}

// Samples per register tile of the forward passes, sized to the registers of the instruction set. Tiles
// only group work; no sum changes order with them.
constexpr int kSampleTile = WIDEFLOW_VECTOR_BYTES >= 64 ? 4 : (WIDEFLOW_VECTOR_BYTES >= 32 ? 3 : 2);  // at most 5

// Active counts of the sorted kernel's fused path: integers of T's width, so a vector of counts has the
// lanes of a vector of T and adding a comparison mask is one instruction.
template <class T>
using count_t = std::conditional_t<sizeof(T) == 8, std::int64_t, std::int32_t>;

// Forward pass of a block for J samples: the sums sum_i c_i relu(a_i x_j + b_i) over i in [0, len), in
// kLanes<T> lanes (neuron i in lane i % kLanes), each lane summed in T in neuron order. Each neuron is
// loaded once for the J samples and the J accumulator chains run side by side. Per neuron, sample and
// vector: z = a x + b, one compare, and the masked product c z added (AVX-512: a zero-masked multiply).
//  - Count = false (direct kernel, evaluation): part[j] += the lanes summed in T in lane order.
//  - Count = true (the sorted kernel's fused path, small n): cnt[i] (count_t<T>) also counts the samples
//    where neuron i is active (one masked add on AVX-512, one subtraction of the mask elsewhere), and the
//    lanes go to per-lane partials in double, part[j * kLanes + l] += lane l, so the fused step does no
//    horizontal sum per block (the lanes are summed once per chunk, in double: reduce_lane_partials).
//    The first tile of a block (First) starts the counts at 0; the last (Last) turns them into the bins,
//    bin[i] = cnt_i + (a_i >= 0 ? 0 : off), and stores a vector of bins only where one moved (the cache
//    lines of bins that did not move stay clean), instead of storing the counts.
template <int J, bool Count, class T, bool First = false, bool Last = false>
WIDEFLOW_NOINLINE void forward_tile(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                                    const T* __restrict x, count_t<T>* __restrict cnt, double* __restrict part,
                                    std::int32_t* __restrict bin = nullptr, count_t<T> off = 0) {
    constexpr int L = kLanes<T>, NW = simd::kNative<T>, P = L / NW;
    using V = simd::native<T>;
    using VC = typename simd::vec<count_t<T>, NW>::type;
    using VB = typename simd::vec<std::int32_t, NW>::type;
    const V zero = {};
    V acc[J][P];
    T xs[J];
    for (int j = 0; j < J; ++j) {
        xs[j] = x[j];
        for (int p = 0; p < P; ++p) acc[j][p] = V{};
    }
    index_t i = 0;
    for (; i + L <= len; i += L) {
        for (int p = 0; p < P; ++p) {
            const index_t o = i + p * NW;
            V av = simd::load<V>(a + o), bv = simd::load<V>(b + o), cv = simd::load<V>(c + o);
            simd::in_register(av, bv, cv);
            VC cn = {};
            if constexpr (Count && !First) cn = simd::load<VC>(cnt + o);
            for (int j = 0; j < J; ++j) {
                const V z = av * xs[j] + bv;
                const auto on = z > zero;  // lanes of -1 (true) or 0, of T's width
                if constexpr (Count) {
#if WIDEFLOW_VECTOR_BYTES >= 64
                    cn = on ? cn + 1 : cn;  // a merge-masked add
#else
                    cn -= on;
#endif
                }
                acc[j][p] += on ? cv * z : zero;  // one multiply and one masked add
            }
            if constexpr (Count && Last) {
                const VB q = __builtin_convertvector(cn + (av >= zero ? VC{} : VC{} + off), VB);
                if (simd::differ(q, simd::load<VB>(bin + o))) simd::store(bin + o, q);
            } else if constexpr (Count) {
                simd::store(cnt + o, cn);
            }
        }
    }
    if constexpr (Count) {
        if (i < len) {  // the last neurons of the net (blocks are whole vectors elsewhere): lanes 0, 1, ...
            alignas(64) T lanes[J][L];
            for (int j = 0; j < J; ++j)
                for (int p = 0; p < P; ++p) simd::store(lanes[j] + p * NW, acc[j][p]);
            for (int k = 0; i < len; ++i, ++k) {
                count_t<T> ci = First ? 0 : cnt[i];
                for (int j = 0; j < J; ++j) {
                    const T z = a[i] * xs[j] + b[i];
                    ci += z > T(0) ? 1 : 0;
                    lanes[j][k] += z > T(0) ? c[i] * z : T(0);
                }
                if constexpr (Last) {
                    const std::int32_t q = std::int32_t(ci + (a[i] >= T(0) ? 0 : off));
                    if (q != bin[i]) bin[i] = q;
                } else {
                    cnt[i] = ci;
                }
            }
            for (int j = 0; j < J; ++j)
                for (int p = 0; p < P; ++p) acc[j][p] = simd::load<V>(lanes[j] + p * NW);
        }
        using W = typename simd::vec<double, NW>::type;  // the NW lanes of one vector, in double
        for (int j = 0; j < J; ++j)
            for (int p = 0; p < P; ++p) {
                double* out = part + j * L + p * NW;
                simd::store(out, simd::load<W>(out) + __builtin_convertvector(acc[j][p], W));
            }
    } else {
        T tail[J][L] = {};
        for (int k = 0; i < len; ++i, ++k) {
            for (int j = 0; j < J; ++j) {
                const T z = a[i] * xs[j] + b[i];
                tail[j][k] = z > T(0) ? c[i] * z : T(0);
            }
        }
        for (int j = 0; j < J; ++j) {
            T lanes[L];
            for (int p = 0; p < P; ++p) simd::store(lanes + p * NW, acc[j][p] + simd::load<V>(tail[j] + p * NW));
            part[j] += double(lane_sum(lanes));
        }
    }
}

// part[j] += sum_i c_i relu(a_i x_j + b_i) for all n samples (and, with Count, the active counts cnt[i]
// over the n samples; part then holds kLanes<T> lanes per sample). The samples go in as few tiles of at
// most kSampleTile as possible, of balanced sizes (n = 10 on AVX2: 3, 3, 2, 2, not 3, 3, 3, 1): every
// tile is one pass over the block.
template <bool Count, bool First, bool Last, class T>
inline void forward_tile_of(index_t size, const T* __restrict a, const T* __restrict b, const T* __restrict c,
                            index_t len, const T* __restrict x, count_t<T>* __restrict cnt, double* __restrict part,
                            std::int32_t* __restrict bin, count_t<T> off) {
    switch (size) {
        case 1: forward_tile<1, Count, T, First, Last>(a, b, c, len, x, cnt, part, bin, off); break;
        case 2: forward_tile<2, Count, T, First, Last>(a, b, c, len, x, cnt, part, bin, off); break;
        case 3: forward_tile<3, Count, T, First, Last>(a, b, c, len, x, cnt, part, bin, off); break;
        case 4: forward_tile<4, Count, T, First, Last>(a, b, c, len, x, cnt, part, bin, off); break;
        case 5: forward_tile<5, Count, T, First, Last>(a, b, c, len, x, cnt, part, bin, off); break;
        default: break;
    }
}

// With Count, bin and off are those of forward_tile's last tile (the counts need no zeroing: the first
// tile starts them at 0).
template <bool Count, class T>
inline void forward_all(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                        const T* __restrict x, index_t n, count_t<T>* __restrict cnt, double* __restrict part,
                        std::int32_t* __restrict bin = nullptr, count_t<T> off = 0) {
    constexpr index_t w = Count ? kLanes<T> : 1;
    const index_t tiles = (n + kSampleTile - 1) / kSampleTile;
    index_t j = 0;
    for (index_t t = 0; t < tiles; ++t) {
        const index_t size = (n - j) / (tiles - t);  // the remaining samples spread over the remaining tiles
        const T* xj = x + j;
        double* pj = part + j * w;
        if (!Count)
            forward_tile_of<Count, false, false>(size, a, b, c, len, xj, cnt, pj, bin, off);
        else if (tiles == 1)
            forward_tile_of<Count, true, true>(size, a, b, c, len, xj, cnt, pj, bin, off);
        else if (t == 0)
            forward_tile_of<Count, true, false>(size, a, b, c, len, xj, cnt, pj, bin, off);
        else if (t + 1 == tiles)
            forward_tile_of<Count, false, true>(size, a, b, c, len, xj, cnt, pj, bin, off);
        else
            forward_tile_of<Count, false, false>(size, a, b, c, len, xj, cnt, pj, bin, off);
        j += size;
    }
}

template <class T>
inline void block_forward_all(const T* __restrict a, const T* __restrict b, const T* __restrict c, index_t len,
                              const T* __restrict x, index_t n, double* __restrict part) {
    forward_all<false>(a, b, c, len, x, n, static_cast<count_t<T>*>(nullptr), part);
}

// Gradient sums of neurons [0, len) over the n samples: gc_i = sum_j r_j relu(z_ij),
// ga_i = sum_j 1[z_ij > 0] r_j x_j, gb_i = sum_j 1[z_ij > 0] r_j, each summed in sample order. Neurons
// are taken in register tiles (kTile neurons; the accumulators stay in registers while the samples
// stream by), so no partial sum is stored and reloaded per sample. The tile size only groups neurons;
// each neuron's sum has the same order for every tile size, hence for every instruction set.
template <class T>
WIDEFLOW_NOINLINE void block_gradient(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xt,
                                      const T* __restrict rt, const T* __restrict rxt, index_t n, T* __restrict ga,
                                      T* __restrict gb, T* __restrict gc) {
    constexpr int NW = simd::kNative<T>, P = 2, W = P * NW;
    using V = simd::native<T>;
    const V zero = {};
    index_t i0 = 0;
    for (; i0 + W <= len; i0 += W) {
        V ta[P], tb[P], sa[P] = {}, sb[P] = {}, sc[P] = {};
        for (int p = 0; p < P; ++p) {
            ta[p] = simd::load<V>(a + i0 + p * NW);
            tb[p] = simd::load<V>(b + i0 + p * NW);
        }
        for (index_t j = 0; j < n; ++j) {
            const T xj = xt[j], rj = rt[j], rxj = rxt[j];
            const V rv = zero + rj, rxv = zero + rxj;
            for (int p = 0; p < P; ++p) {
                const V z = ta[p] * xj + tb[p];
                const auto on = z > zero;
                sc[p] += on ? rv * z : zero;
                sa[p] += on ? rxv : zero;
                sb[p] += on ? rv : zero;
            }
        }
        for (int p = 0; p < P; ++p) {
            simd::store(ga + i0 + p * NW, sa[p]);
            simd::store(gb + i0 + p * NW, sb[p]);
            simd::store(gc + i0 + p * NW, sc[p]);
        }
    }
    for (index_t i = i0; i < len; ++i) {
        T sa = T(0), sb = T(0), sc = T(0);
        for (index_t j = 0; j < n; ++j) {
            const T z = a[i] * xt[j] + b[i];
            const bool on = z > T(0);
            sc += on ? rt[j] * z : T(0);
            sa += on ? rxt[j] : T(0);
            sb += on ? rt[j] : T(0);
        }
        ga[i] = sa;
        gb[i] = sb;
        gc[i] = sc;
    }
}

// out[j] = inv_alpha * sum_k partial[k * n + j]: the chunks' partial predictions summed in chunk order.
inline void reduce_partials(const double* partial, index_t chunks, index_t n, double inv_alpha, double* out) {
    for (index_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (index_t k = 0; k < chunks; ++k) acc += partial[k * n + j];
        out[j] = acc * inv_alpha;
    }
}

// out[j] = inv_alpha * sum_k sum_l partial[(k * n + j) * kLanes<T> + l]: per chunk k the lane partials
// summed in lane order, then the chunks in chunk order (the fused path of the sorted kernel).
template <class T>
inline void reduce_lane_partials(const double* partial, index_t chunks, index_t n, double inv_alpha, double* out) {
    constexpr index_t L = kLanes<T>;
    for (index_t j = 0; j < n; ++j) {
        double acc = 0.0;
        for (index_t k = 0; k < chunks; ++k) {
            const double* lanes = partial + (k * n + j) * L;
            double s = lanes[0];
            for (index_t l = 1; l < L; ++l) s += lanes[l];
            acc += s;
        }
        out[j] = acc * inv_alpha;
    }
}

// 1 if any of the three updated values is not finite: x - x is 0 for finite x and NaN otherwise (an
// integer OR over a block is vectorizable and order-free).
template <class T>
inline int nonfinite(T an, T bn, T cn) {
    return int(!((an - an) == T(0) && (bn - bn) == T(0) && (cn - cn) == T(0)));
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
    std::vector<T> xt(static_cast<std::size_t>(P));
    for (index_t p = 0; p < P; ++p) xt[p] = T(x[p]);
    parallel_for(plan.count, threads_for(net.m * P, threads), [&](index_t k) {
        double* part = partial.data() + k * P;
        const index_t i0 = plan.begin(k), i1 = plan.end(k, net.m);
        for (index_t s = i0; s < i1; s += kBlock) {
            const index_t len = std::min(kBlock, i1 - s);
            block_forward_all(net.a + s, net.b + s, net.c + s, len, xt.data(), P, part);
        }
    });
    reduce_partials(partial.data(), plan.count, P, net.inv_alpha, out);
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
inline bool start_step(const double* pred, const double* y, index_t n, double* r, double* loss_out, ChunkResult& res) {
    *loss_out = residuals(pred, y, n, r);
    if (std::isfinite(*loss_out)) return true;
    res.diverged = true;
    return false;
}

// End of a GD step s whose chunks flagged non-finite updates in chunk_bad: counts the step done; returns
// false (and marks the chunk diverged) if any update was not finite.
inline bool end_step(const std::vector<int>& chunk_bad, index_t s, ChunkResult& res) {
    int bad = 0;
    for (const int b : chunk_bad) bad |= b;
    res.steps_done = s + 1;
    res.diverged = bad != 0;
    return !bad;
}

// Run up to `steps` fused GD steps in place. On entry pred holds f(x_j) for the current parameters; on
// exit it holds f(x_j) for the parameters reached. losses[s] receives the loss at the start of step s.
// lr[s] is the step size of step s; scale_inner / scale_outer (0 or 1) select what trains.
template <class T>
ChunkResult gd_direct(const Params<T>& net, const double* x, const double* y, index_t n, double* pred, const double* lr,
                      index_t steps, double scale_inner, double scale_outer, double* losses, int threads) {
    ChunkResult res;
    const ChunkPlan plan = forward_plan(net.m, n);
    threads = threads_for(net.m * n, threads);
    std::vector<double> partial(static_cast<std::size_t>(plan.count * n));
    std::vector<int> chunk_bad(static_cast<std::size_t>(plan.count));
    std::vector<double> r(static_cast<std::size_t>(n));
    std::vector<T> xt(static_cast<std::size_t>(n)), rt(static_cast<std::size_t>(n)), rxt(static_cast<std::size_t>(n));
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
                block_gradient(a, b, len, xt.data(), rt.data(), rxt.data(), n, ga, gb, gc);
                // update (all gradients use the old c)
                for (index_t i = 0; i < len; ++i) {
                    const T sc = step_ab * c[i];
                    const T an = a[i] - sc * ga[i];
                    const T bn = b[i] - sc * gb[i];
                    const T cn = c[i] - step_c * gc[i];
                    a[i] = an;
                    b[i] = bn;
                    c[i] = cn;
                    bad |= nonfinite(an, bn, cn);
                }
                // next step's predictions
                block_forward_all(a, b, c, len, xt.data(), n, part);
            }
            chunk_bad[k] = bad;
        });

        reduce_partials(partial.data(), plan.count, n, net.inv_alpha, pred);
        if (!end_step(chunk_bad, s, res)) return res;
    }
    return res;
}

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::shallow
