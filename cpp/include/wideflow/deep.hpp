// Deep fully-connected networks (linear, ReLU, leaky ReLU), fused full-batch gradient descent.
//
//   A_0 = X (N x d_0, rows are samples),  Z_h = A_{h-1} W_h^T + b_h,  A_h = phi(Z_h)  (h < L),
//   F = Z_L,  R = F - Y,  L = 1/2 sum R^2 (+ a constant offset, see the Gram path in deep.py)
//
// Backward pass (phi'(z) taken from the sign of A = phi(Z), with relu'(0) = 0):
//
//   D_L = R,  D_{h-1} = (D_h W_h) o phi'(A_{h-1}),  G_h = D_h^T A_{h-1},  g_h = 1^T D_h
//
// W_h is (d_h, d_{h-1}) row-major, exactly the NumPy buffer. One GD step:
//
//   P1. pack W_h (and W_h^T for the backward pass) once into GEMM panels shared by all sample blocks;
//   R1. row blocks of samples (a fixed partition of [0, N)): every block runs the whole forward pass, the
//       residual, its share of the loss and the whole backward pass of the deltas, applying the
//       activation and the mask in the same pass while the block is in cache;
//   P2. pack D_h and A_{h-1}^T once into panels shared by all blocks of a weight gradient;
//   R2. output blocks of the weights (a fixed partition of each W_h): W_h[block] += (-lr) D_h^T A_{h-1},
//       ONE accumulating product written straight into the NumPy array (the update is fused into the
//       product's write-back), then a finiteness scan of the block; biases get b_h -= lr 1^T D_h.
//
// X never changes, so its two packed forms (for X W_1^T and for D_1^T X) are made once per Workspace.
//
// Threads: a chunk of steps is one OpenMP parallel region in which threads claim the tasks of the phases
// above, step after step, from one atomic counter (see gd()); there is no barrier per phase.
//
// Reproducibility: every product runs single-threaded on a block whose shape depends only on the problem
// shape (gemm.hpp), and no sum crosses blocks except the loss, which is reduced over blocks in block
// order; so results are bitwise identical for any thread count.
//
// No per-step allocation: activations, deltas, packed operands and per-thread scratch belong to a
// Workspace, made once per training run (Trainer) or per one-off call.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "wideflow/chunk.hpp"
#include "wideflow/gemm.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::deep {

enum class Activation : int { linear = 0, relu = 1, leaky_relu = 2 };

template <class T>
struct Net {
    std::vector<T*> W;          // W[h]: (dims[h+1], dims[h]) row-major, h = 0..L-1
    std::vector<T*> b;          // b[h]: dims[h+1] entries; empty for a net without biases
    std::vector<index_t> dims;  // L + 1 layer sizes
    Activation act = Activation::relu;
    T slope = T(0);  // negative slope of leaky_relu

    index_t depth() const { return index_t(W.size()); }
    bool has_bias() const { return !b.empty(); }
    index_t params() const {
        index_t p = 0;
        for (index_t h = 0; h < depth(); ++h) p += dims[h + 1] * dims[h];
        return p;
    }
};

namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Run body(k, tid) for k in [0, count) on up to `threads` threads; tid < threads identifies the calling
// thread's workspace. Which thread runs which k never changes a result.
template <class F>
inline void run_tasks(index_t count, int threads, F&& body) {
#ifdef WIDEFLOW_HAVE_OPENMP
    if (threads > 1 && count > 1) {
#pragma omp parallel num_threads(threads)
        {
            const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (index_t k = 0; k < count; ++k) body(k, tid);
        }
        return;
    }
#endif
    for (index_t k = 0; k < count; ++k) body(k, 0);
}

// One weight-update task: columns [lo, hi) of W_h (split == 0), rows [lo, hi) (split == 1), or the
// bias of layer h (bias == true).
struct WeightTask {
    index_t layer = 0;
    bool bias = false;
    int split = 0;
    index_t lo = 0, hi = 0;
    double work = 0;
};

