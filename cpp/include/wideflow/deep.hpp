// Deep fully-connected networks (linear, ReLU, leaky ReLU), fused full-batch gradient descent.
//
//   A_0 = X (N x d_0, rows are samples),  Z_h = A_{h-1} W_h^T + b_h,  A_h = phi(Z_h)  (h < L),
//   F = Z_L,  R = F - Y,  L = 1/2 sum R^2 (+ a constant offset, see the Gram path in deep.py)
//
// Backward pass (phi'(z) taken from the sign of A = phi(Z), with relu'(0) = 0):
//
//   D_L = R,  D_{h-1} = (D_h W_h) o phi'(A_{h-1}),  G_h = D_h^T A_{h-1},  g_h = 1^T D_h
//
// One GD step is four phases of tasks: P1 pack W, R1 row blocks (forward, residual, loss share, deltas),
// P2 pack the deltas, R2 weight blocks with the update fused into the product's write-back (described in
// deep_workspace.hpp). Threads: a chunk of steps is one OpenMP parallel region in which threads claim the
// tasks of the phases, step after step, from one atomic counter (tasks::run_phased); no barrier per phase.
//
// Reproducibility: every product runs single-threaded on a block whose shape depends only on the problem
// shape (gemm.hpp), and no sum crosses blocks except the loss, which is reduced over blocks in block
// order; so results are bitwise identical for any thread count.
//
// Headers of the family: deep_net.hpp (the net view and phi), deep_workspace.hpp (the buffers and the tasks
// of a step), gemm.hpp (products on packed operands), tasks.hpp (the scheduler), deep_flow.hpp (the flow
// System); this file: the one-off evaluations, the GD loop and the Trainer (no per-step allocation: a
// Trainer keeps its Workspace for the whole run).
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>

#include "wideflow/chunk.hpp"
#include "wideflow/deep_net.hpp"
#include "wideflow/deep_workspace.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/tasks.hpp"

namespace wideflow::deep {

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
// Threads: the whole chunk is ONE parallel region (tasks::run_phased) over the phases P1 (pack W), R1 (row
// blocks), a 1-task loss check, P2 (pack D, A^T), R2 (weight blocks) and a 1-task finiteness check.
template <class T>
ChunkResult gd(Workspace<T>& ws, const T* Y, const double* lr, index_t steps, double offset, double* losses) {
    ChunkResult res;
    const index_t sizes[6] = {ws.pack_w_tasks(), ws.row_tasks(), 1, ws.pack_d_tasks(), ws.weight_tasks(), 1};
    tasks::run_phased(sizes, steps, ws.threads(), [&](index_t s, int p, index_t k, int tid) {
        switch (p) {
            case 0: ws.pack_w(k); return false;
            case 1: ws.row_block(k, tid, Y, true); return false;
            case 2: {
                const double l = offset + ws.block_loss();
                losses[s] = l;
                if (std::isfinite(l)) return false;
                res.steps_done = s;
                res.diverged = true;
                return true;
            }
            case 3: ws.pack_d(k); return false;
            case 4: ws.weight_task(k, tid, T(lr[s]), nullptr, nullptr); return false;
            default:
                res.steps_done = s + 1;
                if (ws.weights_finite()) return false;
                res.diverged = true;
                return true;
        }
    });
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
