// Streamed Gram matrices of random ReLU features: the exact c-only (random-feature, minimum-norm) limit
// of a width-m shallow net needs only
//
//   G_jk    = (1/m) sum_i phi_i(x_j) phi_i(x_k)          (n x n, the data Gram)
//   K(t_p, x_j) = (1/m) sum_i phi_i(t_p) phi_i(x_j)       (P x n, the cross Gram on evaluation points)
//
// with phi_i(x) = [a_i x + b_i]_+, so that  f*(t) = f0(t) + K(t, X) G^+ (y - f0(X)).  One pass over the
// neurons costs O(m n^2 + m log P) and O(n P) memory: the neurons are never stored (the drawn source
// generates them block by block from a counter-based generator) and the n x m feature matrix never exists.
//
// The cross Gram uses the piecewise-linear structure of a neuron: phi_i(t) = a_i t + b_i on one side of its
// knot e_i = -b_i/a_i and 0 on the other. For sorted points t_0 <= ... <= t_{P-1}, a neuron with a_i > 0 is
// active on t_p > e_i, i.e. p >= s_i = #{p : t_p <= e_i}; one with a_i < 0 on t_p < e_i, i.e. p < s_i' =
// #{p : t_p < e_i}. Each neuron adds (phi_i(x_j) a_i, phi_i(x_j) b_i) to row s_i of a forward histogram
// (a_i > 0) or row s_i' of a backward one (a_i < 0); prefix / suffix sums of the rows then give
// sum_{active i} phi_i(x_j) (a_i t_p + b_i) = t_p S_pj + B_pj. (A point exactly at a knot has phi = 0
// either way, up to one rounding of a_i t + b_i.) Neurons with a_i = 0 are constant, [b_i]_+, everywhere.
//
// Reproducibility: neurons are cut into blocks of kGramBlock (a size that depends on nothing else); each
// block writes its partial sums into its own slot, and the slots of a wave of kGramWave blocks are added to
// the accumulator in block order. A call covers whole waves (except the last), so any split of a long pass
// into calls, and any thread count, gives bitwise the same sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::gram {

constexpr index_t kGramBlock = 8192;  // neurons per block (a slot's partial sums cover one block)
constexpr index_t kGramWave = 32;     // blocks per wave (reduced in order into the accumulator)
constexpr index_t kGramSub = 512;     // neurons per L1/L2-resident sub-block of feature values
constexpr int kGramLanes = 8;         // accumulators per dot product (fixed-order lane sum)

// ---------------------------------------------------------------------------------------------------
// counter-based draws: the i-th neuron of a seed is a pure function of (seed, i)
// ---------------------------------------------------------------------------------------------------

enum class Scheme : int { gaussian = 0, uniform_knots = 1, box = 2 };

inline std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Key of stream s (0 or 1) of a seed; uniform u_s(i) = (splitmix64(key_s + i) >> 11) * 2^-53 in [0, 1).
inline std::uint64_t stream_key(std::uint64_t seed, std::uint64_t s) { return splitmix64(splitmix64(seed) + s); }

inline double uniform01(std::uint64_t key, std::uint64_t i) {
    return static_cast<double>(splitmix64(key + i) >> 11) * 0x1.0p-53;
}

constexpr double kTwoPi = 6.283185307179586;

// The law of (a, b) (scale s = inner_scale; the c-only limit does not depend on s):
//   gaussian:       r = s sqrt(-2 log(1 - u0)), a = r cos(2 pi u1), b = r sin(2 pi u1)   (Box-Muller)
//   uniform_knots:  a = -s if u0 < 1/2 else s, knot e = (2 u1 - 1) L, b = -a e
//   box:            a = (2 u0 - 1) s, b = (2 u1 - 1) s
struct DrawSource {
    Scheme scheme;
    std::uint64_t key0, key1;
    double s, L;
    std::uint64_t offset;  // index of the first neuron drawn

    DrawSource(Scheme sc, std::uint64_t seed, double scale, double half_width, std::uint64_t first)
        : scheme(sc), key0(stream_key(seed, 0)), key1(stream_key(seed, 1)), s(scale), L(half_width), offset(first) {}

    void fill(index_t begin, index_t len, double* a, double* b) const {
        for (index_t k = 0; k < len; ++k) {
            const std::uint64_t i = offset + static_cast<std::uint64_t>(begin + k);
            const double u0 = uniform01(key0, i);
            const double u1 = uniform01(key1, i);
            if (scheme == Scheme::gaussian) {
                const double r = s * std::sqrt(-2.0 * std::log(1.0 - u0));
                const double ang = kTwoPi * u1;
                a[k] = r * std::cos(ang);
                b[k] = r * std::sin(ang);
            } else if (scheme == Scheme::uniform_knots) {
                const double ak = u0 < 0.5 ? -s : s;
                const double e = (2.0 * u1 - 1.0) * L;
                a[k] = ak;
                b[k] = -ak * e;
            } else {
                a[k] = (2.0 * u0 - 1.0) * s;
                b[k] = (2.0 * u1 - 1.0) * s;
            }
        }
    }
};

// Neurons given as arrays (float32 or float64), read block by block.
template <class T>
struct ArraySource {
    const T* a;
    const T* b;
    void fill(index_t begin, index_t len, double* ao, double* bo) const {
        for (index_t k = 0; k < len; ++k) {
            ao[k] = static_cast<double>(a[begin + k]);
            bo[k] = static_cast<double>(b[begin + k]);
        }
    }
};

// ---------------------------------------------------------------------------------------------------
// the pass
// ---------------------------------------------------------------------------------------------------

