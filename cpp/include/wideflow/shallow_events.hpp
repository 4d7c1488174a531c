// The exact gradient flow of the shallow univariate ReLU network, f(x) = (1/alpha) sum_i c_i relu(a_i x + b_i),
// L = 1/2 sum_j r_j^2, as a piecewise-linear system of neuron classes.
//
// Classes. With the samples ascending, a free neuron is active on a suffix (a_i >= 0) or a prefix of them: its
// bin q (shallow_bins.hpp). While the bins are frozen, every neuron of bin q moves by the same linear field
//
//   d/dt (a, b, c)_i = M_q (a, b, c)_i,   M_q = -(1/alpha) [[0, 0, s_in SX_q], [0, 0, s_in S_q],
//                                                          [s_out SX_q, s_out S_q, 0]],
//
// with S_q = sum_{j in q} r_j and SX_q = sum_{j in q} r_j x_j, so the bin's members share one propagator
// Phi_q(t) (3 x 3, dPhi/dt = M_q Phi, Phi(t0) = I) and f only needs each bin's Gram matrix
// G_q = sum_{i in q} w_i w_i^T (w = (a, b, c)): f(x_j) = (1/alpha) sum_{q active at j} (x_j (Phi G Phi^T)_ca
// + (Phi G Phi^T)_cb). The flow of all m neurons over a step is the flow of the 2 (n + 1) propagators, an
// ODE whose size does not depend on m (shallow_event_flow.hpp integrates it); the neurons are moved once per
// step (w <- Phi(t1) w), and the Grams refreshed, in one O(m) pass.
//
// Events. Neuron i switches bins where z_ij = a_i x_j + b_i changes sign at one of the two samples next to
// its knot. Switching sample group g (equal x form one group) changes only (da_i, db_i), by
// Delta_i = -(s_in c_i R_g / alpha)(x_g, 1), R_g = sum_{j in g} r_j, so f and r are continuous there.
//
// Sliding (Filippov). At z_ig = 0 let dz-_i (g inactive) and dz+_i = dz-_i + Delta dz_i, Delta dz_i =
// -(s_in c_i R_g / alpha)(x_g^2 + 1), be the one-sided rates. When dz-_i > 0 > dz+_i both sides push z_ig to 0
// and the neuron slides: its knot stays on x_g (b_i = -a_i x_g) and (a_i, b_i) moves with g- + lambda Delta_i,
// the projection of g- onto the line a x_g + b = 0. Then, with p = x_g SX_- + S_- and q = SX_- - x_g S_- over
// the bin without g,
//
//   lambda = -p / (R_g (x_g^2 + 1)),   d/dt (a, c)_i = -(q / alpha) [[0, s_in / (1 + x_g^2)], [s_out, 0]] (a, c)_i,
//
// so lambda and the field are the same for every neuron sliding on g from the same side: a sliding class
// (g, side) with a 2 x 2 propagator, whose members with c of one sign leave together when lambda leaves
// (-eta, 1 + eta) (eta = kLambdaSlack; lambda -> 1: with g active, -> 0: inactive). Along free and sliding
// motion delta_i = c_i^2 - a_i^2 - b_i^2 is conserved when everything trains: M_q J + J M_q^T = 0 for
// J = diag(-1, -1, 1), and a Delta_a + b Delta_b ∝ z_ig = 0.
//
// At a kink reached from one side the neuron crosses when the other side's rate points away, and slides
// otherwise. A knot placed on a sample at t = 0 whose two rates both point away (a repelling kink: the flow
// is not unique) takes the kernels' convention relu'(0) = 0: g inactive, as gradient descent does.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "wideflow/shallow_layout.hpp"
#include "wideflow/shallow_sorted.hpp"

