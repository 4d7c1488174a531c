// Single-threaded matrix products on pre-packed operands, built on Eigen's GEMM micro-kernel (gebp).
//
// Eigen's public product packs both operands into cache-friendly panels on every call. In a training
// step the same operands are used many times (X in every step, twice; W_h by every block of samples;
// the deltas by every block of a weight gradient), so the kernels here pack an operand ONCE and reuse
// the packed panels:
//
//   C (rows x cols, column-major, leading dimension ldc) += alpha * A * B
//
// where A (rows_total x depth) and B (depth x cols_total) are either packed in advance (pack_lhs /
// pack_rhs) or given as plain arrays and packed chunk by chunk into a scratch buffer. A product may use a
// sub-range of rows of a packed A (starting at a multiple of lhs_align()) and of columns of a packed B
// (starting at a multiple of rhs_align()).
//
// Determinism: the depth is cut into chunks whose size depends on the depth only (depth_chunk); every
// entry of C accumulates its chunks in increasing order, and the micro-kernel's order within a chunk
// depends only on the panel structure, i.e. on the shapes and offsets. Nothing depends on threads.
//
// Packing an operand can itself be split into tasks, one per depth chunk (PackTask, add_pack_tasks), which
// the deep net's scheduler runs in parallel with other work.
//
// Eigen 3.4 exposes the packing routines and the micro-kernel under Eigen::internal; with another Eigen
// version the "packed" form is a plain column-major copy and the product is Eigen's public one.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "wideflow/parallel.hpp"

#if defined(EIGEN_WORLD_VERSION) && EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && \
    !defined(WIDEFLOW_NO_PACKED_GEMM)
#define WIDEFLOW_PACKED_GEMM 1
#else
#define WIDEFLOW_PACKED_GEMM 0
#endif

