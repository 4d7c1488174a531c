// The two code paths of a factorization GD step on L(U, V) = 1/2 ||Y - U V^T||_F^2 (factorization.hpp runs
// them), chosen from the shape alone so a run gives the same bits alone, in a batch and on any threads:
//
// * tiny (k <= 16 packs of 64 bytes, U and V fit in L2): the rows of U and V live in a working layout
//   padded to kp = a multiple of the SIMD lane count, zero-filled (zero columns stay exactly zero, so they
//   change nothing). One step is two passes over the rows whose inner length kp/lanes is a template
//   parameter, fully unrolled on 64-byte packs (simd_pack.hpp): no heap traffic, no BLAS call overhead. A
//   step of the 5 x 10, k = 50 problem costs about 0.3 microseconds.
// * general: Eigen matrix products on fixed row blocks (parallel over blocks; the partition depends only
//   on the shape).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <vector>

#include "wideflow/parallel.hpp"
#include "wideflow/simd_pack.hpp"

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

// Is the tiny path used for this shape (and scalar type)?
template <class T>
inline bool tiny_path(const Shape& s) {
    const index_t L = kLanes<T>;
    const index_t kv = (s.k + L - 1) / L;
    const index_t bytes = (s.m + s.n) * kv * L * index_t(sizeof(T));
    return kv >= 1 && kv <= kMaxVectors && bytes <= (index_t(1) << 19);
}

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
inline double tiny_step(const T* __restrict U, const T* __restrict V, const T* __restrict Y, index_t m, index_t n, T lr,
                        bool update, T* __restrict D, T* __restrict E, T* __restrict Un, T* __restrict Vn) {
    using P = simd::Pack<T>;
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
inline void general_update(const T* U, const T* V, const T* E, const Shape& s, T lr, T* Un, T* Vn, int threads) {
    MapCM<T> Um(U, s.m, s.k), Vm(V, s.n, s.k), Em(E, s.m, s.n);
    MapM<T> Unm(Un, s.m, s.k), Vnm(Vn, s.n, s.k);
    const index_t bu = row_blocks(s.m), bv = row_blocks(s.n);
    parallel_for(bu + bv, threads, [&](index_t b) {
        if (b < bu) {
            const index_t i0 = b * kRowBlock, len = std::min(kRowBlock, s.m - i0);
            auto G = Unm.middleRows(i0, len);
            G.noalias() = Em.middleRows(i0, len) * Vm;  // E V
            G = Um.middleRows(i0, len) + lr * G;
        } else {
            const index_t j0 = (b - bu) * kRowBlock, len = std::min(kRowBlock, s.n - j0);
            auto G = Vnm.middleRows(j0, len);
            G.noalias() = Em.middleCols(j0, len).transpose() * Um;  // E^T U
            G = Vm.middleRows(j0, len) + lr * G;
        }
    });
}

}  // namespace wideflow::factorization