namespace wideflow::shallow {

// Slack eta of the sliding test: lambda in (-eta, 1 + eta). A knot settling at the edge of sliding
// (lambda -> 0 or 1, grazing) would otherwise be sent in and out by rounding; a real exit is found
// eta / |d lambda / dt| later, which moves the state by O((eta / |d lambda / dt|)^2). The integrator adds a
// floor tied to its tolerance (set_rate_floor): normal rates it cannot resolve within a step.
constexpr double kLambdaSlack = 1e-7;

// A neuron reaching sample group [lo, hi): bin_with / bin_without are its bins with the group active /
// inactive; sign = +1 when the group is active in the frozen bin.
struct Crossing {
    index_t i = 0, lo = 0, hi = 0;
    bin_t bin_with = 0, bin_without = 0;
    int sign = 1;
    double theta = 1.0;
};

// Number of values of a class's propagator in the ODE state: 9 (free bins), 4 (sliding classes).
constexpr index_t kFree = 9, kSlide = 4;

class EventSystem {
public:
    // x ascending (length n); scale_inner / scale_outer (0 or 1) select what trains.
    EventSystem(index_t m, double inv_alpha, const double* x, const double* y, index_t n, double scale_inner,
                double scale_outer)
        : m_(m),
          n_(n),
          nb_(2 * (n + 1)),
          ns_(2 * n),
          inv_alpha_(inv_alpha),
          x_(x),
          y_(y),
          si_(scale_inner),
          so_(scale_outer),
          w_(static_cast<std::size_t>(3 * m)),
          cls_(static_cast<std::size_t>(m)),
          sig_(static_cast<std::size_t>(m), 1),
          G_(static_cast<std::size_t>(6 * (nb_ + ns_))),
          cnt_(static_cast<std::size_t>(nb_ + ns_)),
          cnt_sig_(static_cast<std::size_t>(2 * ns_)),
          glo_(static_cast<std::size_t>(n)),
          ghi_(static_cast<std::size_t>(n)),
          pred_(static_cast<std::size_t>(n)),
          r_(static_cast<std::size_t>(n)),
          S_(static_cast<std::size_t>(nb_)),
          SX_(static_cast<std::size_t>(nb_)),
          PA_(static_cast<std::size_t>(nb_)),
          QB_(static_cast<std::size_t>(nb_)) {
        for (index_t j = 0; j < n; ++j) glo_[j] = (j > 0 && x[j] == x[j - 1]) ? glo_[j - 1] : j;
        for (index_t j = n - 1; j >= 0; --j) ghi_[j] = (j + 1 < n && x[j] == x[j + 1]) ? ghi_[j + 1] : j + 1;
        for (index_t q = 0; q < nb_; ++q) {  // the two samples that decide bin q, and the sign each must have
            const bool up = q <= n;
            const index_t c = up ? q : q - (n + 1);
            if (c == 0 || c == n) {
                s1_.push_back(n - 1), s2_.push_back(0);
                g1_.push_back(c == 0 ? -1.0 : 1.0), g2_.push_back(c == 0 ? -1.0 : 1.0);
            } else {
                s1_.push_back(up ? n - c : c - 1), s2_.push_back(up ? n - c - 1 : c);
                g1_.push_back(1.0), g2_.push_back(-1.0);
            }
        }
        layout_ = ClassLayout(n, ghi_);
        perm_.resize(static_cast<std::size_t>(m));
        std::iota(perm_.begin(), perm_.end(), index_t(0));
        pos_ = perm_;
    }

    // The class ODE: its size, and where class k's propagator starts.
    index_t size() const { return kFree * nb_ + kSlide * ns_; }
    index_t free_bins() const { return nb_; }
    index_t slide_classes() const { return ns_; }
    index_t offset(index_t k) const { return k < nb_ ? kFree * k : kFree * nb_ + kSlide * (k - nb_); }
    index_t width() const { return m_; }
    index_t samples() const { return n_; }
    double x(index_t j) const { return x_[j]; }
    const double* xs() const { return x_; }
    double inv_alpha() const { return inv_alpha_; }
    double scale_inner() const { return si_; }
    double scale_outer() const { return so_; }
    index_t members(index_t k) const { return cnt_[k]; }
    index_t members(index_t s, int sign) const { return cnt_sig_[2 * s + (sign > 0)]; }

    // Neuron storage: w = [a; b; c] (doubles), class (bin q < nb, or nb + s sliding), sign of c (sliders).
    double* state() { return w_.data(); }
    const double* state() const { return w_.data(); }
    std::int32_t cls(index_t i) const { return cls_[i]; }
    const std::int32_t* classes() const { return cls_.data(); }
    std::int32_t* classes_mut() { return cls_.data(); }
    std::int32_t& cls(index_t i) { return cls_[i]; }
    std::int8_t& sign(index_t i) { return sig_[i]; }
    std::int8_t sign(index_t i) const { return sig_[i]; }

