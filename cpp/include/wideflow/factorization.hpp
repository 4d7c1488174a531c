// Two-layer linear factorization X = U V^T (Tarmoun et al. 2021), and the one-layer baseline.
//
//   L(U, V) = 1/2 ||Y - U V^T||_F^2,   E = Y - U V^T,
//   one GD step:  U+ = U + lr E V,   V+ = V + lr E^T U      (simultaneous: both use the old U, V)
//
// U is m x k, V is n x k, Y is m x n, all row-major (NumPy C order).
//
// Two code paths, chosen from the shape alone (never from the thread count or the batch size), so that a
// run gives bitwise the same iterates alone, inside a batch, and on any number of threads:
//
// * tiny (k <= 16 packs of 64 bytes, U and V fit in L2): the rows of U and V are copied into a working
//   layout padded to kp = a multiple of the SIMD lane count, zero-filled (zero columns stay exactly zero,
//   so they change nothing). One step is two passes over the rows whose inner length kp/lanes is a
//   template parameter, fully unrolled on 64-byte packs (AVX-512, AVX2 or plain arrays, all giving the
//   same bits): no heap traffic, no BLAS call overhead. A step of the 5 x 10, k = 50 problem costs about
//   0.3 microseconds.
// * general: Eigen matrix products on fixed row blocks (parallel over blocks; the partition depends only
//   on the shape).
//
// The state is kept in rotating buffers (see Work), so when a step produces a non-finite state the last
// finite one is still at hand; a run can stop there (keep_finite) or hand back the non-finite state.
// Products are accumulated with explicit fused multiply-adds where the target has them (see detail::Pack),
// never contracted by the compiler.
#pragma once

#include <Eigen/Core>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <vector>

#include "wideflow/chunk.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::factorization {

// SIMD lanes of one 64-byte vector: 8 doubles or 16 floats.
template <class T>
constexpr int kLanes = int(64 / sizeof(T));

// The tiny path handles k <= kMaxVectors * lanes (128 doubles, 256 floats).
constexpr int kMaxVectors = 16;

// Rows per block of the general path.
constexpr index_t kRowBlock = 64;

template <class T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;

struct Shape {
    index_t m = 0, n = 0, k = 0;
};

// Where a run records its trajectory (all pointers may be null).
//   losses[s]      loss at the start of step s, s in [0, steps)
//   rec[0..nrec)   sorted state indices in [0, steps] to record: rec_loss[r] and (if rec_x) the product
//                  X = U V^T as an m x n block rec_x + r*m*n
struct Recorder {
    double* losses = nullptr;
    const index_t* rec = nullptr;
    index_t nrec = 0;
    double* rec_loss = nullptr;
    double* rec_x = nullptr;  // float64 m*n per record
};

// Is the tiny path used for this shape (and scalar type)?
template <class T>
inline bool tiny_path(const Shape& s) {
    const index_t L = kLanes<T>;
    const index_t kv = (s.k + L - 1) / L;
    const index_t bytes = (s.m + s.n) * kv * L * index_t(sizeof(T));
    return kv >= 1 && kv <= kMaxVectors && bytes <= (index_t(1) << 19);
}

// ------------------------------------------------------------------------------------------ tiny path