// Pack one depth chunk [k0, k0 + kc) of an operand into dst (P1 / P2 / the per-call packing of X).
template <class T>
struct PackTask {
    bool lhs = true;
    int order = gemm::col_major;
    T* dst = nullptr;
    const T* src = nullptr;
    index_t ld = 0, outer = 0, depth = 0, k0 = 0;

    void run() const {
        const index_t kc = std::min(gemm::depth_chunk(depth), depth - k0);
        T* d = dst + k0 * outer;
        if (lhs) {
            if (order == gemm::col_major)
                gemm::detail::pack_lhs_chunk<T, gemm::col_major>(d, src, ld, outer, k0, kc);
            else
                gemm::detail::pack_lhs_chunk<T, gemm::row_major>(d, src, ld, outer, k0, kc);
        } else {
            if (order == gemm::col_major)
                gemm::detail::pack_rhs_chunk<T, gemm::col_major>(d, src, ld, outer, k0, kc);
            else
                gemm::detail::pack_rhs_chunk<T, gemm::row_major>(d, src, ld, outer, k0, kc);
        }
    }
};

// Append the tasks packing all of an operand (outer x depth), one per depth chunk.
template <class T>
void add_pack_tasks(std::vector<PackTask<T>>& tasks, bool lhs, int order, T* dst, const T* src, index_t ld,
                    index_t outer, index_t depth) {
    const index_t kc = gemm::depth_chunk(depth);
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

}  // namespace detail

// Sample-block partition (depends on N only): blocks of 128..512 rows, about 4 of them.
inline ChunkPlan row_plan(index_t N) { return plan_chunks(N, 128, 512, 4, 8); }

// X is packed once per call when both packed copies take at most this many bytes.
constexpr double kPackXBytes = 512.0 * 1024 * 1024;

// The workspace of one call: activations, deltas, packed operands, per-thread scratch.
template <class T>
class Workspace {
   public:
    using Operand = gemm::Operand<T>;