    // Class-sorted storage (shallow_layout.hpp): position i holds neuron id(i) of the caller's order; class
    // k's members are the positions [range_begin(k), range_end(k)) once sort_layout() ran, and stay so as
    // long as every class change is followed by relocate().
    index_t id(index_t i) const { return perm_[i]; }
    index_t range_begin(index_t k) const { return layout_.begin(k); }
    index_t range_end(index_t k) const { return layout_.end(k); }
    // Sort the positions by class (stable), e.g. after the classes were set at t = 0.
    void sort_layout() {
        const std::vector<index_t> perm = layout_.sort_permutation(cls_.data(), m_);
        std::vector<double> w(w_.size());
        std::vector<std::int32_t> cl(cls_.size());
        std::vector<std::int8_t> sg(sig_.size());
        std::vector<index_t> ids(perm_.size());
        std::vector<index_t> counts(static_cast<std::size_t>(nb_ + ns_), 0);
        for (index_t p = 0; p < m_; ++p) {
            const index_t o = perm[p];
            for (int l = 0; l < 3; ++l) w[l * m_ + p] = w_[l * m_ + o];
            cl[p] = cls_[o], sg[p] = sig_[o], ids[p] = perm_[o];
            pos_[ids[p]] = p;
            ++counts[cl[p]];
        }
        w_.swap(w), cls_.swap(cl), sig_.swap(sg), perm_.swap(ids);
        layout_.set_counts(counts);
    }
    // Neuron id j (its position changed by earlier swaps) into the range of its class; its new position.
    index_t relocate_id(index_t j) {
        return layout_.relocate(pos_[j], cls_[pos_[j]], [&](index_t p, index_t q) {
            for (int l = 0; l < 3; ++l) std::swap(w_[l * m_ + p], w_[l * m_ + q]);
            std::swap(cls_[p], cls_[q]), std::swap(sig_[p], sig_[q]);
            std::swap(perm_[p], perm_[q]);
            pos_[perm_[p]] = p, pos_[perm_[q]] = q;
        });
    }

    // Sliding class s = 2 g + side: g the first sample of its group, side 0 when the neuron is suffix-type
    // (a > 0: active right of x_g), 1 when prefix-type. Its bin without / with g.
    index_t slide_group(index_t s) const { return s / 2; }
    bin_t slide_without(index_t s) const {
        const index_t g = s / 2;
        return s % 2 == 0 ? bin_t(n_ - ghi_[g]) : bin_t(n_ + 1 + glo_[g]);
    }
    bin_t slide_with(index_t s) const {
        const index_t g = s / 2;
        return s % 2 == 0 ? bin_t(n_ - glo_[g]) : bin_t(n_ + 1 + ghi_[g]);
    }
    index_t slide_class(const Crossing& e) const { return 2 * e.lo + (e.bin_without <= n_ ? 0 : 1); }

    // Bins from the state (z > 0 active, nothing slides) and the neurons whose knot sits exactly on a
    // sample (z = 0 at the first inactive sample next to the active set, a != 0): the crossings to settle at
    // t = 0. Grams refreshed.
    void reset_modes(std::vector<Crossing>& on_data) {
        const double* a = w_.data();
        const double* b = a + m_;
        std::vector<bin_t> bins(static_cast<std::size_t>(m_));
        for (index_t k = 0; k < m_; k += kBlock)
            active_bins(a + k, b + k, std::min(kBlock, m_ - k), x_, n_, bins.data() + k);
        on_data.clear();
        for (index_t i = 0; i < m_; ++i) {
            cls_[i] = bins[i];
            sig_[i] = 1;
            if (a[i] == 0.0) continue;
            const bool up = a[i] > 0.0;
            const index_t cnt = bins[i] <= n_ ? bins[i] : bins[i] - (n_ + 1);
            if (cnt == n_) continue;
            const index_t off = up ? n_ - cnt - 1 : cnt;
            if (a[i] * x_[off] + b[i] == 0.0) on_data.push_back(crossing(i, off, up, -1));
        }
        grams();
    }