// ------------------------------------------------------------------------------------------ 64-byte packs
//
// The tiny path works on packs of one 64-byte vector (8 doubles or 16 floats): AVX-512 registers, two AVX2
// registers, or a plain array elsewhere. Every pack operation is defined lane by lane, and the one
// horizontal operation (reduce) is the fixed halving tree  acc[l] += acc[l + h], h = L/2, ..., 1 , so all
// three implementations give the same bits. Products are accumulated with fused multiply-adds where the
// target has them (a single rounding; explicit, never left to the compiler), else a product then a sum:
// FMA and non-FMA builds may differ at round-off level, never threads or batching within one build.
namespace detail {

template <class T>
struct Pack {  // portable fallback
    static constexpr int L = kLanes<T>;
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

}  // namespace detail

// ------------------------------------------------------------------------------------------ tiny path

// One tiny-path step in two passes over the rows, padded to KV packs (kp = KV * lanes):
//   pass 1, row i of U:  D_ij = <U_i, V_j>   (two pack accumulators, even and odd packs, then their sum,
//                                             then the halving tree),
//                        E_ij = Y_ij - D_ij,  g = sum_j E_ij V_j  (j ascending),  Un_i = U_i + lr g,
//                        loss = 1/2 sum E_ij^2 (in double, row-major order);
//   pass 2, row j of V:  h = sum_i E_ij U_i  (i ascending),  Vn_j = V_j + lr h.
// The update is written whatever the loss (the caller decides whether to keep it); with update = false
// only pass 1's D, E and loss are formed. Returns the loss of (U, V).
template <class T, int KV>
inline double tiny_step(const T* __restrict U, const T* __restrict V, const T* __restrict Y, index_t m,
                        index_t n, T lr, bool update, T* __restrict D, T* __restrict E, T* __restrict Un,
                        T* __restrict Vn) {
    using P = detail::Pack<T>;
    constexpr index_t L = kLanes<T>;
    constexpr index_t kp = index_t(KV) * L;
    const P lrp = P::bcast(lr);
    double loss = 0.0;
    for (index_t i = 0; i < m; ++i) {
        const T* __restrict ui = U + i * kp;
        P u[KV], g[KV];
        for (int v = 0; v < KV; ++v) {
            u[v] = P::load(ui + v * L);
            g[v] = P::zero();
        }
        for (index_t j = 0; j < n; ++j) {
            const T* __restrict vj = V + j * kp;
            P w[KV];
            for (int v = 0; v < KV; ++v) w[v] = P::load(vj + v * L);
            P a0 = u[0] * w[0];
            for (int v = 2; v < KV; v += 2) a0 = fmadd(u[v], w[v], a0);
            if constexpr (KV > 1) {
                P a1 = u[1] * w[1];
                for (int v = 3; v < KV; v += 2) a1 = fmadd(u[v], w[v], a1);
                a0 = a0 + a1;
            }
            const T d = a0.reduce();
            const T e = Y[i * n + j] - d;
            D[i * n + j] = d;
            E[i * n + j] = e;
            loss += double(e) * double(e);
            const P ep = P::bcast(e);
            for (int v = 0; v < KV; ++v) g[v] = fmadd(ep, w[v], g[v]);
        }
        if (update) {
            T* __restrict un = Un + i * kp;
            for (int v = 0; v < KV; ++v) fmadd(lrp, g[v], u[v]).store(un + v * L);
        }
    }
    if (update) {
        for (index_t j = 0; j < n; ++j) {
            P h[KV];
            for (int v = 0; v < KV; ++v) h[v] = P::zero();
            for (index_t i = 0; i < m; ++i) {
                const P ep = P::bcast(E[i * n + j]);
                const T* __restrict ui = U + i * kp;
                for (int v = 0; v < KV; ++v) h[v] = fmadd(ep, P::load(ui + v * L), h[v]);
            }
            const T* __restrict vj = V + j * kp;
            T* __restrict vn = Vn + j * kp;
            for (int v = 0; v < KV; ++v) fmadd(lrp, h[v], P::load(vj + v * L)).store(vn + v * L);
        }
    }
    return 0.5 * loss;
}

// ------------------------------------------------------------------------------------------ general path

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MapM = Eigen::Map<RowMat<T>>;
template <class T>
using MapCM = Eigen::Map<const RowMat<T>>;

inline index_t row_blocks(index_t rows) { return (rows + kRowBlock - 1) / kRowBlock; }

template <class T>
inline double general_residual(const T* U, const T* V, const T* Y, const Shape& s, T* D, T* E, int threads) {
    MapCM<T> Um(U, s.m, s.k), Vm(V, s.n, s.k), Ym(Y, s.m, s.n);
    MapM<T> Dm(D, s.m, s.n), Em(E, s.m, s.n);
    parallel_for(row_blocks(s.m), threads, [&](index_t b) {
        const index_t i0 = b * kRowBlock, len = std::min(kRowBlock, s.m - i0);
        Dm.middleRows(i0, len).noalias() = Um.middleRows(i0, len) * Vm.transpose();
        Em.middleRows(i0, len) = Ym.middleRows(i0, len) - Dm.middleRows(i0, len);
    });
    double loss = 0.0;
    const index_t mn = s.m * s.n;
    for (index_t q = 0; q < mn; ++q) loss += double(E[q]) * double(E[q]);
    return 0.5 * loss;
}

template <class T>
inline void general_update(const T* U, const T* V, const T* E, const Shape& s, T lr, T* Un, T* Vn,
                           int threads) {
    MapCM<T> Um(U, s.m, s.k), Vm(V, s.n, s.k), Em(E, s.m, s.n);
    MapM<T> Unm(Un, s.m, s.k), Vnm(Vn, s.n, s.k);
    const index_t bu = row_blocks(s.m), bv = row_blocks(s.n);
    parallel_for(bu + bv, threads, [&](index_t b) {
        if (b < bu) {
            const index_t i0 = b * kRowBlock, len = std::min(kRowBlock, s.m - i0);
            auto G = Unm.middleRows(i0, len);
            G.noalias() = Em.middleRows(i0, len) * Vm;               // E V
            G = Um.middleRows(i0, len) + lr * G;
        } else {
            const index_t j0 = (b - bu) * kRowBlock, len = std::min(kRowBlock, s.n - j0);
            auto G = Vnm.middleRows(j0, len);
            G.noalias() = Em.middleCols(j0, len).transpose() * Um;   // E^T U
            G = Vm.middleRows(j0, len) + lr * G;
        }
    });
}

// ------------------------------------------------------------------------------------------ one run

// Working state of one run: copies of [U; V] in the path's layout (leading dimension ld), used in rotation,
// plus E and D. The tiny path forms the next state while it computes the loss, so it rotates three
// buffers (states t - 1, t, t + 1: the last finite state survives a non-finite state t); the general path
// checks the loss before it updates, so two suffice.
template <class T>
struct Work {
    Shape s;
    bool tiny = false;
    index_t kv = 0, ld = 0;
    int nbuf = 2;
    Buffer<T> uv[3];  // [U; V] rows, ld wide
    Buffer<T> E, D;

