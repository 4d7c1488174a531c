// The gradient field of a deep ReLU / leaky-ReLU network with its activation pattern frozen, for the
// event-aware flow (deep_event_flow.hpp).
//
//   A_0 = X,  Z_h = A_{h-1} W_h^T + 1 b_h^T,  A_h = Z_h o P_h  (h < L),  F = Z_L,  R = F - Y,
//   L = 1/2 ||R||^2 (+ offset),
//
// with the pattern P_h[j, u] = phi'(Z_h[j, u]) in {1, slope} (ReLU: slope 0) held fixed. Inside one
// activation region (no pre-activation Z_h[j, u] of a hidden layer changes sign) this is the network's own
// field -dL/dtheta; frozen, it is a polynomial in theta, so a Runge-Kutta step keeps its order and the
// pre-activations along the step's continuous extension tell where the region ends (an event: Z_h[j, u]
// reaches 0 from the side its pattern entry says).
//
// Backward pass with the pattern: D_L = R, G_h = D_h^T A_{h-1}, g_h = 1^T D_h, D_{h-1} = (D_h W_h) o P_{h-1}.
// Tangent (JVP) along a direction V = (dW, db): dZ_h = dA_{h-1} W_h^T + A_{h-1} dW_h^T + 1 db_h^T,
// dA_h = dZ_h o P_h, dA_0 = 0: the rates dZ/dt of every pre-activation under a field V.
//
// The parameters are one vector [W_1..W_L (row-major); b_1..b_L] (deep_flow.hpp's layout), in double.
// Products are Eigen's, single-threaded (EIGEN_DONT_PARALLELIZE): the same bits on every call.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::deep {

class PatternNet {
public:
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using MapC = Eigen::Map<const Mat>;

    // dims: L + 1 layer sizes; X (N x d_0), Y (N x d_L) row-major doubles (copied); slope 0 for ReLU.
    PatternNet(std::vector<index_t> dims, bool bias, double slope, const double* X, const double* Y, index_t N,
               double offset)
        : dims_(std::move(dims)), L_(index_t(dims_.size()) - 1), bias_(bias), slope_(slope), N_(N), offset_(offset) {
        X_ = MapC(X, N, dims_[0]);
        Y_ = MapC(Y, N, dims_[L_]);
        index_t off = 0;
        for (index_t h = 0; h < L_; ++h) w_off_.push_back(off), off += dims_[h + 1] * dims_[h];
        for (index_t h = 0; h < L_; ++h) b_off_.push_back(off), off += bias_ ? dims_[h + 1] : 0;
        size_ = off;
        Z_.resize(static_cast<std::size_t>(L_ + 1));
        A_.resize(static_cast<std::size_t>(L_));
        P_.resize(static_cast<std::size_t>(L_));
        S_.resize(static_cast<std::size_t>(L_));
        D_.resize(static_cast<std::size_t>(L_ + 1));
        dZ_.resize(static_cast<std::size_t>(L_ + 1));
        for (index_t h = 1; h < L_; ++h) P_[h] = S_[h] = Mat::Ones(N, dims_[h]);
    }

    index_t size() const { return size_; }
    index_t depth() const { return L_; }
    index_t samples() const { return N_; }
    index_t width(index_t h) const { return dims_[h]; }
    double slope() const { return slope_; }

    // Pattern entry of hidden layer h (1..L-1), sample j, unit u: whether the unit is on (P = 1).
    bool on(index_t h, index_t j, index_t u) const { return S_[h](j, u) > 0.0; }
    void set(index_t h, index_t j, index_t u, bool active) {
        S_[h](j, u) = active ? 1.0 : -1.0;
        P_[h](j, u) = active ? 1.0 : slope_;
    }
    // A sliding entry: its pattern value P = mu (the equivalent control, in [slope, 1]) and sign 0 (left out
    // of margin / crossed); value / set_value read and write P.
    void set_sliding(index_t h, index_t j, index_t u, double mu) {
        S_[h](j, u) = 0.0;
        P_[h](j, u) = mu;
    }
    double value(index_t h, index_t j, index_t u) const { return P_[h](j, u); }
    void set_value(index_t h, index_t j, index_t u, double v) { P_[h](j, u) = v; }
    // Put Z_h[j, u] back on 0 by moving the unit's incoming weights (and bias) along (A_{h-1}[j], 1), after
    // forward(p): the rounding and integration error that a sliding entry accumulates.
    void project(double* p, index_t h, index_t j, index_t u) const {
        const double* a = h == 1 ? X_.data() + j * dims_[0] : A_[h - 1].data() + j * dims_[h - 1];
        const index_t din = dims_[h - 1];
        double nrm = bias_ ? 1.0 : 0.0;
        for (index_t i = 0; i < din; ++i) nrm += a[i] * a[i];
        if (!(nrm > 0.0)) return;
        const double g = Z_[h](j, u) / nrm;
        double* w = p + w_off_[h - 1] + u * din;
        double w2 = bias_ ? p[b_off_[h - 1] + u] * p[b_off_[h - 1] + u] : 0.0;
        for (index_t i = 0; i < din; ++i) w2 += w[i] * w[i];
        // only a drift-sized correction: where the unit's input row is nearly 0, Z is too and the step
        // |Z| / |(a, 1)| would not be small
        if (!(std::abs(g) * std::sqrt(nrm) <= 1e-6 * std::sqrt(w2))) return;
        for (index_t i = 0; i < din; ++i) w[i] -= g * a[i];
        if (bias_) p[b_off_[h - 1] + u] -= g;
    }