    // Class Grams and member counts from the neurons' states (fixed neuron order).
    void grams() {
        begin_grams();
        for (index_t i = 0; i < m_; ++i) add_gram4(i, cls_[i]);
        end_grams();
    }
    // Grams in four interleaved tables (neuron i into table i % 4: no add chains within one class), summed in
    // order at the end: begin_grams, add_gram4 for every neuron (its class k, its state), end_grams.
    void begin_grams() {
        G4_.assign(static_cast<std::size_t>(24 * (nb_ + ns_)), 0.0);
        std::fill(cnt_.begin(), cnt_.end(), 0);
        std::fill(cnt_sig_.begin(), cnt_sig_.end(), 0);
    }
    void add_gram4(index_t i, index_t k) {
        const double a = w_[i], b = w_[m_ + i], c = w_[2 * m_ + i];
        double* G = G4_.data() + 6 * (4 * k + (i & 3));
        G[0] += a * a, G[1] += a * b, G[2] += a * c;
        G[3] += b * b, G[4] += b * c, G[5] += c * c;
        ++cnt_[k];
        if (k >= nb_) ++cnt_sig_[2 * (k - nb_) + (sig_[i] > 0)];
    }
    void end_grams() {
        for (index_t k = 0; k < nb_ + ns_; ++k)
            for (int l = 0; l < 6; ++l) {
                const double* G = G4_.data() + 24 * k + l;
                G_[6 * k + l] = (G[0] + G[6]) + (G[12] + G[18]);
            }
    }
    // G_k <- T G_k T^T (T a 3 x 3 on (a, b, c), row-major): the Gram of class k after its members moved by T.
    void transform_gram(index_t k, const double* T) {
        double* G = G_.data() + 6 * k;
        const double S[9] = {G[0], G[1], G[2], G[1], G[3], G[4], G[2], G[4], G[5]};
        double U[9];  // T S
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c)
                U[3 * r + c] = T[3 * r] * S[c] + T[3 * r + 1] * S[3 + c] + T[3 * r + 2] * S[6 + c];
        auto v = [&](int r, int c) {
            return U[3 * r] * T[3 * c] + U[3 * r + 1] * T[3 * c + 1] + U[3 * r + 2] * T[3 * c + 2];
        };
        G[0] = v(0, 0), G[1] = v(0, 1), G[2] = v(0, 2), G[3] = v(1, 1), G[4] = v(1, 2), G[5] = v(2, 2);
    }
    // Neuron i (its current state and sign) leaves (s = -1) or joins (s = +1) class k's Gram and counts.
    void move_member(index_t i, index_t k, double s) {
        const double a = w_[i], b = w_[m_ + i], c = w_[2 * m_ + i];
        double* G = G_.data() + 6 * k;
        G[0] += s * a * a, G[1] += s * a * b, G[2] += s * a * c;
        G[3] += s * b * b, G[4] += s * b * c, G[5] += s * c * c;
        cnt_[k] += s > 0 ? 1 : -1;
        if (k >= nb_) cnt_sig_[2 * (k - nb_) + (sig_[i] > 0)] += s > 0 ? 1 : -1;
    }

    // The class field dP = F(P) at propagators P (the Grams of the step start); returns L. Leaves the
    // residuals and the bins' active sums of P for exit_value / settle / jump.
    double rhs(const double* P, double* dP) {
        const double loss = residuals_at(P);
        fields(S_.data(), SX_.data(), P, dP);
        return loss;
    }

