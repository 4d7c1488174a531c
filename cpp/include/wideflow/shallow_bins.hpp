// Where each neuron is active, for the sorted shallow kernel (shallow_sorted.hpp): with the samples
// ascending, neuron i is active on a suffix of them (a_i >= 0) or a prefix (a_i < 0), so its active set is
// one bin index. active_bins counts or binary-searches it for a block; bin_boundaries tabulates, per bin,
// the two samples that decide it, so refresh_bins checks a cached bin in O(1) and searches only the
// neurons whose knot crossed a sample (or whose orientation flipped).
#pragma once

#include <cstdint>
#include <limits>

#if defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT >= 1 && WIDEFLOW_ISA_DISPATCH
#include <immintrin.h>
#endif

#include "wideflow/isa.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/shallow.hpp"

namespace wideflow::shallow {

// Up to this many samples the active count is a branch-free count over all samples (SIMD across
// neurons); above it, a branch-free binary search with a fixed number of probes.
constexpr index_t kCountMaxSamples = 24;

// Bin indices (2 (n + 1) bins per histogram; n < 2^30).
using bin_t = std::int32_t;

// The GD step's per-bin table, interleaved: entry q holds (S_q, SX_q, xon_q, xoff_q) in the parameter
// type, so the update and the O(1) bin check of a neuron touch one cache line (for large n the four
// separate tables would not fit in L1, and each neuron would miss four lines).
constexpr index_t kTableStride = 4;

WIDEFLOW_ISA_NAMESPACE_BEGIN

// Bin of each neuron: bin[i] = cnt_i for a_i >= 0 (active on the last cnt_i samples) and
// (n + 1) + cnt_i for a_i < 0 (active on the first cnt_i samples), where cnt_i = #{j : a_i x_j + b_i > 0}
// over the ascending xs. The count equals the length of the active suffix/prefix because z is monotone
// in x_j.
template <class T>
inline void active_bins(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xs, index_t n,
                        bin_t* __restrict bin) {
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
// Written into the per-bin table of the GD step (stride kTableStride).
template <class T>
inline void bin_boundaries(const T* __restrict xs, index_t n, T* __restrict xon, T* __restrict xoff) {
    const T inf = std::numeric_limits<T>::infinity();
    constexpr index_t w = kTableStride;
    for (index_t cnt = 0; cnt <= n; ++cnt) {
        xon[w * cnt] = cnt > 0 ? xs[n - cnt] : inf;  // a >= 0: active on [n - cnt, n)
        xoff[w * cnt] = cnt < n ? xs[n - cnt - 1] : -inf;
        xon[w * (n + 1 + cnt)] = cnt > 0 ? xs[cnt - 1] : -inf;  // a < 0: active on [0, cnt)
        xoff[w * (n + 1 + cnt)] = cnt < n ? xs[cnt] : inf;
    }
}

#if defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT >= 1 && WIDEFLOW_ISA_DISPATCH
#define WIDEFLOW_PAIR_LOOKUP 1
// Lookups on AVX2 and AVX-512 of two adjacent entries of the interleaved per-bin table ((S, SX) for the
// update, (xon, xoff) for the bin check): one load per neuron of its pair, then a transpose into two
// vectors. GCC emulated the gathers of the scalar loops with two scalar loads and an insert per neuron
// and value (AVX2), or used gather instructions (AVX-512), which are slow on AMD cores: at n = 1000,
// m = 10^7 the AVX2 path with pair loads ran faster than the AVX-512 path with gathers.
inline void pairs4(const double* tab, const bin_t* q, __m256d& S, __m256d& SX) {
    const __m128d p0 = _mm_loadu_pd(tab + kTableStride * q[0]), p1 = _mm_loadu_pd(tab + kTableStride * q[1]);
    const __m128d p2 = _mm_loadu_pd(tab + kTableStride * q[2]), p3 = _mm_loadu_pd(tab + kTableStride * q[3]);
    const __m256d lo = _mm256_insertf128_pd(_mm256_castpd128_pd256(p0), p2, 1);  // S0 SX0 | S2 SX2
    const __m256d hi = _mm256_insertf128_pd(_mm256_castpd128_pd256(p1), p3, 1);  // S1 SX1 | S3 SX3
    S = _mm256_unpacklo_pd(lo, hi);                                              // S0 S1 | S2 S3
    SX = _mm256_unpackhi_pd(lo, hi);
}

inline __m128 pair2(const float* tab, bin_t k, bin_t l) {  // S_k SX_k S_l SX_l
    const __m128 v = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(tab + kTableStride * k)));
    return _mm_loadh_pi(v, reinterpret_cast<const __m64*>(tab + kTableStride * l));
}