// Accumulator layout: gram[n * n] (raw sums, full symmetric matrix), then, when P > 0, the histograms
// hist[(P + 1) * 4n]: row r holds [fwd a-part (n), fwd b-part (n), bwd a-part (n), bwd b-part (n)].
inline index_t acc_size(index_t n, index_t P) { return n * n + (P > 0 ? (P + 1) * 4 * n : 0); }

namespace detail {

// One block's partial sums into `slot` (zeroed here).
template <class Source>
void block_sums(const Source& src, index_t begin, index_t len, const double* x, index_t n, const double* t, index_t P,
                double* slot, std::vector<double>& buf) {
    const index_t S = kGramSub;
    buf.resize(static_cast<std::size_t>((n + 2) * S));
    double* a = buf.data();
    double* b = a + S;
    double* phi = b + S;  // n x S
    std::fill(slot, slot + acc_size(n, P), 0.0);
    double* gram = slot;
    double* hist = slot + n * n;
    const index_t row = 4 * n;
    for (index_t s0 = 0; s0 < len; s0 += S) {
        const index_t L = std::min(S, len - s0);
        src.fill(begin + s0, L, a, b);
        for (index_t j = 0; j < n; ++j) {
            double* pj = phi + j * S;
            const double xj = x[j];
            for (index_t i = 0; i < L; ++i) {
                const double z = a[i] * xj + b[i];
                pj[i] = z > 0.0 ? z : 0.0;
            }
        }
        // data Gram: fixed-order lane sums per (j, k), k >= j; mirrored afterwards
        for (index_t j = 0; j < n; ++j) {
            const double* pj = phi + j * S;
            for (index_t k = j; k < n; ++k) {
                const double* pk = phi + k * S;
                double acc[kGramLanes] = {};
                index_t i = 0;
                for (; i + kGramLanes <= L; i += kGramLanes)
                    for (int l = 0; l < kGramLanes; ++l) acc[l] += pj[i + l] * pk[i + l];
                for (int l = 0; i < L; ++i, ++l) acc[l] += pj[i] * pk[i];
                double sum = acc[0];
                for (int l = 1; l < kGramLanes; ++l) sum += acc[l];
                gram[j * n + k] += sum;
            }
        }
        if (P == 0) continue;
        for (index_t i = 0; i < L; ++i) {
            const double ai = a[i], bi = b[i];
            double* h;
            if (ai > 0.0) {
                const double e = -bi / ai;
                h = hist + (std::upper_bound(t, t + P, e) - t) * row;  // active for p >= #{t_p <= e}
            } else if (ai < 0.0) {
                const double e = -bi / ai;
                h = hist + (std::lower_bound(t, t + P, e) - t) * row + 2 * n;  // active for p < #{t_p < e}
            } else {
                if (!(bi > 0.0)) continue;
                h = hist;  // constant neuron, active everywhere: forward row 0
            }
            for (index_t j = 0; j < n; ++j) {
                const double w = phi[j * S + i];
                h[j] += w * ai;
                h[n + j] += w * bi;
            }
        }
    }
    for (index_t j = 0; j < n; ++j)
        for (index_t k = 0; k < j; ++k) gram[j * n + k] = gram[k * n + j];
}

}  // namespace detail

// Add the sums of neurons [begin, end) to `acc` (acc_size(n, P) doubles). `begin` must be a multiple of
// kGramBlock * kGramWave (the wave boundary), so that a pass split into several calls adds the same slots in
// the same order. t must be ascending. Returns nothing; the caller normalizes (1/m) and forms the prefix sums.
template <class Source>
void accumulate(const Source& src, index_t begin, index_t end, const double* x, index_t n, const double* t, index_t P,
                double* acc, int threads) {
    const index_t size = acc_size(n, P);
    const index_t blocks = (end - begin + kGramBlock - 1) / kGramBlock;
    std::vector<double> slots(static_cast<std::size_t>(std::min(blocks, kGramWave) * size));
    const int nthreads = std::max(1, threads);
    std::vector<std::vector<double>> bufs(static_cast<std::size_t>(nthreads));
    for (index_t w0 = 0; w0 < blocks; w0 += kGramWave) {
        const index_t wn = std::min(kGramWave, blocks - w0);
        const int th = threads_for(wn * kGramBlock * (n + 2), nthreads);
#ifdef WIDEFLOW_HAVE_OPENMP
#pragma omp parallel num_threads(th) if (th > 1 && wn > 1)
        {
            const int id = omp_get_thread_num();
#pragma omp for schedule(static)
            for (index_t k = 0; k < wn; ++k) {
                const index_t b0 = begin + (w0 + k) * kGramBlock;
                detail::block_sums(src, b0, std::min(kGramBlock, end - b0), x, n, t, P, slots.data() + k * size,
                                   bufs[static_cast<std::size_t>(id)]);
            }
        }
#else
        (void)th;
        for (index_t k = 0; k < wn; ++k) {
            const index_t b0 = begin + (w0 + k) * kGramBlock;
            detail::block_sums(src, b0, std::min(kGramBlock, end - b0), x, n, t, P, slots.data() + k * size, bufs[0]);
        }
#endif
        // acc[e] += slot_0[e]; acc[e] += slot_1[e]; ... in block order, for every element e
        const index_t parts = (size + 4095) / 4096;
        parallel_for(parts, threads_for(wn * size, nthreads), [&](index_t q) {
            const index_t e0 = q * 4096, e1 = std::min(size, e0 + 4096);
            for (index_t k = 0; k < wn; ++k) {
                const double* sl = slots.data() + k * size;
                for (index_t e = e0; e < e1; ++e) acc[e] += sl[e];
            }
        });
    }
}

}  // namespace wideflow::gram