    // L at propagators P (the Grams of the step start); leaves residuals and active sums.
    double residuals_at(const double* P) {
        for (index_t q = 0; q < nb_; ++q) {
            if (cnt_[q] == 0) {
                PA_[q] = QB_[q] = 0.0;
                continue;
            }
            const double* F = P + kFree * q;
            const double* G = G_.data() + 6 * q;
            // u = G phi_c; (Phi G Phi^T)_ca = phi_a . u, _cb = phi_b . u
            const double u0 = G[0] * F[6] + G[1] * F[7] + G[2] * F[8];
            const double u1 = G[1] * F[6] + G[3] * F[7] + G[4] * F[8];
            const double u2 = G[2] * F[6] + G[4] * F[7] + G[5] * F[8];
            PA_[q] = F[0] * u0 + F[1] * u1 + F[2] * u2;
            QB_[q] = F[3] * u0 + F[4] * u1 + F[5] * u2;
        }
        for (index_t s = 0; s < ns_; ++s) {
            if (cnt_[nb_ + s] == 0) continue;
            const double* F = P + kFree * nb_ + kSlide * s;
            const double* G = G_.data() + 6 * (nb_ + s);  // (a, c) Gram: G[0] aa, G[2] ac, G[5] cc
            const double u0 = G[0] * F[2] + G[2] * F[3];
            const double u1 = G[2] * F[2] + G[5] * F[3];
            const double pa = F[0] * u0 + F[1] * u1;
            const bin_t qm = slide_without(s);
            PA_[qm] += pa;
            QB_[qm] -= x_[s / 2] * pa;
        }
        // f(x_j): suffix bins cnt >= n - j, prefix bins cnt > j
        double sa = 0.0, sb = 0.0;
        for (index_t j = n_ - 1; j >= 0; --j) {
            sa += PA_[(n_ + 1) + j + 1];
            sb += QB_[(n_ + 1) + j + 1];
            pred_[j] = sa * x_[j] + sb;
        }
        sa = sb = 0.0;
        for (index_t j = 0; j < n_; ++j) {
            sa += PA_[n_ - j];
            sb += QB_[n_ - j];
            pred_[j] = (pred_[j] + sa * x_[j] + sb) * inv_alpha_;
        }
        const double loss = residuals(pred_.data(), y_, n_, r_.data());
        active_sums(r_.data(), x_, n_, S_.data(), SX_.data());
        return loss;
    }

    // The predictions over a step as polynomials in theta: with the propagators Phi(theta) = sum_d C_d theta^d
    // (d = 0..D, C[d] a full state vector of coefficients), (Phi G Phi^T)_ca and _cb are polynomials of degree
    // 2 D; out[j * (2 D + 1) + e] receives the coefficient of theta^e of f(x_j) (times alpha).
    void prediction_poly(const double* const* C, int D, double* out) {
        const int E = 2 * D + 1;
        std::vector<double>& pa = ppa_;
        std::vector<double>& qb = pqb_;
        pa.assign(static_cast<std::size_t>(nb_ * E), 0.0), qb.assign(static_cast<std::size_t>(nb_ * E), 0.0);
        double u[8][3];
        for (index_t k = 0; k < nb_ + ns_; ++k) {
            if (cnt_[k] == 0) continue;
            const double* G = G_.data() + 6 * k;
            const index_t off = offset(k);
            if (k < nb_) {
                for (int e = 0; e <= D; ++e) {  // u_e = G (row c of C_e)
                    const double* F = C[e] + off;
                    u[e][0] = G[0] * F[6] + G[1] * F[7] + G[2] * F[8];
                    u[e][1] = G[1] * F[6] + G[3] * F[7] + G[4] * F[8];
                    u[e][2] = G[2] * F[6] + G[4] * F[7] + G[5] * F[8];
                }
                for (int d = 0; d <= D; ++d) {
                    const double* F = C[d] + off;
                    for (int e = 0; e <= D; ++e) {
                        pa[k * E + d + e] += F[0] * u[e][0] + F[1] * u[e][1] + F[2] * u[e][2];
                        qb[k * E + d + e] += F[3] * u[e][0] + F[4] * u[e][1] + F[5] * u[e][2];
                    }
                }
            } else {
                const index_t s = k - nb_;
                const bin_t qm = slide_without(s);
                const double xg = x_[s / 2];
                for (int e = 0; e <= D; ++e) {
                    const double* F = C[e] + off;
                    u[e][0] = G[0] * F[2] + G[2] * F[3];
                    u[e][1] = G[2] * F[2] + G[5] * F[3];
                }
                for (int d = 0; d <= D; ++d) {
                    const double* F = C[d] + off;
                    for (int e = 0; e <= D; ++e) {
                        const double v = F[0] * u[e][0] + F[1] * u[e][1];
                        pa[qm * E + d + e] += v;
                        qb[qm * E + d + e] -= xg * v;
                    }
                }
            }
        }
        double sa[32], sb[32];
        std::fill(out, out + n_ * E, 0.0);
        std::fill(sa, sa + E, 0.0), std::fill(sb, sb + E, 0.0);
        for (index_t j = n_ - 1; j >= 0; --j)
            for (int e = 0; e < E; ++e) {
                sa[e] += pa[((n_ + 1) + j + 1) * E + e];
                sb[e] += qb[((n_ + 1) + j + 1) * E + e];
                out[j * E + e] = sa[e] * x_[j] + sb[e];
            }
        std::fill(sa, sa + E, 0.0), std::fill(sb, sb + E, 0.0);
        for (index_t j = 0; j < n_; ++j)
            for (int e = 0; e < E; ++e) {
                sa[e] += pa[(n_ - j) * E + e];
                sb[e] += qb[(n_ - j) * E + e];
                out[j * E + e] += sa[e] * x_[j] + sb[e];
            }
    }