inline void pairs8(const float* tab, const bin_t* q, __m256& S, __m256& SX) {
    const __m256 A = _mm256_insertf128_ps(_mm256_castps128_ps256(pair2(tab, q[0], q[1])), pair2(tab, q[4], q[5]), 1);
    const __m256 B = _mm256_insertf128_ps(_mm256_castps128_ps256(pair2(tab, q[2], q[3])), pair2(tab, q[6], q[7]), 1);
    S = _mm256_shuffle_ps(A, B, _MM_SHUFFLE(2, 0, 2, 0));  // S0 S1 S2 S3 | S4 .. S7
    SX = _mm256_shuffle_ps(A, B, _MM_SHUFFLE(3, 1, 3, 1));
}

struct PairLookup {
    const void* tab;
    void operator()(const bin_t* q, simd::native<double>& S, simd::native<double>& SX) const {
        const double* t = static_cast<const double*>(tab);
        __m256d s0, x0;
        pairs4(t, q, s0, x0);
#if WIDEFLOW_VECTOR_BYTES >= 64
        __m256d s1, x1;
        pairs4(t, q + 4, s1, x1);
        S = simd::native<double>(_mm512_insertf64x4(_mm512_castpd256_pd512(s0), s1, 1));
        SX = simd::native<double>(_mm512_insertf64x4(_mm512_castpd256_pd512(x0), x1, 1));
#else
        S = simd::native<double>(s0);
        SX = simd::native<double>(x0);
#endif
    }
    void operator()(const bin_t* q, simd::native<float>& S, simd::native<float>& SX) const {
        const float* t = static_cast<const float*>(tab);
        __m256 s0, x0;
        pairs8(t, q, s0, x0);
#if WIDEFLOW_VECTOR_BYTES >= 64
        __m256 s1, x1;
        pairs8(t, q + 8, s1, x1);
        S = simd::native<float>(_mm512_insertf32x8(_mm512_castps256_ps512(s0), s1, 1));
        SX = simd::native<float>(_mm512_insertf32x8(_mm512_castps256_ps512(x0), x1, 1));
#else
        S = simd::native<float>(s0);
        SX = simd::native<float>(x0);
#endif
    }
};
#endif

// One neuron at a time: the O(1) check, then a search for the stale ones.
template <class T>
inline void refresh_bins_scalar(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xs,
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

// Larger n: check each cached bin in O(1) against the new (a, b); search only the stale ones.
// With pair lookups the check runs on whole vectors (the same predicate, lane by lane).
template <class T>
inline void refresh_bins(const T* __restrict a, const T* __restrict b, index_t len, const T* __restrict xs, index_t n,
                         const T* __restrict tab, bin_t* __restrict bin) {
    index_t i = 0;
#ifdef WIDEFLOW_PAIR_LOOKUP
    constexpr int NW = simd::kNative<T>;
    using V = simd::native<T>;
    using VC = typename simd::vec<count_t<T>, NW>::type;
    using VB = typename simd::vec<bin_t, NW>::type;
    const PairLookup bounds{tab + 2};  // (xon, xoff) of each bin
    const V zero = {};
    const VC nn = VC{} + count_t<T>(n);
    for (; i + NW <= len; i += NW) {
        V xon, xoff;
        bounds(bin + i, xon, xoff);
        const V av = simd::load<V>(a + i), bv = simd::load<V>(b + i);
        const V z1 = av * xon + bv, z0 = av * xoff + bv;
        const VC q = __builtin_convertvector(simd::load<VB>(bin + i), VC);
        const VC ok = (z1 > zero) & ~(z0 > zero) & ~((av >= zero) ^ (q <= nn));
        if (simd::differ(ok, ~VC{}))
            for (int k = 0; k < NW; ++k)
                if (!ok[k]) bin[i + k] = search_bin(a[i + k], b[i + k], xs, n);
    }
#endif
    refresh_bins_scalar(a + i, b + i, len - i, xs, n, tab, bin + i);
}

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::shallow