    explicit Work(const Shape& shape) : s(shape), tiny(tiny_path<T>(shape)) {
        const index_t L = kLanes<T>;
        kv = (s.k + L - 1) / L;
        ld = tiny ? kv * L : s.k;
        nbuf = tiny ? 3 : 2;
        for (int b = 0; b < nbuf; ++b) uv[b].assign(std::size_t((s.m + s.n) * ld), T(0));
        E.assign(std::size_t(s.m * s.n), T(0));
        D.assign(std::size_t(s.m * s.n), T(0));
    }
    void load(int w, const T* U, const T* V) {
        T* dst = uv[w].data();
        for (index_t i = 0; i < s.m; ++i) std::memcpy(dst + i * ld, U + i * s.k, std::size_t(s.k) * sizeof(T));
        dst += s.m * ld;
        for (index_t j = 0; j < s.n; ++j) std::memcpy(dst + j * ld, V + j * s.k, std::size_t(s.k) * sizeof(T));
    }
    void store(int w, T* U, T* V) const {
        const T* src = uv[w].data();
        for (index_t i = 0; i < s.m; ++i) std::memcpy(U + i * s.k, src + i * ld, std::size_t(s.k) * sizeof(T));
        src += s.m * ld;
        for (index_t j = 0; j < s.n; ++j) std::memcpy(V + j * s.k, src + j * ld, std::size_t(s.k) * sizeof(T));
    }
};

// The step loop, templated on the path (KV > 0: tiny path with KV vectors per row; KV = 0: general).
// `cur` (in/out) is the buffer holding the state.
template <class T, int KV>
ChunkResult run_loop(Work<T>& w, const T* Y, const double* lrs, double lr_scale, index_t steps,
                   const Recorder& rec, bool keep_finite, int threads, int& cur) {
    const Shape& s = w.s;
    ChunkResult res;
    index_t r = 0;  // next record
    for (index_t t = 0;; ++t) {
        const bool update = t < steps;
        const int nxt = (cur + 1) % w.nbuf;
        const T lr = update ? T(lr_scale * lrs[t]) : T(0);
        const T* U = w.uv[cur].data();
        const T* V = U + s.m * w.ld;
        T* Un = w.uv[nxt].data();
        T* Vn = Un + s.m * w.ld;
        double loss;
        if constexpr (KV > 0) {
            // fused: the update into the next buffer is formed whatever the loss; the third buffer (state
            // t - 1) is untouched.
            loss = tiny_step<T, KV>(U, V, Y, s.m, s.n, lr, update, w.D.data(), w.E.data(), Un, Vn);
        } else {
            loss = general_residual<T>(U, V, Y, s, w.D.data(), w.E.data(), threads);
        }
        if (!std::isfinite(loss)) {
            res.diverged = true;
            res.steps_done = t;
            if (keep_finite && t > 0) {
                cur = (cur + w.nbuf - 1) % w.nbuf;  // back to state t - 1
            } else {
                res.loss = loss;
            }
            return res;
        }
        res.loss = loss;
        while (r < rec.nrec && rec.rec[r] < t) ++r;
        for (; r < rec.nrec && rec.rec[r] == t; ++r) {
            if (rec.rec_loss) rec.rec_loss[r] = loss;
            if (rec.rec_x) {
                double* x = rec.rec_x + r * s.m * s.n;
                for (index_t q = 0; q < s.m * s.n; ++q) x[q] = double(w.D[q]);
            }
        }
        if (!update) break;
        if (rec.losses) rec.losses[t] = loss;
        if constexpr (KV == 0) general_update<T>(U, V, w.E.data(), s, lr, Un, Vn, threads);
        cur = nxt;
        res.steps_done = t + 1;
    }
    return res;
}

template <class T, int KV = 1>
ChunkResult dispatch(Work<T>& w, const T* Y, const double* lrs, double lr_scale, index_t steps,
                   const Recorder& rec, bool keep_finite, int threads, int& cur) {
    if constexpr (KV > kMaxVectors) {
        return run_loop<T, 0>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    } else {
        if (w.tiny && w.kv == KV)
            return run_loop<T, KV>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
        return dispatch<T, KV + 1>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    }
}

// Run `steps` GD steps on one problem, in place on U (m x k) and V (n x k). Step t uses the step size
// lr_scale * lrs[t]. The final state is always evaluated, so a non-finite end state is reported
// (steps_done = steps, diverged). On divergence U, V receive the last finite state if keep_finite, else the
// first non-finite one. `threads` parallelizes the general path over row blocks (the tiny path runs on one
// thread); the result does not depend on it.
template <class T>
ChunkResult run(T* U, T* V, const T* Y, const Shape& s, const double* lrs, double lr_scale, index_t steps,
              const Recorder& rec, bool keep_finite, int threads) {
    Work<T> w(s);
    w.load(0, U, V);
    int cur = 0;
    const ChunkResult res = dispatch<T>(w, Y, lrs, lr_scale, steps, rec, keep_finite, threads, cur);
    w.store(cur, U, V);
    return res;
}

// Many independent problems of one shape: Us (B x m x k), Vs (B x n x k), Ys (B x m x n, or one shared
// m x n when y_stride = 0). Run b uses step sizes run_lr[b] * step_lr[t]. Each run goes entirely to one
// thread and runs the exact code of `run` (threads = 1), so it is bitwise equal to the run done alone, for
// any thread count. Runs with diverged[b] set on entry are skipped (they stopped in an earlier chunk).
// Per run: records at rec_loss + b*nrec and rec_x + b*nrec*m*n (if rec_x), steps_done[b], diverged[b].
template <class T>
void run_batch(T* Us, T* Vs, const T* Ys, index_t y_stride, index_t B, const Shape& s, const double* run_lr,
               const double* step_lr, index_t steps, const index_t* rec_idx, index_t nrec, double* rec_loss,
               double* rec_x, bool keep_finite, index_t* steps_done, std::uint8_t* diverged, int threads) {
    auto one = [&](index_t b) {
        if (diverged[b]) {
            steps_done[b] = 0;
            return;
        }
        Recorder rec{nullptr, rec_idx, nrec, rec_loss ? rec_loss + b * nrec : nullptr,
                     rec_x ? rec_x + b * nrec * s.m * s.n : nullptr};
        const ChunkResult r = run<T>(Us + b * s.m * s.k, Vs + b * s.n * s.k, Ys + b * y_stride, s, step_lr,
                                   run_lr[b], steps, rec, keep_finite, 1);
        steps_done[b] = r.steps_done;
        diverged[b] = r.diverged ? 1 : 0;
    };
#ifdef WIDEFLOW_HAVE_OPENMP
    const int nt = int(std::min<index_t>(std::max(threads, 1), B));
    if (nt > 1) {
        // an exception (allocation failure) must not leave the parallel region; the first is rethrown
        std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (index_t b = 0; b < B; ++b) {
            try {
                one(b);
            } catch (...) {
#pragma omp critical(wideflow_factorization_error)
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    (void)threads;
    for (index_t b = 0; b < B; ++b) one(b);
}

// ------------------------------------------------------------------------------------------ one layer

// The one-layer baseline L1(X) = 1/2 ||Y - X||^2 trained directly: X+ = X + lr (Y - X) over `size` entries.
// losses[t] = loss at the start of step t; the final state is evaluated too. On divergence X holds the
// first non-finite state (steps_done is its index), as in `run` without keep_finite.
template <class T>
ChunkResult onelayer_run(T* X, const T* Y, index_t size, const double* lrs, index_t steps, double* losses) {
    ChunkResult res;
    for (index_t t = 0;; ++t) {
        double loss = 0.0;
        for (index_t q = 0; q < size; ++q) {
            const T e = Y[q] - X[q];
            loss += double(e) * double(e);
        }
        loss *= 0.5;
        res.loss = loss;
        if (!std::isfinite(loss)) {
            res.diverged = true;
            res.steps_done = t;
            return res;
        }
        if (t == steps) break;
        losses[t] = loss;
        const T lr = T(lrs[t]);
        for (index_t q = 0; q < size; ++q) X[q] = X[q] + lr * (Y[q] - X[q]);
        res.steps_done = t + 1;
    }
    return res;
}

}  // namespace wideflow::factorization
