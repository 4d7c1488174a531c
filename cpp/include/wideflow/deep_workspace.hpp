// The workspace of a deep-net computation: activations, deltas, packed operands and per-thread scratch,
// made once per training run (Trainer) or per one-off call, so a step allocates nothing. It exposes the
// tasks of the phases of a step (deep.hpp):
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
// Every partition depends on the shapes only, and every product runs single-threaded on its block
// (gemm.hpp), so results do not depend on which thread runs a task.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "wideflow/deep_net.hpp"
#include "wideflow/gemm.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/tasks.hpp"

namespace wideflow::deep {

// One weight-update task: columns [lo, hi) of W_h (split == 0), rows [lo, hi) (split == 1), or the
// bias of layer h (bias == true).
struct WeightTask {
    index_t layer = 0;
    bool bias = false;
    int split = 0;
    index_t lo = 0, hi = 0;
    double work = 0;
};

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
            gemm::add_pack_tasks<T>(p1_, true, gemm::row_major, wf_[h].data(), net.W[h], d[h], d[h + 1], d[h]);
        }
        const index_t nb = std::min(rows_.size, N);
        std::size_t scratch_b = 0, scratch_a = 0;
        for (index_t h = 1; h < L_; ++h) scratch_b = std::max(scratch_b, gemm::scratch_size(nb, d[h]));

        if (backward) {
            wb_.resize(static_cast<std::size_t>(L_));
            for (index_t h = 1; h < L_; ++h) {
                wb_[h].resize(gemm::packed_size(d[h], d[h + 1]));
                gemm::add_pack_tasks<T>(p1_, true, gemm::col_major, wb_[h].data(), net.W[h], d[h], d[h], d[h + 1]);
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
                gemm::add_pack_tasks<T>(p2_, false, gemm::row_major, dp_[h].data(), D, d[h + 1], d[h + 1], N);
                if (h >= 1) {
                    ap_[h].resize(gemm::packed_size(d[h], N));
                    gemm::add_pack_tasks<T>(p2_, true, gemm::col_major, ap_[h].data(), acts_[h].data(), d[h], d[h], N);
                }
            }
            plan_weight_tasks();
        }

        // X, packed once per call: per row block for X W_1^T; as X^T for D_1^T X
        pack_x_ = double(N) * double(d[0]) * sizeof(T) * (backward ? 2.0 : 1.0) <= kPackXBytes;
        if (pack_x_) {
            std::vector<gemm::PackTask<T>> px;
            xf_.resize(sz(N, d[0]));
            for (index_t k = 0; k < rows_.count; ++k) {
                const index_t r0 = rows_.begin(k), n = rows_.end(k, N) - r0;
                gemm::add_pack_tasks<T>(px, false, gemm::col_major, xf_.data() + r0 * d[0], X + r0 * d[0], d[0], n,
                                        d[0]);
            }
            if (backward) {
                xt_.resize(sz(N, d[0]));
                gemm::add_pack_tasks<T>(px, true, gemm::col_major, xt_.data(), X, d[0], d[0], N);
            }
            tasks::run_tasks(index_t(px.size()), threads_, [&](index_t k, int) { px[k].run(); });
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
            if (h + 1 < L) activate(net_.act, net_.slope, z, n * dout);
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
            mask(net_.act, net_.slope, dcur, acts_[h].data() + r0 * dh, n * dh);
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
        const WeightTask& t = tasks_[static_cast<std::size_t>(k)];
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

    // P1 + R1 as two parallel regions (one-off evaluations; training runs the phases through tasks::run_phased in gd()).
    double forward(const T* Y, bool backward) {
        tasks::run_tasks(pack_w_tasks(), threads_, [&](index_t k, int) { pack_w(k); });
        tasks::run_tasks(row_tasks(), threads_, [&](index_t k, int tid) { row_block(k, tid, Y, backward); });
        return block_loss();
    }

    // P2 + R2 as two parallel regions (after forward(Y, true)); see weight_task.
    bool weights(T lr, T* const* gW, T* const* gb) {
        tasks::run_tasks(pack_d_tasks(), threads_, [&](index_t k, int) { pack_d(k); });
        tasks::run_tasks(weight_tasks(), threads_, [&](index_t k, int tid) { weight_task(k, tid, lr, gW, gb); });
        return weights_finite();
    }

private:
    T* layer_out(index_t h) { return h == L_ ? out_.data() : acts_[h].data(); }

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
                WeightTask t;
                t.layer = h;
                t.split = split;
                t.lo = p.begin(k);
                t.hi = p.end(k, len);
                t.work = work * double(t.hi - t.lo) / double(len);
                tasks_.push_back(t);
            }
            max_rows_[h] = split == 0 ? std::min(p.size, din) : din;
            if (net_.has_bias()) {
                WeightTask t;
                t.layer = h;
                t.bias = true;
                t.work = double(N_) * double(dout);
                tasks_.push_back(t);
                bias_off_.push_back(bias_total);
                bias_total += dout;
            }
        }
        std::stable_sort(tasks_.begin(), tasks_.end(),
                         [](const WeightTask& a, const WeightTask& b) { return a.work > b.work; });
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
    gemm::buffer<T> xf_, xt_;                         // packed X (per row block) and X^T
    std::vector<gemm::buffer<T>> scratch_a_, scratch_b_;
    std::vector<gemm::PackTask<T>> p1_, p2_;
    std::vector<WeightTask> tasks_;
    std::vector<T> task_bad_, bias_acc_;
    std::vector<index_t> bias_off_, max_rows_;
};

}  // namespace wideflow::deep