    Workspace(const Net<T>& net, const T* X, index_t N, int threads, bool backward)
        : net_(net), X_(X), N_(N), L_(net.depth()), rows_(row_plan(N)) {
        if (L_ < 1) throw std::invalid_argument("deep: a network needs at least one layer");
        const auto& d = net.dims;
        // Tiny problems run on one thread (thread start-up would cost more than the work; results do not
        // depend on the thread count anyway).
        const double flops = 2.0 * double(N) * double(net.params()) * (backward ? 3.0 : 1.0);
        threads_ = flops < 4.0e6 ? 1 : std::max(1, threads);
        const auto sz = [](index_t a, index_t b) { return static_cast<std::size_t>(a) * static_cast<std::size_t>(b); };

        acts_.resize(static_cast<std::size_t>(L_));
        for (index_t h = 1; h < L_; ++h) acts_[h].resize(sz(N, d[h]));
        out_.resize(sz(N, d[L_]));
        block_loss_.resize(static_cast<std::size_t>(rows_.count));

        // P1: packed W_h (forward) and W_h^T (backward)
        wf_.resize(static_cast<std::size_t>(L_));
        for (index_t h = 0; h < L_; ++h) {
            wf_[h].resize(gemm::packed_size(d[h + 1], d[h]));
            detail::add_pack_tasks<T>(p1_, true, gemm::row_major, wf_[h].data(), net.W[h], d[h], d[h + 1], d[h]);
        }
        const index_t nb = std::min(rows_.size, N);
        std::size_t scratch_b = 0, scratch_a = 0;
        for (index_t h = 1; h < L_; ++h) scratch_b = std::max(scratch_b, gemm::scratch_size(nb, d[h]));

        if (backward) {
            wb_.resize(static_cast<std::size_t>(L_));
            for (index_t h = 1; h < L_; ++h) {
                wb_[h].resize(gemm::packed_size(d[h], d[h + 1]));
                detail::add_pack_tasks<T>(p1_, true, gemm::col_major, wb_[h].data(), net.W[h], d[h], d[h], d[h + 1]);
                scratch_b = std::max(scratch_b, gemm::scratch_size(nb, d[h + 1]));
            }
            deltas_.resize(static_cast<std::size_t>(L_));
            for (index_t h = 1; h < L_; ++h) deltas_[h].resize(sz(N, d[h]));
            // P2: packed D_{h+1} (rhs of the weight products) and A_h^T (lhs, h >= 1)
            dp_.resize(static_cast<std::size_t>(L_));
            ap_.resize(static_cast<std::size_t>(L_));
            for (index_t h = 0; h < L_; ++h) {
                const T* D = h + 1 == L_ ? out_.data() : deltas_[h + 1].data();
                dp_[h].resize(gemm::packed_size(d[h + 1], N));
                detail::add_pack_tasks<T>(p2_, false, gemm::row_major, dp_[h].data(), D, d[h + 1], d[h + 1], N);
                if (h >= 1) {
                    ap_[h].resize(gemm::packed_size(d[h], N));
                    detail::add_pack_tasks<T>(p2_, true, gemm::col_major, ap_[h].data(), acts_[h].data(), d[h], d[h],
                                              N);
                }
            }
            plan_weight_tasks();
        }

        // X, packed once per call: per row block for X W_1^T; as X^T for D_1^T X
        pack_x_ = double(N) * double(d[0]) * sizeof(T) * (backward ? 2.0 : 1.0) <= kPackXBytes;
        if (pack_x_) {
            std::vector<detail::PackTask<T>> px;
            xf_.resize(sz(N, d[0]));
            for (index_t k = 0; k < rows_.count; ++k) {
                const index_t r0 = rows_.begin(k), n = rows_.end(k, N) - r0;
                detail::add_pack_tasks<T>(px, false, gemm::col_major, xf_.data() + r0 * d[0], X + r0 * d[0], d[0], n,
                                          d[0]);
            }
            if (backward) {
                xt_.resize(sz(N, d[0]));
                detail::add_pack_tasks<T>(px, true, gemm::col_major, xt_.data(), X, d[0], d[0], N);
            }
            detail::run_tasks(index_t(px.size()), threads_, [&](index_t k, int) { px[k].run(); });
        } else {
            scratch_b = std::max(scratch_b, gemm::scratch_size(nb, d[0]));
            if (backward) scratch_a = std::max(scratch_a, gemm::scratch_size(max_rows_[0], N));
        }
        scratch_a_.resize(static_cast<std::size_t>(threads_));
        scratch_b_.resize(static_cast<std::size_t>(threads_));
        for (int t = 0; t < threads_; ++t) {
            scratch_a_[t].resize(std::max<std::size_t>(scratch_a, 1));
            scratch_b_[t].resize(std::max<std::size_t>(scratch_b, 1));
        }
    }

    int threads() const { return threads_; }

    // Activations of the output layer (N x d_L), or the residual after forward(Y).
    T* out() { return out_.data(); }

    // Task counts of the phases of a step (see the header comment).
    index_t pack_w_tasks() const { return index_t(p1_.size()); }
    index_t row_tasks() const { return rows_.count; }
    index_t pack_d_tasks() const { return index_t(p2_.size()); }
    index_t weight_tasks() const { return index_t(tasks_.size()); }

    // P1 task k: pack (a depth chunk of) W_h or W_h^T.
    void pack_w(index_t k) { p1_[static_cast<std::size_t>(k)].run(); }
    // P2 task k: pack (a depth chunk of) D_{h+1} or A_h^T.
    void pack_d(index_t k) { p2_[static_cast<std::size_t>(k)].run(); }