namespace wideflow::gemm {

enum Order : int { col_major = Eigen::ColMajor, row_major = Eigen::RowMajor };

// Aligned storage for packed operands (the micro-kernel loads packets from them).
template <class T>
using buffer = std::vector<T, Eigen::aligned_allocator<T>>;

// Depth chunk: at most 512, balanced, a multiple of 16 (keeps every chunk of a packed operand aligned).
inline index_t depth_chunk(index_t depth) {
    constexpr index_t kMax = 512;
    if (depth <= kMax) return std::max<index_t>(depth, 1);
    const index_t n = (depth + kMax - 1) / kMax;
    const index_t kc = (depth + n - 1) / n;
    return (kc + 15) / 16 * 16;
}

// Row blocks of a product are cut at multiples of this (lhs panel height).
template <class T>
constexpr index_t lhs_align() {
#if WIDEFLOW_PACKED_GEMM
    return Eigen::internal::gebp_traits<T, T>::mr;
#else
    return 1;
#endif
}

// Column blocks of a product are cut at multiples of this (rhs panel width).
template <class T>
constexpr index_t rhs_align() {
#if WIDEFLOW_PACKED_GEMM
    return Eigen::internal::gebp_traits<T, T>::nr;
#else
    return 1;
#endif
}

// Entries of a packed operand (rows x depth or depth x cols).
inline std::size_t packed_size(index_t outer, index_t depth) { return std::size_t(outer) * std::size_t(depth); }

namespace detail {

// Pack rows [0, rows) x depth [k0, k0 + kc) of A (element (i, k) at src[O == col_major ? i + k ld : i ld + k]).
template <class T, int O>
inline void pack_lhs_chunk(T* dst, const T* src, index_t ld, index_t rows, index_t k0, index_t kc) {
#if WIDEFLOW_PACKED_GEMM
    using namespace Eigen::internal;
    using Traits = gebp_traits<T, T>;
    using Mapper = const_blas_data_mapper<T, Eigen::Index, O>;
    gemm_pack_lhs<T, Eigen::Index, Mapper, Traits::mr, Traits::LhsProgress, typename Traits::LhsPacket4Packing, O> pack;
    Mapper m(src, ld);
    pack(dst, m.getSubMapper(0, k0), kc, rows);
#else
    for (index_t i = 0; i < rows; ++i)  // row by row (panels of height 1)
        for (index_t k = 0; k < kc; ++k)
            dst[i * kc + k] = O == col_major ? src[i + (k0 + k) * ld] : src[i * ld + k0 + k];
#endif
}

// Pack depth [k0, k0 + kc) x cols [0, cols) of B (element (k, j) at src[O == col_major ? k + j ld : k ld + j]).
template <class T, int O>
inline void pack_rhs_chunk(T* dst, const T* src, index_t ld, index_t cols, index_t k0, index_t kc) {
#if WIDEFLOW_PACKED_GEMM
    using namespace Eigen::internal;
    using Traits = gebp_traits<T, T>;
    using Mapper = const_blas_data_mapper<T, Eigen::Index, O>;
    gemm_pack_rhs<T, Eigen::Index, Mapper, Traits::nr, O> pack;
    Mapper m(src, ld);
    pack(dst, m.getSubMapper(k0, 0), kc, cols);
#else
    for (index_t j = 0; j < cols; ++j)  // column by column (panels of width 1)
        for (index_t k = 0; k < kc; ++k)
            dst[k + j * kc] = O == col_major ? src[k0 + k + j * ld] : src[(k0 + k) * ld + j];
#endif
}

// C (rows x cols) += alpha * a (packed rows x kc) * b (packed kc x cols).
template <class T>
inline void kernel(index_t rows, index_t cols, index_t kc, const T* a, const T* b, T* C, index_t ldc, T alpha) {
#if WIDEFLOW_PACKED_GEMM
    using namespace Eigen::internal;
    using Traits = gebp_traits<T, T>;
    using ResMapper = blas_data_mapper<T, Eigen::Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
    gebp_kernel<T, T, Eigen::Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
    // rows of A per call: an A block of about 1 MiB stays in L2 while the B panels stream through L1
    constexpr index_t mr = Traits::mr;
    const index_t mc = std::max<index_t>(mr, (index_t(1) << 20) / (kc * index_t(sizeof(T))) / mr * mr);
    for (index_t i = 0; i < rows; i += mc) {
        const index_t m = std::min(mc, rows - i);
        ResMapper res(C + i, ldc);
        gebp(res, a + i * kc, b, m, kc, cols, alpha);
    }
#else
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
    using MatR = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const MatR> A(a, rows, kc);
    Eigen::Map<const Mat> B(b, kc, cols);
    Eigen::Map<Mat, 0, Eigen::OuterStride<>> c(C, rows, cols, Eigen::OuterStride<>(ldc));
    c.noalias() += alpha * (A * B);
#endif
}

}  // namespace detail

// Pack all of A (rows x depth, storage order O, leading dimension ld) into dst (packed_size(rows, depth)).
template <class T, int O>
void pack_lhs(T* dst, const T* src, index_t ld, index_t rows, index_t depth) {
    const index_t kc = depth_chunk(depth);
    for (index_t k = 0; k < depth; k += kc)
        detail::pack_lhs_chunk<T, O>(dst + k * rows, src, ld, rows, k, std::min(kc, depth - k));
}

// Pack all of B (depth x cols, storage order O, leading dimension ld) into dst (packed_size(cols, depth)).
template <class T, int O>
void pack_rhs(T* dst, const T* src, index_t ld, index_t depth, index_t cols) {
    const index_t kc = depth_chunk(depth);
    for (index_t k = 0; k < depth; k += kc)
        detail::pack_rhs_chunk<T, O>(dst + k * cols, src, ld, cols, k, std::min(kc, depth - k));
}

// An operand of a product: packed (all rows/cols `total`, the product uses [off, off + n)), or a plain
// array with storage order `order` (already offset to the product's first row/column), packed chunk by
// chunk into the caller's scratch.
template <class T>
struct Operand {
    const T* packed = nullptr;
    index_t total = 0, off = 0;
    const T* src = nullptr;
    index_t ld = 0;
    int order = col_major;