    // The pattern of the state p (Z > 0: on; relu'(0) = 0 at an exact zero).
    void set_pattern(const double* p) {
        for (index_t h = 1; h < L_; ++h) {  // layer by layer: Z_h depends on the patterns before h only
            forward(p);
            for (index_t j = 0; j < N_; ++j)
                for (index_t u = 0; u < dims_[h]; ++u) set(h, j, u, Z_[h](j, u) > 0.0);
        }
    }

    // Forward pass with the pattern; returns offset + 1/2 ||R||^2 and leaves Z_h (pre-activations).
    double forward(const double* p) {
        load(p, Wp_);
        const Mat* in = &X_;
        for (index_t h = 1; h <= L_; ++h) {
            Z_[h].noalias() = (*in) * Wp_[h].transpose();
            if (bias_) Z_[h].rowwise() += B(p, h);
            if (h < L_) {
                A_[h] = Z_[h].cwiseProduct(P_[h]);
                in = &A_[h];
            }
        }
        D_[L_] = Z_[L_] - Y_;
        return offset_ + 0.5 * D_[L_].squaredNorm();
    }

    // dp = -dL/dp with the pattern; returns the loss.
    double field(const double* p, double* dp) {
        const double loss = forward(p);
        for (index_t h = L_; h >= 1; --h) {
            const Mat& in = h == 1 ? X_ : A_[h - 1];
            // into Eigen's own storage, then copied: a product written into an unaligned destination is
            // split into scalar and packet (FMA) parts by its address, which changes the last bits
            G_.noalias() = -(D_[h].transpose() * in);
            std::copy(G_.data(), G_.data() + G_.size(), dp + w_off_[h - 1]);
            if (bias_) {
                g_ = -D_[h].colwise().sum();
                std::copy(g_.data(), g_.data() + g_.size(), dp + b_off_[h - 1]);
            }
            if (h > 1) D_[h - 1] = (D_[h] * Wp_[h]).cwiseProduct(P_[h - 1]);
        }
        return loss;
    }

    double rhs(const double* p, double* dp) { return field(p, dp); }  // the System interface of flow.hpp

    // Rates dZ_h/dt of the hidden pre-activations at p along the direction v, with the pattern (after
    // forward(p): uses A_h); read with rate().
    void tangent(const double* p, const double* v) {
        load(p, Wp_);
        load(v, Wv_);
        for (index_t h = 1; h < L_; ++h) {
            dZ_[h].noalias() = (h == 1 ? X_ : A_[h - 1]) * Wv_[h].transpose();
            if (h > 1) dZ_[h].noalias() += dZ_[h - 1].cwiseProduct(P_[h - 1]) * Wp_[h].transpose();
            if (bias_) dZ_[h].rowwise() += B(v, h);
        }
    }
    double rate(index_t h, index_t j, index_t u) const { return dZ_[h](j, u); }
    // Pre-activation of the last forward pass.
    double z(index_t h, index_t j, index_t u) const { return Z_[h](j, u); }

    // The smallest signed pre-activation s Z_h[j, u] over the hidden layers after forward() (s = +1 where
    // the pattern is on, -1 where off): >= 0 inside the pattern's region; +inf without hidden layers.
    double margin() const {
        double mn = INFINITY;
        for (index_t h = 1; h < L_; ++h) mn = std::min(mn, Z_[h].cwiseProduct(S_[h]).minCoeff());
        return mn;
    }
    // The entries (h, j, u) with s Z_h[j, u] < 0 after forward(): the pattern entries that crossed.
    struct Entry {
        index_t h, j, u;
    };
    void crossed(std::vector<Entry>& out) const {
        out.clear();
        for (index_t h = 1; h < L_; ++h)
            for (index_t j = 0; j < N_; ++j)
                for (index_t u = 0; u < dims_[h]; ++u)
                    if (Z_[h](j, u) * S_[h](j, u) < 0.0) out.push_back({h, j, u});
    }

private:
    // The weights of p copied into Eigen's own (aligned) storage: the small products' reductions then do not
    // depend on where p happens to lie in memory (the same bits on every run).
    void load(const double* p, std::vector<Mat>& W) const {
        W.resize(static_cast<std::size_t>(L_ + 1));
        for (index_t h = 1; h <= L_; ++h) W[h] = MapC(p + w_off_[h - 1], dims_[h], dims_[h - 1]);
    }
    Eigen::Map<const Eigen::RowVectorXd> B(const double* p, index_t h) const {
        return Eigen::Map<const Eigen::RowVectorXd>(p + b_off_[h - 1], dims_[h]);
    }

    std::vector<index_t> dims_;
    index_t L_;
    bool bias_;
    double slope_;
    index_t N_;
    double offset_;
    Mat X_, Y_;
    std::vector<index_t> w_off_, b_off_;
    index_t size_ = 0;
    std::vector<Mat> Z_, A_, P_, S_, D_, dZ_, Wp_, Wv_;
    Mat G_;
    Eigen::RowVectorXd g_;  // S: the pattern's signs (+1 on, -1 off)
};

}  // namespace wideflow::deep