    // R1 task k: forward pass of row block k; with Y, its residual and loss; with backward, its deltas.
    void row_block(index_t k, int tid, const T* Y, bool backward) {
        const index_t L = L_;
        const auto& d = net_.dims;
        T* sa = scratch_a_[static_cast<std::size_t>(tid)].data();
        T* sb = scratch_b_[static_cast<std::size_t>(tid)].data();
        const index_t r0 = rows_.begin(k), n = rows_.end(k, N_) - r0;
        const T* in = X_ + r0 * d[0];
        for (index_t h = 0; h < L; ++h) {
            const index_t din = d[h], dout = d[h + 1];
            T* z = layer_out(h + 1) + r0 * dout;
            // z (n x dout, row-major) = bias, then z^T += W_h A_in^T (column-major view of z)
            if (net_.has_bias()) {
                const T* bh = net_.b[h];
                for (index_t i = 0; i < n; ++i)
                    for (index_t j = 0; j < dout; ++j) z[i * dout + j] = bh[j];
            } else {
                std::fill(z, z + n * dout, T(0));
            }
            const Operand a = Operand::of_packed(wf_[h].data(), dout, 0);
            const Operand b = (h == 0 && pack_x_) ? Operand::of_packed(xf_.data() + r0 * din, n, 0)
                                                  : Operand::of_array(in, din, gemm::col_major);
            gemm::multiply<T>(dout, n, din, a, b, z, dout, T(1), sa, sb);
            if (h + 1 < L) activate(z, n * dout);
            in = z;
        }
        if (Y == nullptr) return;
        // residual and this block's loss (fixed order)
        T* f = out_.data() + r0 * d[L];
        const T* y = Y + r0 * d[L];
        double acc = 0.0;
        for (index_t i = 0; i < n * d[L]; ++i) {
            const T r = f[i] - y[i];
            f[i] = r;
            acc += double(r) * double(r);
        }
        block_loss_[static_cast<std::size_t>(k)] = acc;
        if (!backward) return;
        // deltas: D_h = (D_{h+1} W_{h+1}) o phi'(A_h), h = L-1 .. 1 (1-based layers; W_{h+1} is W[h])
        for (index_t h = L - 1; h >= 1; --h) {
            const index_t dh = d[h], dn = d[h + 1];
            const T* dnext = (h + 1 == L ? out_.data() : deltas_[h + 1].data()) + r0 * dn;
            T* dcur = deltas_[h].data() + r0 * dh;
            std::fill(dcur, dcur + n * dh, T(0));
            // dcur^T (dh x n) += W^T (dh x dn) dnext^T (dn x n)
            const Operand a = Operand::of_packed(wb_[h].data(), dh, 0);
            const Operand b = Operand::of_array(dnext, dn, gemm::col_major);
            gemm::multiply<T>(dh, n, dn, a, b, dcur, dh, T(1), sa, sb);
            mask(dcur, acts_[h].data() + r0 * dh, n * dh);
        }
    }

    // 1/2 sum R^2 from the row blocks' partial sums, in block order.
    double block_loss() const {
        double loss = 0.0;
        for (index_t k = 0; k < rows_.count; ++k) loss += block_loss_[static_cast<std::size_t>(k)];
        return 0.5 * loss;
    }