    static Operand of_packed(const T* p, index_t total, index_t off) {
        Operand o;
        o.packed = p;
        o.total = total;
        o.off = off;
        return o;
    }
    static Operand of_array(const T* p, index_t ld, int order) {
        Operand o;
        o.src = p;
        o.ld = ld;
        o.order = order;
        return o;
    }
};

// Scratch a product needs for operands given as plain arrays (entries).
inline std::size_t scratch_size(index_t outer, index_t depth) { return packed_size(outer, depth_chunk(depth)); }

// C (rows x cols, column-major, ldc) += alpha * A * B, A rows x depth, B depth x cols.
template <class T>
void multiply(index_t rows, index_t cols, index_t depth, const Operand<T>& A, const Operand<T>& B, T* C, index_t ldc,
              T alpha, T* scratch_a, T* scratch_b) {
    if (rows <= 0 || cols <= 0 || depth <= 0) return;
    const index_t kc = depth_chunk(depth);
    for (index_t k = 0; k < depth; k += kc) {
        const index_t kcc = std::min(kc, depth - k);
        const T* a;
        const T* b;
        if (A.packed) {
            a = A.packed + k * A.total + A.off * kcc;
        } else {
            if (A.order == col_major)
                detail::pack_lhs_chunk<T, col_major>(scratch_a, A.src, A.ld, rows, k, kcc);
            else
                detail::pack_lhs_chunk<T, row_major>(scratch_a, A.src, A.ld, rows, k, kcc);
            a = scratch_a;
        }
        if (B.packed) {
            b = B.packed + k * B.total + B.off * kcc;
        } else {
            if (B.order == col_major)
                detail::pack_rhs_chunk<T, col_major>(scratch_b, B.src, B.ld, cols, k, kcc);
            else
                detail::pack_rhs_chunk<T, row_major>(scratch_b, B.src, B.ld, cols, k, kcc);
            b = scratch_b;
        }
        detail::kernel(rows, cols, kcc, a, b, C, ldc, alpha);
    }
}

// One packing task: pack depth chunk [k0, k0 + kc) of an operand (outer x depth, order `order`) into dst, the
// operand's packed form (pack_lhs / pack_rhs done chunk by chunk, so the chunks can run as parallel tasks).
template <class T>
struct PackTask {
    bool lhs = true;
    int order = col_major;
    T* dst = nullptr;
    const T* src = nullptr;
    index_t ld = 0, outer = 0, depth = 0, k0 = 0;

    void run() const {
        const index_t kc = std::min(depth_chunk(depth), depth - k0);
        T* d = dst + k0 * outer;
        if (lhs) {
            if (order == col_major)
                detail::pack_lhs_chunk<T, col_major>(d, src, ld, outer, k0, kc);
            else
                detail::pack_lhs_chunk<T, row_major>(d, src, ld, outer, k0, kc);
        } else {
            if (order == col_major)
                detail::pack_rhs_chunk<T, col_major>(d, src, ld, outer, k0, kc);
            else
                detail::pack_rhs_chunk<T, row_major>(d, src, ld, outer, k0, kc);
        }
    }
};

// Append the tasks packing all of an operand (outer x depth), one per depth chunk.
template <class T>
void add_pack_tasks(std::vector<PackTask<T>>& tasks, bool lhs, int order, T* dst, const T* src, index_t ld,
                    index_t outer, index_t depth) {
    const index_t kc = depth_chunk(depth);
    for (index_t k = 0; k < depth; k += kc) {
        PackTask<T> t;
        t.lhs = lhs;
        t.order = order;
        t.dst = dst;
        t.src = src;
        t.ld = ld;
        t.outer = outer;
        t.depth = depth;
        t.k0 = k;
        tasks.push_back(t);
    }
}

}  // namespace wideflow::gemm