    // Residuals and active sums at theta from prediction_poly's coefficients.
    void residuals_from_poly(const double* poly, int D, double theta) {
        const int E = 2 * D + 1;
        for (index_t j = 0; j < n_; ++j) {
            double acc = 0.0;
            for (int e = E - 1; e >= 0; --e) acc = acc * theta + poly[j * E + e];
            r_[j] = acc * inv_alpha_ - y_[j];
        }
        active_sums(r_.data(), x_, n_, S_.data(), SX_.data());
    }

    // Exit function of the members of sliding class s with c of sign sg after the last rhs (per unit |c|):
    // > 0 while lambda in (-eta, 1 + eta) with Delta dz < 0; and lambda.
    double exit_value(index_t s, int sg) const {
        double dn, dd;
        rates(s, sg, dn, dd);
        const double slack = kLambdaSlack * std::abs(dd) + rate_floor_;
        return std::min(dn + slack, -(dn + dd) + slack);
    }
    double lambda(index_t s) const {
        double dn, dd;
        rates(s, 1, dn, dd);
        return dd != 0.0 ? -dn / dd : NAN;
    }

    // Rates of z (per unit |c|) below which a kink is not resolved within the step: the slack of the sliding
    // tests above grows by this much (set per step by the integrator, 0 before).
    void set_rate_floor(double f) { rate_floor_ = f; }
    // (atol + rtol W) / (h C) for a step of length h, W and C the RMS of |w| and of |c| over the neurons
    // (from the Grams): a sliding neuron whose normal rate stays below it moves off its sample by less than
    // the error control resolves within the step.
    double rate_floor(double h, double rtol, double atol) const {
        double w2 = 0.0, c2 = 0.0;
        for (index_t k = 0; k < nb_ + ns_; ++k) {
            const double* G = G_.data() + 6 * k;
            w2 += G[0] + G[3] + G[5];
            c2 += G[5];
        }
        const double W = std::sqrt(w2 / double(std::max<index_t>(3 * m_, 1)));
        const double C = std::sqrt(c2 / double(std::max<index_t>(m_, 1)));
        return C > 0.0 && h > 0.0 ? (atol + rtol * W) / (h * C) : 0.0;
    }

    // Settle neuron i (state w = (a, b, c) placed on its group, z = 0) reaching crossing e, from the residuals
    // of the last rhs: the class it continues in (a bin, or nb + sliding class).
    index_t settle(const Crossing& e, double c) const {
        const double xg = x_[e.lo];
        const double ia = inv_alpha_;
        const double dzm = -si_ * c * ia * (xg * SX_[e.bin_without] + S_[e.bin_without]);
        const double dd = -si_ * c * ia * group_r(e.lo) * (xg * xg + 1.0);
        const double dzp = dzm + dd, slack = kLambdaSlack * std::abs(dd) + rate_floor_ * std::abs(c);
        if (dd < 0.0 && dzm > -slack && dzp < slack) return nb_ + slide_class(e);
        if (dzm > 0.0 || (e.sign > 0 && dzp > 0.0)) return e.bin_with;
        return e.bin_without;  // leaves into the inactive side (or a repelling kink: relu'(0) = 0)
    }

    // Boundary test of bin q: neuron state w is outside its bin when rho1 . w < 0 (bit 1) or rho2 . w < 0
    // (bit 2) with rho = g (x_s, 1) (the sign each sample must have).
    index_t s1(index_t q) const { return s1_[q]; }
    index_t s2(index_t q) const { return s2_[q]; }
    double g1(index_t q) const { return g1_[q]; }
    double g2(index_t q) const { return g2_[q]; }