    // R2 task k: with gW == nullptr, W_h[block] += (-lr) G_h[block] (or b_h -= lr g_h) in place; otherwise
    // the block of G_h (g_h) is written to gW[h] (gb[h]). Records whether the block stayed finite.
    void weight_task(index_t k, int tid, T lr, T* const* gW, T* const* gb) {
        const auto& d = net_.dims;
        const detail::WeightTask& t = tasks_[static_cast<std::size_t>(k)];
        const index_t h = t.layer, din = d[h], dout = d[h + 1];
        if (t.bias) {
            const T* D = h + 1 == L_ ? out_.data() : deltas_[h + 1].data();  // N x dout
            T* dst = gb ? gb[h] : net_.b[h];
            T* acc = bias_acc_.data() + bias_off_[static_cast<std::size_t>(h)];
            std::fill(acc, acc + dout, T(0));
            for (index_t i = 0; i < N_; ++i)
                for (index_t j = 0; j < dout; ++j) acc[j] += D[i * dout + j];
            T bad = T(0);
            for (index_t j = 0; j < dout; ++j) {
                const T v = gb ? acc[j] : dst[j] - lr * acc[j];
                dst[j] = v;
                bad += v * T(0);
            }
            task_bad_[static_cast<std::size_t>(k)] = bad;
            return;
        }
        T* C = gW ? gW[h] : net_.W[h];
        const T alpha = gW ? T(1) : -lr;
        // W_h^T (din x dout, column-major = the row-major W_h) += alpha A_h^T (din x N) D_{h+1} (N x dout)
        index_t rows = din, cols = dout, a_off = 0, b_off = 0;
        if (t.split == 0) {
            rows = t.hi - t.lo;
            a_off = t.lo;
        } else {
            cols = t.hi - t.lo;
            b_off = t.lo;
        }
        T* c = C + a_off + b_off * din;
        if (gW)
            for (index_t j = 0; j < cols; ++j) std::fill(c + j * din, c + j * din + rows, T(0));
        Operand a;
        if (h > 0)
            a = Operand::of_packed(ap_[h].data(), din, a_off);
        else if (pack_x_)
            a = Operand::of_packed(xt_.data(), din, a_off);
        else
            a = Operand::of_array(X_ + a_off, din, gemm::col_major);
        const Operand b = Operand::of_packed(dp_[h].data(), dout, b_off);
        gemm::multiply<T>(rows, cols, N_, a, b, c, din, alpha, scratch_a_[static_cast<std::size_t>(tid)].data(),
                          scratch_b_[static_cast<std::size_t>(tid)].data());
        T bad = T(0);
        for (index_t j = 0; j < cols; ++j) {
            const T* col = c + j * din;
            for (index_t i = 0; i < rows; ++i) bad += col[i] * T(0);
        }
        task_bad_[static_cast<std::size_t>(k)] = bad;
    }

    // Whether every block updated by the last R2 stayed finite.
    bool weights_finite() const {
        bool finite = true;
        for (T v : task_bad_) finite = finite && std::isfinite(v);
        return finite;
    }

    // P1 + R1 as two parallel regions (one-off evaluations; training uses the phased loop in gd()).
    double forward(const T* Y, bool backward) {
        detail::run_tasks(pack_w_tasks(), threads_, [&](index_t k, int) { pack_w(k); });
        detail::run_tasks(row_tasks(), threads_, [&](index_t k, int tid) { row_block(k, tid, Y, backward); });
        return block_loss();
    }

    // P2 + R2 as two parallel regions (after forward(Y, true)); see weight_task.
    bool weights(T lr, T* const* gW, T* const* gb) {
        detail::run_tasks(pack_d_tasks(), threads_, [&](index_t k, int) { pack_d(k); });
        detail::run_tasks(weight_tasks(), threads_, [&](index_t k, int tid) { weight_task(k, tid, lr, gW, gb); });
        return weights_finite();
    }

   private:
    T* layer_out(index_t h) { return h == L_ ? out_.data() : acts_[h].data(); }

    void activate(T* z, index_t len) const {
        if (net_.act == Activation::relu) {
            for (index_t i = 0; i < len; ++i) z[i] = z[i] > T(0) ? z[i] : T(0);
        } else if (net_.act == Activation::leaky_relu) {
            const T s = net_.slope;
            for (index_t i = 0; i < len; ++i) z[i] = z[i] > T(0) ? z[i] : s * z[i];
        }
    }

    // delta *= phi'(z), read from a = phi(z): a > 0 iff z > 0 (relu'(0) = 0).
    void mask(T* delta, const T* a, index_t len) const {
        if (net_.act == Activation::relu) {
            for (index_t i = 0; i < len; ++i) delta[i] = a[i] > T(0) ? delta[i] : T(0);
        } else if (net_.act == Activation::leaky_relu) {
            const T s = net_.slope;
            for (index_t i = 0; i < len; ++i) delta[i] = a[i] > T(0) ? delta[i] : s * delta[i];
        }
    }

