// 64-byte packs for explicitly vectorized loops (the factorization's tiny path): one pack is one 64-byte
// vector (8 doubles or 16 floats) held in an AVX-512 register, two AVX2 registers, or a plain array
// elsewhere, whichever the build targets.
//
// Every pack operation is defined lane by lane, and the one horizontal operation (reduce) is the fixed
// halving tree  acc[l] += acc[l + h], h = L/2, ..., 1 , so all three implementations give the same bits.
// Products are accumulated with fused multiply-adds where the target has them (a single rounding;
// explicit, never left to the compiler), else a product then a sum: FMA and non-FMA builds may differ at
// round-off level, never threads or batching within one build.
//
// simd.hpp holds the other vector type of the project (native<T>, one register, for the shallow kernels'
// auto-vectorization-proof tiles); a Pack is the fixed 64-byte unit, so a loop written on packs has the
// same lane structure in every instruction set.
#pragma once

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <cmath>

#include "wideflow/isa.hpp"

namespace wideflow::simd {
WIDEFLOW_ISA_NAMESPACE_BEGIN

template <class T>
struct Pack {  // portable fallback
    static constexpr int L = int(64 / sizeof(T));
    T x[L];
    static Pack load(const T* p) {
        Pack r;
        for (int l = 0; l < L; ++l) r.x[l] = p[l];
        return r;
    }
    void store(T* p) const {
        for (int l = 0; l < L; ++l) p[l] = x[l];
    }
    static Pack zero() {
        Pack r;
        for (int l = 0; l < L; ++l) r.x[l] = T(0);
        return r;
    }
    static Pack bcast(T a) {
        Pack r;
        for (int l = 0; l < L; ++l) r.x[l] = a;
        return r;
    }
    friend Pack operator*(const Pack& a, const Pack& b) {
        Pack r;
        for (int l = 0; l < L; ++l) r.x[l] = a.x[l] * b.x[l];
        return r;
    }
    friend Pack operator+(const Pack& a, const Pack& b) {
        Pack r;
        for (int l = 0; l < L; ++l) r.x[l] = a.x[l] + b.x[l];
        return r;
    }
    friend Pack fmadd(const Pack& a, const Pack& b, const Pack& c) {  // a * b + c
        Pack r;
        for (int l = 0; l < L; ++l) {
#if defined(__FMA__) || defined(__aarch64__)
            r.x[l] = std::fma(a.x[l], b.x[l], c.x[l]);
#else
            r.x[l] = a.x[l] * b.x[l] + c.x[l];
#endif
        }
        return r;
    }
    T reduce() const {
        T acc[L];
        for (int l = 0; l < L; ++l) acc[l] = x[l];
        for (int h = L / 2; h > 0; h /= 2)
            for (int l = 0; l < h; ++l) acc[l] += acc[l + h];
        return acc[0];
    }
};

#if defined(__AVX512F__)
template <>
struct Pack<double> {
    __m512d v;
    static Pack load(const double* p) { return {_mm512_loadu_pd(p)}; }
    void store(double* p) const { _mm512_storeu_pd(p, v); }
    static Pack zero() { return {_mm512_setzero_pd()}; }
    static Pack bcast(double a) { return {_mm512_set1_pd(a)}; }
    friend Pack operator*(Pack a, Pack b) { return {_mm512_mul_pd(a.v, b.v)}; }
    friend Pack operator+(Pack a, Pack b) { return {_mm512_add_pd(a.v, b.v)}; }
    friend Pack fmadd(Pack a, Pack b, Pack c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
    double reduce() const {
        const __m256d h4 = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
        const __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(h4), _mm256_extractf128_pd(h4, 1));
        return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
    }
};
template <>
struct Pack<float> {
    __m512 v;
    static Pack load(const float* p) { return {_mm512_loadu_ps(p)}; }
    void store(float* p) const { _mm512_storeu_ps(p, v); }
    static Pack zero() { return {_mm512_setzero_ps()}; }
    static Pack bcast(float a) { return {_mm512_set1_ps(a)}; }
    friend Pack operator*(Pack a, Pack b) { return {_mm512_mul_ps(a.v, b.v)}; }
    friend Pack operator+(Pack a, Pack b) { return {_mm512_add_ps(a.v, b.v)}; }
    friend Pack fmadd(Pack a, Pack b, Pack c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
    float reduce() const {
        const __m256 lo = _mm512_castps512_ps256(v);
        const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        const __m256 h8 = _mm256_add_ps(lo, hi);
        const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
        const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
    }
};
#elif defined(__AVX2__) && defined(__FMA__)
template <>
struct Pack<double> {
    __m256d lo, hi;
    static Pack load(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
    void store(double* p) const { _mm256_storeu_pd(p, lo), _mm256_storeu_pd(p + 4, hi); }
    static Pack zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
    static Pack bcast(double a) { return {_mm256_set1_pd(a), _mm256_set1_pd(a)}; }
    friend Pack operator*(Pack a, Pack b) { return {_mm256_mul_pd(a.lo, b.lo), _mm256_mul_pd(a.hi, b.hi)}; }
    friend Pack operator+(Pack a, Pack b) { return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)}; }
    friend Pack fmadd(Pack a, Pack b, Pack c) {
        return {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
    }
    double reduce() const {
        const __m256d h4 = _mm256_add_pd(lo, hi);
        const __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(h4), _mm256_extractf128_pd(h4, 1));
        return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
    }
};
template <>
struct Pack<float> {
    __m256 lo, hi;
    static Pack load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
    void store(float* p) const { _mm256_storeu_ps(p, lo), _mm256_storeu_ps(p + 8, hi); }
    static Pack zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
    static Pack bcast(float a) { return {_mm256_set1_ps(a), _mm256_set1_ps(a)}; }
    friend Pack operator*(Pack a, Pack b) { return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
    friend Pack operator+(Pack a, Pack b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
    friend Pack fmadd(Pack a, Pack b, Pack c) {
        return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
    }
    float reduce() const {
        const __m256 h8 = _mm256_add_ps(lo, hi);
        const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
        const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
    }
};
#endif

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::simd