    // The crossing of neuron i's bin-q boundary: bit 1 or 2 of the boundary test.
    Crossing boundary_crossing(index_t i, bin_t q, int bit) const {
        const bool up = q <= n_;
        const index_t cnt = up ? q : q - (n_ + 1);
        if (cnt == 0 || cnt == n_) {     // none: x_{n-1} turning on starts a suffix, x_0 a prefix; all: x_0 off
            const bool none = cnt == 0;  // leaves a suffix, x_{n-1} a prefix
            return bit == 1 ? crossing(i, n_ - 1, none, none ? -1 : 1) : crossing(i, 0, !none, none ? -1 : 1);
        }
        return bit == 1 ? crossing(i, s1_[q], up, 1) : crossing(i, s2_[q], up, -1);
    }

    // Residual change -> the change of every class's field, M(dr) P: for the coupling of events handled
    // inside a step (the class fields are linear in r).
    void field_of_residuals(const double* dr, const double* P, double* dP) {
        dS_.resize(static_cast<std::size_t>(nb_)), dSX_.resize(static_cast<std::size_t>(nb_));
        active_sums(dr, x_, n_, dS_.data(), dSX_.data());
        fields(dS_.data(), dSX_.data(), P, dP);
    }

    // The RMS over all 3m neuron values of (dPhi w_i) / (atol + rtol |w|), from the classes' Grams: for class
    // k, sum_i (dPhi w_i)_x^2 = (dPhi G dPhi^T)_xx, and the scale of value x is atol + rtol times the class's
    // RMS |w_x| at the step's start or end (P1: the propagators at the end). dP holds the dPhi of all classes.
    double norm(const double* dP, const double* P1, double rtol, double atol) const {
        double tot = 0.0;
        for (index_t k = 0; k < nb_ + ns_; ++k) {
            if (cnt_[k] == 0) continue;
            const double* G = G_.data() + 6 * k;
            const double* E = dP + offset(k);
            const double* F = P1 + offset(k);
            const double inv = 1.0 / double(cnt_[k]);
            if (k < nb_) {
                for (int x = 0; x < 3; ++x) {
                    const double e = quad(G, E + 3 * x, E + 3 * x), g1 = quad(G, F + 3 * x, F + 3 * x);
                    const double sc = atol + rtol * std::sqrt(std::max(G[diag3(x)], g1) * inv);
                    tot += e / (sc * sc);
                }
            } else {
                const double xg = x_[(k - nb_) / 2];
                for (int x = 0; x < 2; ++x) {
                    const double e = quad2(G, E + 2 * x, E + 2 * x), g1 = quad2(G, F + 2 * x, F + 2 * x);
                    const double g0 = x == 0 ? G[0] : G[5];
                    const double sc = atol + rtol * std::sqrt(std::max(g0, g1) * inv);
                    tot += e / (sc * sc);
                    if (x == 0) {  // b = -x_g a
                        const double scb = atol + rtol * std::abs(xg) * std::sqrt(std::max(g0, g1) * inv);
                        tot += xg * xg * e / (scb * scb);
                    }
                }
            }
        }
        return std::sqrt(tot / double(std::max<index_t>(3 * m_, 1)));
    }

    // RMS |w| / (atol + rtol |w|) over the neurons (Hairer's d0), for the starting step.
    double state_norm(double rtol, double atol) const {
        double tot = 0.0;
        for (index_t i = 0; i < 3 * m_; ++i) {
            const double v = std::abs(w_[i]), s = v / (atol + rtol * v);
            tot += s * s;
        }
        return std::sqrt(tot / double(std::max<index_t>(3 * m_, 1)));
    }

    // The largest rate of the class fields after the last rhs / residuals_at: max over classes of
    // |M_q| ~ (1/alpha) max(s_in, s_out) (|S_q| + |SX_q|) (sliding: |q| (1 + 1/(1 + x_g^2)) / alpha).
    double field_scale() const {
        double mx = 0.0;
        for (index_t q = 0; q < nb_; ++q) mx = std::max(mx, std::abs(S_[q]) + std::abs(SX_[q]));
        for (index_t s = 0; s < ns_; ++s) {
            const double xg = x_[s / 2];
            const bin_t qm = slide_without(s);
            mx = std::max(mx, std::abs(SX_[qm] - xg * S_[qm]) * (1.0 + 1.0 / (1.0 + xg * xg)));
        }
        return mx * inv_alpha_ * std::max(si_, so_);
    }