    // Partition every W_h into output blocks (a function of the shapes only), biggest tasks first. Column
    // blocks start at multiples of the lhs panel height, row blocks at multiples of the rhs panel width.
    void plan_weight_tasks() {
        const auto& d = net_.dims;
        max_rows_.assign(static_cast<std::size_t>(L_), 1);
        index_t bias_total = 0;
        for (index_t h = 0; h < L_; ++h) {
            const index_t din = d[h], dout = d[h + 1];
            const double work = 2.0 * double(N_) * double(din) * double(dout);
            const int split = din >= dout ? 0 : 1;
            const index_t len = split == 0 ? din : dout;
            const index_t align = split == 0 ? gemm::lhs_align<T>() : std::max<index_t>(16, gemm::rhs_align<T>());
            ChunkPlan p;
            if (work < 4.0e6) {
                p.size = len;
                p.count = 1;
            } else {
                p = plan_chunks(len, 64, len, 8, align);
            }
            for (index_t k = 0; k < p.count; ++k) {
                detail::WeightTask t;
                t.layer = h;
                t.split = split;
                t.lo = p.begin(k);
                t.hi = p.end(k, len);
                t.work = work * double(t.hi - t.lo) / double(len);
                tasks_.push_back(t);
            }
            max_rows_[h] = split == 0 ? std::min(p.size, din) : din;
            if (net_.has_bias()) {
                detail::WeightTask t;
                t.layer = h;
                t.bias = true;
                t.work = double(N_) * double(dout);
                tasks_.push_back(t);
                bias_off_.push_back(bias_total);
                bias_total += dout;
            }
        }
        std::stable_sort(tasks_.begin(), tasks_.end(),
                         [](const detail::WeightTask& a, const detail::WeightTask& b) { return a.work > b.work; });
        task_bad_.assign(tasks_.size(), T(0));
        bias_acc_.assign(static_cast<std::size_t>(bias_total), T(0));
    }

    const Net<T>& net_;
    const T* X_;
    index_t N_, L_;
    ChunkPlan rows_;
    int threads_ = 1;
    bool pack_x_ = false;
    std::vector<std::vector<T>> acts_;    // acts_[h]: A_h, N x d_h (h = 1..L-1)
    std::vector<std::vector<T>> deltas_;  // deltas_[h]: D_h, N x d_h (h = 1..L-1)
    std::vector<T> out_;                  // F, then R = F - Y (= D_L)
    std::vector<double> block_loss_;
    std::vector<gemm::buffer<T>> wf_, wb_, dp_, ap_;  // packed W_h, W_h^T, D_{h+1}, A_h^T
    gemm::buffer<T> xf_, xt_;                          // packed X (per row block) and X^T
    std::vector<gemm::buffer<T>> scratch_a_, scratch_b_;
    std::vector<detail::PackTask<T>> p1_, p2_;
    std::vector<detail::WeightTask> tasks_;
    std::vector<T> task_bad_, bias_acc_;
    std::vector<index_t> bias_off_, max_rows_;
};

// out (N x d_L, row-major) = f(X).
template <class T>
void evaluate(const Net<T>& net, const T* X, index_t N, T* out, int threads) {
    Workspace<T> ws(net, X, N, threads, false);
    ws.forward(nullptr, false);
    std::copy(ws.out(), ws.out() + N * net.dims[net.depth()], out);
}

// offset + 1/2 sum (f(X) - Y)^2, computed exactly as in gd().
template <class T>
double loss(const Net<T>& net, const T* X, const T* Y, index_t N, double offset, int threads) {
    Workspace<T> ws(net, X, N, threads, false);
    return offset + ws.forward(Y, false);
}

// Loss and gradients: gW[h] (d_{h+1} x d_h) and, for nets with biases, gb[h] (d_{h+1}).
template <class T>
double gradients(const Net<T>& net, const T* X, const T* Y, index_t N, double offset, T* const* gW, T* const* gb,
                 int threads) {
    Workspace<T> ws(net, X, N, threads, true);
    const double l = offset + ws.forward(Y, true);
    ws.weights(T(0), gW, gb);
    return l;
}