    // Residuals and active sums of the last rhs / residuals_at.
    double active_sum(index_t q) const { return S_[q]; }
    double active_sum_x(index_t q) const { return SX_[q]; }
    double group_r(index_t g) const {
        double R = 0.0;
        for (index_t j = g; j < ghi_[g]; ++j) R += r_[j];
        return R;
    }

private:
    // dP = M(S, SX) P for every class (S, SX: the bins' active sums of the residuals).
    void fields(const double* S, const double* SX, const double* P, double* dP) const {
        const double ia = inv_alpha_;
        for (index_t q = 0; q < nb_; ++q) {
            const double* F = P + kFree * q;
            double* D = dP + kFree * q;
            const double ga = -si_ * ia * SX[q], gb = -si_ * ia * S[q], gc1 = -so_ * ia * SX[q], gc2 = -so_ * ia * S[q];
            for (int l = 0; l < 3; ++l) {
                D[l] = ga * F[6 + l];
                D[3 + l] = gb * F[6 + l];
                D[6 + l] = gc1 * F[l] + gc2 * F[3 + l];
            }
        }
        for (index_t s = 0; s < ns_; ++s) {
            const double* F = P + kFree * nb_ + kSlide * s;
            double* D = dP + kFree * nb_ + kSlide * s;
            const double xg = x_[s / 2];
            const bin_t qm = slide_without(s);
            const double qv = SX[qm] - xg * S[qm];
            const double ga = -si_ * ia * qv / (1.0 + xg * xg), gc = -so_ * ia * qv;
            D[0] = ga * F[2], D[1] = ga * F[3];
            D[2] = gc * F[0], D[3] = gc * F[1];
        }
    }

    static int diag3(int x) { return x == 0 ? 0 : (x == 1 ? 3 : 5); }
    // v^T G v for the symmetric 3 x 3 G = [0 1 2; 1 3 4; 2 4 5] and 2 x 2 (a, c) G = [0 2; 2 5]
    static double quad(const double* G, const double* u, const double* v) {
        return u[0] * (G[0] * v[0] + G[1] * v[1] + G[2] * v[2]) + u[1] * (G[1] * v[0] + G[3] * v[1] + G[4] * v[2]) +
               u[2] * (G[2] * v[0] + G[4] * v[1] + G[5] * v[2]);
    }
    static double quad2(const double* G, const double* u, const double* v) {
        return u[0] * (G[0] * v[0] + G[2] * v[1]) + u[1] * (G[2] * v[0] + G[5] * v[1]);
    }

    // One-sided normal rates per unit |c| of sliding class s for members with c of sign sg.
    void rates(index_t s, int sg, double& dn, double& dd) const {
        const index_t g = s / 2;
        const double xg = x_[g];
        const bin_t qm = slide_without(s);
        const double p = xg * SX_[qm] + S_[qm];
        dn = -double(sg) * si_ * inv_alpha_ * p;
        dd = -double(sg) * si_ * inv_alpha_ * group_r(g) * (xg * xg + 1.0);
    }

    // The crossing of neuron i at sample j: suffix-type (the group joins the active suffix) or prefix-type;
    // sign = +1 if the group is active in the frozen bin.
    Crossing crossing(index_t i, index_t j, bool suffix, int sign) const {
        Crossing e;
        e.i = i;
        e.lo = glo_[j];
        e.hi = ghi_[j];
        e.sign = sign;
        if (suffix) {
            e.bin_with = bin_t(n_ - e.lo);
            e.bin_without = bin_t(n_ - e.hi);
        } else {
            e.bin_with = bin_t(n_ + 1 + e.hi);
            e.bin_without = bin_t(n_ + 1 + e.lo);
        }
        return e;
    }

    index_t m_, n_, nb_, ns_;
    double inv_alpha_;
    const double* x_;
    const double* y_;
    double si_, so_;
    std::vector<double> w_;
    std::vector<std::int32_t> cls_;
    std::vector<std::int8_t> sig_;
    std::vector<double> G_;
    std::vector<index_t> cnt_, cnt_sig_;
    std::vector<index_t> glo_, ghi_, s1_, s2_;
    std::vector<double> g1_, g2_;
    std::vector<double> pred_, r_, S_, SX_, PA_, QB_, dS_, dSX_, ppa_, pqb_, G4_;
    double rate_floor_ = 0.0;
    ClassLayout layout_;
    std::vector<index_t> perm_, pos_;  // position -> neuron id, id -> position
};

}  // namespace wideflow::shallow