// Run up to `steps` GD steps in place on a backward workspace; losses[s] = offset + loss at the start of
// step s, lr[s] its step size. If the loss of state s is not finite: returns (s, true) with the
// parameters of state s untouched. If an update produces a non-finite parameter: returns (s + 1, true).
//
// Threads: the whole chunk is ONE parallel region. Its work is the sequence, step after step, of the
// phases P1 (pack W), R1 (row blocks), a 1-task loss check, P2 (pack D, A^T), R2 (weight blocks) and a
// 1-task finiteness check; threads claim the next task from one atomic counter, and a task starts once
// every task of the previous phases has finished. Unlike a barrier per phase, no thread waits for an idle
// or descheduled thread, so a busy machine slows a run down in proportion to the CPU it takes, not by
// a scheduler time slice per phase. Which thread runs a task never changes a result.
template <class T>
ChunkResult gd(Workspace<T>& ws, const T* Y, const double* lr, index_t steps, double offset, double* losses) {
    ChunkResult res;
    if (steps <= 0) return res;
    const index_t sizes[6] = {ws.pack_w_tasks(), ws.row_tasks(), 1, ws.pack_d_tasks(), ws.weight_tasks(), 1};
    index_t start[7] = {0};
    for (int p = 0; p < 6; ++p) start[p + 1] = start[p] + sizes[p];
    const index_t per_step = start[6];
    const index_t total = per_step * steps;
    std::atomic<index_t> next{0}, finished{0};
    std::atomic<bool> stop{false};

    // item i: step i / per_step, phase p, task k; returns the global index at which its phase starts
    auto run_item = [&](index_t i, int tid) {
        const index_t s = i / per_step, r = i % per_step;
        int p = 0;
        while (r >= start[p + 1]) ++p;
        const index_t k = r - start[p];
        switch (p) {
            case 0: ws.pack_w(k); break;
            case 1: ws.row_block(k, tid, Y, true); break;
            case 2: {
                const double l = offset + ws.block_loss();
                losses[s] = l;
                if (!std::isfinite(l)) {
                    res.steps_done = s;
                    res.diverged = true;
                    stop.store(true, std::memory_order_relaxed);
                }
                break;
            }
            case 3: ws.pack_d(k); break;
            case 4: ws.weight_task(k, tid, T(lr[s]), nullptr, nullptr); break;
            default: {
                res.steps_done = s + 1;
                if (!ws.weights_finite()) {
                    res.diverged = true;
                    stop.store(true, std::memory_order_relaxed);
                }
            }
        }
    };
    auto phase_start = [&](index_t i) {
        const index_t r = i % per_step;
        int p = 0;
        while (r >= start[p + 1]) ++p;
        return i - r + start[p];
    };
    auto worker = [&](int tid) {
        for (;;) {
            const index_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= total) return;
            const index_t need = phase_start(i);
            for (int spin = 0; finished.load(std::memory_order_acquire) < need; ++spin) {
                if (spin < 256)
                    detail::cpu_relax();
                else
                    std::this_thread::yield();
            }
            if (!stop.load(std::memory_order_relaxed)) run_item(i, tid);
            finished.fetch_add(1, std::memory_order_release);
        }
    };
#ifdef WIDEFLOW_HAVE_OPENMP
    if (ws.threads() > 1) {
#pragma omp parallel num_threads(ws.threads())
        worker(omp_get_thread_num());
        return res;
    }
#endif
    worker(0);
    return res;
}

// A training run: the workspace (activations, deltas, packed X, scratch) lives as long as the run, so a
// chunk of steps allocates nothing and X is packed once per run.
template <class T>
class Trainer {
   public:
    Trainer(Net<T> net, const T* X, const T* Y, index_t N, double offset, int threads)
        : net_(std::move(net)), Y_(Y), offset_(offset), ws_(net_, X, N, threads, true) {}

    ChunkResult run(const double* lr, index_t steps, double* losses) { return gd(ws_, Y_, lr, steps, offset_, losses); }

    // offset + 1/2 sum (f(X) - Y)^2 at the current parameters (the same arithmetic as the steps).
    double loss() { return offset_ + ws_.forward(Y_, false); }

    int threads() const { return ws_.threads(); }

   private:
    Net<T> net_;
    const T* Y_;
    double offset_;
    Workspace<T> ws_;
};

}  // namespace wideflow::deep
