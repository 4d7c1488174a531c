// Event-aware adaptive Runge-Kutta integration of the exact shallow ReLU flow (the class system of
// shallow_events.hpp). A step integrates the classes' propagators (an ODE of 26 n + 18 values, whatever m)
// from the identity with the memberships frozen; after an accepted step
//
//  1. crossings: one O(m) pass tests every free neuron's two boundary samples at the step's end (two dot
//     products with its bin's vectors, over the bins' contiguous ranges of the class-sorted storage,
//     shallow_layout.hpp); for a flagged neuron the first wrong sign is found on the step's
//     continuous extension (z(theta) is a polynomial in theta: bracketed on 16 points, then bisected);
//  2. sliding exits: a sliding class whose exit function turned <= 0 at the step's end is located by the
//     Illinois method on the continuous extension (each trial one evaluation of the class field);
//  3. events inside the step: each crossing neuron is followed exactly from its event to the step's end
//     (placed on its sample, settled into the bin or sliding class its one-sided rates choose, moved by that
//     class's propagator Phi(1) Phi(theta)^-1, and tested again; the residuals at an event come from the
//     step's predictions, polynomials in theta). The other classes' stages saw the neuron in its old bin;
//     that changes r by Delta f (known: the neuron's true and frozen contributions, grown from 0 at its
//     event), and so every class's propagator by about (h / 2) M(sum Delta f), whose error norm is computed
//     from the Grams (the coupling). When it is within kCouplingShare of the tolerance the events stay inside
//     the step. Otherwise the step is cut at the event that ends the longest run of events whose coupling,
//     scaled to the shorter span, stays within half of that (at the first event if none; always before a
//     sliding exit): those before it are followed to the cut, the neurons of the cut are placed and settled
//     there, and the next trial step is at most max(0.2, 1.5 theta*) h after a run of events, max(1, 5 theta*) h
//     after a single one;
//  4. every neuron is moved to the step's end (or the cut) by its class's propagator (range by range), and the
//     neurons that changed class are swapped into their new class's range; the Grams move with
//     their classes (G <- T G T^T, updated for the neurons that changed class; recomputed from the neurons
//     after a sliding exit and every kExactGrams steps).
//
// Records: the losses at requested times come from the continuous extension of the step that covers them
// (with that step's memberships), so no step ends at a record time.
//
// Zeno protection: when zeno_events consecutive cut steps happen within zeno_window * max(1, |t|) of flow
// time, the run ends with failure "zeno" (EventFlowState::zeno). Every call is bounded as
// flow::Integrator's (steps, rejections, wall time).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "wideflow/flow.hpp"
#include "wideflow/shallow_events.hpp"

namespace wideflow::shallow {

struct EventFlowState {
    double t = 0.0, h = 0.0, loss = NAN;
    bool have_rhs = false, started = false, zeno = false;
    long long accepted = 0, rejected = 0, evals = 0;
    long long events = 0, crossings = 0, entries = 0, exits = 0, cut_steps = 0, inside = 0;
    std::string failure;
    flow::ZenoRing ring;  // the times of the last zeno_events cut steps
};

using flow::RecordCursor;
using EventOptions = flow::ZenoOptions;

// Events whose coupling error (item 3 above) is at most this share of the tolerance stay inside the step.
constexpr double kCouplingShare = 1.0;
// A coupling above this many tolerances is not corrected inside the step (the step is cut).
constexpr double kMaxCorrection = 1e3;
// At most this many switches of one neuron inside one step (then the step is cut at its first event).
constexpr int kMaxSwitches = 8;
// The classes' Grams are recomputed from the neurons every this many steps (else moved with the classes).
constexpr long long kExactGrams = 64;

class EventIntegrator {
public:
    EventIntegrator(EventSystem& sys, const flow::Tableau& tab) : sys_(sys), tab_(tab), N_(sys.size()), S_(tab.stages) {
        k_.assign(static_cast<std::size_t>(S_), std::vector<double>(static_cast<std::size_t>(N_)));
        P0_.assign(static_cast<std::size_t>(N_), 0.0);
        for (index_t q = 0; q < sys.free_bins(); ++q)
            for (int l = 0; l < 3; ++l) P0_[kFree * q + 4 * l] = 1.0;
        for (index_t s = 0; s < sys.slide_classes(); ++s) {
            P0_[sys.offset(sys.free_bins() + s)] = 1.0;
            P0_[sys.offset(sys.free_bins() + s) + 3] = 1.0;
        }
        Pt_ = P1_ = Pd_ = Pe_ = dP_ = P0_;
        f0_.assign(static_cast<std::size_t>(2 * sys.slide_classes()), 1.0);
        f1_ = f0_;
    }

    flow::FlowResult integrate(EventFlowState& st, double t_stop, double rtol, double atol, index_t max_steps,
                               RecordCursor& rec, const EventOptions& opt,
                               const flow::CallBudget& budget = flow::CallBudget()) {
        flow::FlowResult res;
        const flow::CallClock clock(budget.max_seconds);
        auto fail = [&](const std::string& why) {
            st.failure = why;
            res.failed = true;
            return res;
        };
        if (!st.started) {  // the kernels' bins; knots exactly on samples are settled at t = 0
            sys_.reset_modes(es_);
            if (!es_.empty()) {
                sys_.rhs(P0_.data(), k_[0].data());
                ++st.evals;
                double* w = sys_.state();
                const index_t m = sys_.width();
                for (const Crossing& e : es_) {
                    w[m + e.i] = -(w[e.i] * sys_.x(e.lo));
                    const index_t k = sys_.settle(e, w[2 * m + e.i]);
                    assign(e.i, k);
                    st.entries += k >= sys_.free_bins();
                }
            }
            moved_.clear();
            sys_.sort_layout();  // the classes' ranges (shallow_layout.hpp)
            sys_.grams();
            st.events += static_cast<long long>(es_.size());
            st.crossings += static_cast<long long>(es_.size());
            st.started = true;
            st.have_rhs = false;
        }
        if (!st.have_rhs) start_rhs(st);
        if (!std::isfinite(st.loss)) return fail("the loss is not finite");
        while (rec.k < rec.n && rec.t[rec.k] <= st.t) rec.write(st.loss, st.accepted);
        if (st.h <= 0.0) {
            const double d0 = sys_.state_norm(rtol, atol), d1 = sys_.norm(k_[0].data(), P0_.data(), rtol, atol);
            st.h = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
            if (!(st.h > 0.0) || !std::isfinite(st.h)) return fail(flow::kBadInitialStep);
        }
        index_t rejected_here = 0;
        while (res.steps < max_steps && st.t < t_stop) {
            if (!st.have_rhs) start_rhs(st);
            if (!std::isfinite(st.loss)) return fail("the loss is not finite");
            const double h = std::min(st.h, t_stop - st.t);
            const bool last = h >= t_stop - st.t;
            sys_.set_rate_floor(sys_.rate_floor(h, rtol, atol));
            double new_loss = NAN;
            for (int s = 1; s < S_; ++s) {
                combine(h, tab_.a.data() + s * S_, s, Pt_.data());
                const double L = sys_.rhs(Pt_.data(), k_[s].data());
                ++st.evals;
                if (s == S_ - 1) new_loss = L;
            }
            combine(h, tab_.b.data(), S_, P1_.data());
            for (index_t s = 0; s < sys_.slide_classes(); ++s)  // exit functions at the step's end (FSAL stage)
                for (int sg = 0; sg < 2; ++sg) f1_[2 * s + sg] = sys_.exit_value(s, sg ? 1 : -1);
            std::fill(dP_.begin(), dP_.end(), 0.0);
            for (int s = 0; s < S_; ++s) {
                if (tab_.e[s] == 0.0) continue;
                const double w = h * tab_.e[s];
                const double* __restrict ks = k_[s].data();
                for (index_t i = 0; i < N_; ++i) dP_[i] += w * ks[i];
            }
            double err = sys_.norm(dP_.data(), P1_.data(), rtol, atol);
            if (!std::isfinite(new_loss)) err = NAN;
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                if (const char* why = flow::rejected_step(h, err, tab_.error_order, st.t, st.h)) return fail(why);
                if (++rejected_here >= budget.max_rejections || clock.out()) break;
                continue;
            }
            double h_next = flow::accepted_step(st.h, h, last, flow::step_factor(err, tab_.error_order, true));
            const double theta = decide(h, rtol, atol);
            ++st.accepted;
            ++res.steps;
            const bool cut = theta < 1.0;
            if (cut)
                h_next =
                    std::min(h_next, prefix_cut_ ? h * std::max(0.2, 1.5 * theta) : h * std::max(1.0, 5.0 * theta));
            const double t1 = (!cut && last) ? t_stop : st.t + theta * h;
            records(h, st.t, t1, rec, st.accepted);  // before the memberships change
            commit(h, st);
            st.t = t1;
            st.have_rhs = false;
            if (cut && zeno(st, opt)) {
                st.zeno = true;
                st.h = h_next;
                start_rhs(st);
                return fail("zeno: " + std::to_string(opt.zeno_events) + " event-cut steps within " +
                            std::to_string(opt.zeno_window) +
                            " * max(1, t) of flow time at t = " + std::to_string(st.t));
            }
            st.h = h_next;
            if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail(flow::kStepNotFinite);
            if (clock.out()) break;
        }
        if (!st.have_rhs) start_rhs(st);
        if (!std::isfinite(st.loss)) return fail("the loss is not finite");
        res.reached = st.t >= t_stop;
        return res;
    }

    // L at the current state.
    double loss() { return sys_.residuals_at(P0_.data()); }

    // Lambda of every sliding class at the current state.
    std::vector<double> lambdas() {
        sys_.rhs(P0_.data(), dP_.data());
        std::vector<double> out(static_cast<std::size_t>(sys_.slide_classes()));
        for (index_t s = 0; s < sys_.slide_classes(); ++s) out[s] = sys_.lambda(s);
        return out;
    }

private:
    // A neuron followed through its events inside the step.
    struct Particle {
        index_t i = 0;
        index_t k = 0, k0 = 0;           // its class at the end, at the start
        double w[3] = {0}, w0[3] = {0};  // its state at the end, at the start
        int mode = 0;                    // 1: followed inside the step, 2: settled at the cut
        // its path inside the step: from seg_t[s] on in class seg_k[s], starting at state seg_w[s]; valid
        // before fail_at
        int nseg = 0;
        double seg_t[kMaxSwitches + 1] = {0}, seg_w[kMaxSwitches + 1][3] = {{0}};
        index_t seg_k[kMaxSwitches + 1] = {0};
        int seg_entries[kMaxSwitches + 1] = {0};
        double fail_at = INFINITY;
        double theta = 1.0;  // its first event
        Crossing first;
        int switches = 0, entries = 0;
        bool ok = true;  // followed to the end (false: too many switches or a sliding class that exits)
    };

    void start_rhs(EventFlowState& st) {
        st.loss = sys_.rhs(P0_.data(), k_[0].data());
        ++st.evals;
        for (index_t s = 0; s < sys_.slide_classes(); ++s)
            for (int sg = 0; sg < 2; ++sg) f0_[2 * s + sg] = sys_.exit_value(s, sg ? 1 : -1);
        st.have_rhs = true;
    }

    void assign(index_t i, index_t k) {
        if (sys_.cls(i) != k) moved_.push_back(i);
        sys_.cls(i) = std::int32_t(k);
        if (k >= sys_.free_bins()) sys_.sign(i) = sys_.state()[2 * sys_.width() + i] >= 0.0 ? 1 : -1;
    }

    // fl[i] = 1 where R[0..2] . w_i < 0 or R[3..5] . w_i < 0 (the boundary tests of one bin's range).
    static void outside(const double* R, const double* __restrict a, const double* __restrict b,
                        const double* __restrict c, index_t len, std::uint8_t* __restrict fl) {
        const double r0 = R[0], r1 = R[1], r2 = R[2], r3 = R[3], r4 = R[4], r5 = R[5];
        for (index_t i = 0; i < len; ++i) {
            const double z1 = r0 * a[i] + r1 * b[i] + r2 * c[i];
            const double z2 = r3 * a[i] + r4 * b[i] + r5 * c[i];
            fl[i] = std::uint8_t((z1 < 0.0) | (z2 < 0.0));
        }
    }
    // The positions in [lo, hi) with fl set, appended in order (eight flags per test).
    static void append_flagged(const std::uint8_t* fl, index_t lo, index_t hi, std::vector<index_t>& out) {
        index_t i = lo;
        for (; i + 8 <= hi; i += 8) {
            std::uint64_t word;
            std::memcpy(&word, fl + i, 8);
            if (word == 0) continue;
            for (index_t k = i; k < i + 8; ++k)
                if (fl[k]) out.push_back(k);
        }
        for (; i < hi; ++i)
            if (fl[i]) out.push_back(i);
    }

    // w <- T w over one bin's range; fl = 1 where the moved state is outside the bin (B: g1, x_s1, g2, x_s2).
    static void move_free(const double* T, const double* B, double* __restrict a, double* __restrict b,
                          double* __restrict c, index_t len, std::uint8_t* __restrict fl) {
        const double t0 = T[0], t1 = T[1], t2 = T[2], t3 = T[3], t4 = T[4], t5 = T[5], t6 = T[6], t7 = T[7], t8 = T[8];
        const double g1 = B[0], x1 = B[1], g2 = B[2], x2 = B[3];
        for (index_t i = 0; i < len; ++i) {
            const double ai = a[i], bi = b[i], ci = c[i];
            const double an = t0 * ai + t1 * bi + t2 * ci;
            const double bn = t3 * ai + t4 * bi + t5 * ci;
            const double cn = t6 * ai + t7 * bi + t8 * ci;
            a[i] = an, b[i] = bn, c[i] = cn;
            const double z1 = g1 * (x1 * an + bn), z2 = g2 * (x2 * an + bn);
            fl[i] = std::uint8_t((z1 < 0.0) | (z2 < 0.0));
        }
    }
    // (a, c) <- T (a, c) over one sliding class's range (T: rows a and c of a 3 x 3), b = -x_g a.
    static void move_sliding(const double* T, double xg, double* __restrict a, double* __restrict b,
                             double* __restrict c, index_t len) {
        const double t0 = T[0], t2 = T[2], t6 = T[6], t8 = T[8];
        for (index_t i = 0; i < len; ++i) {
            const double ai = a[i], ci = c[i];
            const double an = t0 * ai + t2 * ci;
            a[i] = an, b[i] = -(an * xg), c[i] = t6 * ai + t8 * ci;
        }
    }

    // out = P0 + h sum_{j<s} coef[j] k_j
    void combine(double h, const double* coef, int s, double* out) const {
        std::copy(P0_.begin(), P0_.end(), out);
        for (int j = 0; j < s; ++j) {
            if (coef[j] == 0.0) continue;
            const double w = h * coef[j];
            const double* __restrict kj = k_[j].data();
            for (index_t i = 0; i < N_; ++i) out[i] += w * kj[i];
        }
    }

    // Propagators at theta of the step from its continuous extension.
    void dense(double h, double theta, double* out) const {
        double wts[16];
        flow::dense_weights(tab_, theta, wts);
        std::copy(P0_.begin(), P0_.end(), out);
        for (int s = 0; s < S_; ++s) {
            const double w = h * wts[s];
            const double* __restrict ks = k_[s].data();
            for (index_t i = 0; i < N_; ++i) out[i] += w * ks[i];
        }
    }
    // Class k's propagator at theta (from the continuous extension; at 1 the step's end).
    const double* block(double h, double theta, index_t k) {
        const index_t off = sys_.offset(k), len = k < sys_.free_bins() ? kFree : kSlide;
        if (theta >= 1.0) return P1_.data() + off;
        double wts[16];
        flow::dense_weights(tab_, theta, wts);
        for (index_t i = 0; i < len; ++i) {
            double acc = 0.0;
            for (int s = 0; s < S_; ++s) acc += wts[s] * k_[s][off + i];
            blk_[i] = P0_[off + i] + h * acc;
        }
        return blk_;
    }

    // The events of the accepted step I -> P1 of length h: where the step ends (theta in (0, 1]; < 1: cut),
    // and how (the followed neurons, the releases); commit() then moves the neurons there.
    double decide(double h, double rtol, double atol) {
        const index_t m = sys_.width(), nb = sys_.free_bins();
        double* w = sys_.state();
        // 1. flags at the step's end
        poly_ready_ = false;
        flag_.clear();
        {
            std::vector<double>& rho = rho_;  // per class (sliding classes: 0, never outside)
            rho.assign(static_cast<std::size_t>(6 * (nb + sys_.slide_classes())), 0.0);
            for (index_t q = 0; q < nb; ++q) {
                const double* F = P1_.data() + kFree * q;
                const double x1 = sys_.x(sys_.s1(q)), x2 = sys_.x(sys_.s2(q));
                for (int l = 0; l < 3; ++l) {
                    rho[6 * q + l] = sys_.g1(q) * (x1 * F[l] + F[3 + l]);
                    rho[6 * q + 3 + l] = sys_.g2(q) * (x2 * F[l] + F[3 + l]);
                }
            }
            fl_.resize(static_cast<std::size_t>(m));
            for (index_t q = 0; q < nb; ++q) {  // over the bins' ranges, the class's vectors in registers
                const index_t lo = sys_.range_begin(q), hi = sys_.range_end(q);
                if (lo == hi) continue;
                const double* R = rho.data() + 6 * q;
                outside(R, w + lo, w + m + lo, w + 2 * m + lo, hi - lo, fl_.data() + lo);
                append_flagged(fl_.data(), lo, hi, flag_);
            }
        }
        // 2. sliding exits: the earliest located one
        double theta_x = 2.0;
        for (index_t s = 0; s < sys_.slide_classes(); ++s)
            for (int sg = 0; sg < 2; ++sg) {
                const int sign = sg ? 1 : -1;
                if (sys_.members(s, sign) == 0 || !(f1_[2 * s + sg] <= 0.0)) continue;
                const double th =
                    illinois(h, s, sign, std::max(f0_[2 * s + sg], 0.0), f1_[2 * s + sg], std::min(1.0, theta_x));
                theta_x = std::min(theta_x, th);
            }
        double theta_end = std::min(1.0, theta_x);
        // 3. crossings: the first event of each flagged neuron
        parts_.clear();
        for (index_t i : flag_) {
            Particle p;
            p.i = i;
            p.k = p.k0 = sys_.cls(i);
            for (int l = 0; l < 3; ++l) p.w[l] = p.w0[l] = w[l * m + i];
            if (!first_crossing(h, p.k0, p.w0, 0.0, 1.0, i, p.first)) continue;
            p.theta = p.first.theta;
            parts_.push_back(p);
        }
        const double theta_limit = theta_end;
        const index_t n = sys_.samples();
        bool cut = false;
        for (int round = 0;; ++round) {
            theta_end = theta_limit;
            // the events up to theta_end, in time order
            idx_.clear();
            for (std::size_t q = 0; q < parts_.size(); ++q) {
                parts_[q].mode = 0;
                if (parts_[q].theta <= theta_end) idx_.push_back(q);
            }
            std::sort(idx_.begin(), idx_.end(), [&](std::size_t u, std::size_t v) {
                return parts_[u].theta < parts_[v].theta || (parts_[u].theta == parts_[v].theta && u < v);
            });
            cut = false;
            double theta_cut = theta_end;
            std::size_t inside = idx_.size();
            if (!idx_.empty()) {
                // follow them to theta_end in time order, galloping: after 1, 2, 4, ... of them, test the
                // coupling of those when the step is cut at the next one (each Delta f grows from 0 at its event
                // and is scaled to the shorter span, ~ span^2); all of them to theta_end when all fit
                pdf_.assign(idx_.size() * static_cast<std::size_t>(n), 0.0);
                const std::size_t N = idx_.size();
                std::size_t valid = 0, lo = 0, hi = 0, c = 1;
                bool all_inside = false;
                while (true) {
                    const std::size_t upto = std::min(c, N);
                    for (; valid < upto; ++valid) {
                        Particle& p = parts_[idx_[valid]];
                        follow(h, p, theta_end, pdf_.data() + valid * n);
                        if (!p.ok) break;
                    }
                    if (valid < upto) {  // one cannot be followed: the cut is at or before it
                        hi = valid;
                        break;
                    }
                    if (upto == N) {
                        all_inside = coupling(N, theta_end, theta_end, h, rtol, atol) <= kCouplingShare;
                        hi = N - 1;
                        break;
                    }
                    if (coupling(upto, theta_end, parts_[idx_[upto]].theta, h, rtol, atol) <= 0.5 * kCouplingShare) {
                        lo = upto;
                        c *= 2;
                        continue;
                    }
                    hi = upto - 1;
                    break;
                }
                if (!all_inside) {
                    // the longest prefix of the events that stays within the tolerance when the step is cut at the
                    // next one; at least the first is a cut
                    hi = std::max(lo, std::min(hi, valid));
                    while (lo < hi) {
                        const std::size_t mid = (lo + hi + 1) / 2;
                        const double te = parts_[idx_[mid]].theta;
                        if (coupling(mid, theta_end, te, h, rtol, atol) <= 0.5 * kCouplingShare)
                            lo = mid;
                        else
                            hi = mid - 1;
                    }
                    inside = lo;
                    theta_cut = parts_[idx_[lo]].theta;
                    cut = true;
                    // to the cut (one that cannot be followed there becomes the cut, and the ones before it
                    // are taken to it)
                    for (bool again = true; again;) {
                        again = false;
                        for (std::size_t r = 0; r < inside; ++r) {
                            Particle& p = parts_[idx_[r]];
                            // from its recorded path where that holds, else followed again to the cut
                            if (!(p.fail_at > theta_cut) || !path_at(h, p, theta_cut, pdf_.data() + r * n))
                                follow(h, p, theta_cut, pdf_.data() + r * n);
                            if (!p.ok) {
                                inside = r;
                                theta_cut = p.theta;
                                again = r > 0;
                                break;
                            }
                        }
                    }
                }
                for (std::size_t r = 0; r < idx_.size(); ++r) {
                    Particle& p = parts_[idx_[r]];
                    if (r < inside)
                        p.mode = 1;  // followed inside the step
                    else if (cut && p.theta <= theta_cut + 1e-12)
                        p.mode = 2;  // settled at the cut
                }
            }
            if (cut) theta_end = theta_cut;
            prefix_cut_ = cut && inside > 0;
            correction(theta_end);
            // a step ending before 1: the neurons that left their bins before theta_end and came back by 1 (two
            // sign changes, not flagged at 1) are events too; with any, decide again
            if (theta_end >= 1.0 || round >= 4 || !more_crossings(h, theta_end)) break;
        }
        dense(h, theta_end, Pe_.data());
        exiting_ = theta_x <= theta_end && !cut;
        cut_at_crossing_ = cut;
        theta_end_ = theta_end;
        // releases of the sliding classes that exit at theta_end (lambda -> 1: with the group active;
        // -> 0, or a tangent inactive side: inactive)
        release_.assign(static_cast<std::size_t>(2 * sys_.slide_classes()), -1);
        if (exiting_) {
            residuals_at(h, theta_end);
            for (index_t s = 0; s < sys_.slide_classes(); ++s)
                for (int sg = 0; sg < 2; ++sg) {
                    const int sign = sg ? 1 : -1;
                    if (sys_.members(s, sign) == 0 || !(sys_.exit_value(s, sign) <= 0.0)) continue;
                    release_[2 * s + sg] = sys_.lambda(s) > 0.5 ? sys_.slide_with(s) : sys_.slide_without(s);
                }
        }
        return theta_end;
    }

    // Move every neuron to theta_end of the decided step, settle the neurons of a cut, apply the releases,
    // refresh the Grams.
    void commit(double h, EventFlowState& st) {
        const index_t m = sys_.width(), nb = sys_.free_bins(), K = nb + sys_.slide_classes();
        double* __restrict w = sys_.state();
        const double* Pe = Pe_.data();
        const double theta_end = theta_end_;
        long long exits = 0, crossings = 0, entries = 0;
        // every class's propagator as a 3 x 3 on (a, b, c) (sliding: (a, c) -> (a, c), b from a afterwards)
        tab_T_.assign(static_cast<std::size_t>(9 * K), 0.0);
        for (index_t k = 0; k < K; ++k) {  // (the empty classes' are never used)
            if (sys_.members(k) == 0) continue;
            const double* F = Pe + sys_.offset(k);
            double* T = tab_T_.data() + 9 * k;
            if (k < nb) {
                std::copy(F, F + 9, T);
            } else {
                T[0] = F[0], T[2] = F[1], T[6] = F[2], T[8] = F[3];
            }
        }
        if (have_corr_)
            for (index_t k = 0; k < K; ++k)
                if (sys_.members(k) > 0) corrected(h, k, tab_T_.data() + 9 * k);
        special_.assign(static_cast<std::size_t>(m), 0);
        for (const Particle& p : parts_)
            if (p.mode != 0) special_[p.i] = 1;
        // the Grams: moved with their classes (G <- T G T^T) and updated for the neurons that changed class;
        // recomputed from the neurons after a release and every kExactGrams steps (rounding)
        bool exact = ++gram_steps_ % kExactGrams == 0;
        for (std::int32_t r : release_) exact = exact || r >= 0;
        if (!exact) {
            for (index_t k = 0; k < K; ++k) {
                if (sys_.members(k) == 0) continue;
                double T[9];
                std::copy(tab_T_.begin() + 9 * k, tab_T_.begin() + 9 * k + 9, T);
                if (k >= nb) {  // b = -x_g a
                    const double xg = sys_.x(sys_.slide_group(k - nb));
                    for (int l = 0; l < 3; ++l) T[3 + l] = -xg * T[l];
                }
                sys_.transform_gram(k, T);
            }
        }
        const double* __restrict TT = tab_T_.data();
        std::int32_t* __restrict cl = sys_.classes_mut();
        more_fl_.resize(static_cast<std::size_t>(m));
        for (index_t k = 0; k < K; ++k) {  // move every range to theta_end (the followed ones are set below)
            const index_t lo = sys_.range_begin(k), hi = sys_.range_end(k);
            if (lo == hi) continue;
            const double* T = tab_T_.data() + 9 * k;
            if (k < nb) {
                // outside its bin at the end (a crossing the tests did not see: moved there by the correction,
                // or by rounding): settled below
                const double B[4] = {sys_.g1(k), sys_.x(sys_.s1(k)), sys_.g2(k), sys_.x(sys_.s2(k))};
                move_free(T, B, w + lo, w + m + lo, w + 2 * m + lo, hi - lo, more_fl_.data() + lo);
                more_.clear();
                append_flagged(more_fl_.data(), lo, hi, more_);
                for (index_t i : more_) {
                    if (special_[i]) continue;
                    late_.push_back(i), late_bit_.push_back(B[0] * (B[1] * w[i] + w[m + i]) < 0.0 ? 1 : 2);
                }
                continue;
            }
            const index_t s = k - nb;
            move_sliding(T, sys_.x(sys_.slide_group(s)), w + lo, w + m + lo, w + 2 * m + lo, hi - lo);
            for (index_t i = lo; i < hi; ++i) {  // the releases, and the members whose c changed sign
                if (special_[i]) continue;
                const int sg = sys_.sign(i) > 0;
                std::int32_t kn = k;
                if (release_[2 * s + sg] >= 0) {
                    kn = release_[2 * s + sg];
                    ++exits;
                } else if ((w[2 * m + i] >= 0.0) != (sg == 1)) {
                    // c changed sign while sliding: near c = 0 both one-sided fields of (a, b) vanish, so it
                    // leaves here, inactive on its group, and the next step's tests settle it
                    kn = sys_.slide_without(s);
                    ++exits;
                    if (!exact) sys_.move_member(i, k, -1.0), sys_.move_member(i, kn, 1.0);
                }
                if (kn != k) cl[i] = kn, moved_.push_back(i);
            }
        }
        bool settled = false;
        for (std::size_t q = 0; q < late_.size(); ++q) {
            const index_t i = late_[q];
            const index_t k0 = cl[i];
            const Crossing e = sys_.boundary_crossing(i, bin_t(k0), late_bit_[q]);
            if (!settled) residuals_at(h, theta_end), settled = true;
            if (!exact) sys_.move_member(i, k0, -1.0);
            const index_t k = sys_.settle(e, w[2 * m + i]);
            const double z = w[i] * sys_.x(e.lo) + w[m + i];
            if (!((k == index_t(e.bin_with) && z > 0.0) || (k == index_t(e.bin_without) && z < 0.0))) {
                double wt[3] = {w[i], w[m + i], w[2 * m + i]};  // on the sample (it slides, or the side differs)
                onto_sample(wt, k0, e.lo);
                for (int l = 0; l < 3; ++l) w[l * m + i] = wt[l];
            }
            assign(i, k);
            if (!exact) sys_.move_member(i, k, 1.0);
            ++crossings;
            entries += k >= nb;
        }
        late_.clear(), late_bit_.clear();
        index_t last = -1;
        auto change = [&](const Particle& p, const double* wnew, index_t knew) {
            if (exact) {
                for (int l = 0; l < 3; ++l) w[l * m + p.i] = wnew[l];
                assign(p.i, knew);
                return;
            }
            const double* T = TT + 9 * p.k0;  // what the moved Gram of its old bin holds for it
            for (int r = 0; r < 3; ++r)
                w[r * m + p.i] = T[3 * r] * p.w0[0] + T[3 * r + 1] * p.w0[1] + T[3 * r + 2] * p.w0[2];
            sys_.move_member(p.i, p.k0, -1.0);
            for (int l = 0; l < 3; ++l) w[l * m + p.i] = wnew[l];
            assign(p.i, knew);
            sys_.move_member(p.i, knew, 1.0);
        };
        for (const Particle& p : parts_) {
            if (p.mode == 1) {  // followed inside the step (and corrected as its class)
                double wc[3] = {p.w[0], p.w[1], p.w[2]};
                if (have_corr_) {
                    double T[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
                    corrected(h, p.k, T);
                    for (int r = 0; r < 3; ++r)
                        wc[r] = T[3 * r] * p.w[0] + T[3 * r + 1] * p.w[1] + T[3 * r + 2] * p.w[2];
                    if (p.k >= nb) wc[1] = -(wc[0] * sys_.x(sys_.slide_group(p.k - nb)));
                }
                change(p, wc, p.k);
                crossings += p.switches;
                entries += p.entries;
            } else if (p.mode == 2 && p.i != last) {  // at the cut: placed on its sample and settled there
                if (!settled) residuals_at(h, theta_end), settled = true;
                last = p.i;
                const double* T = TT + 9 * p.k0;
                double wt[3];
                for (int r = 0; r < 3; ++r)
                    wt[r] = T[3 * r] * p.w0[0] + T[3 * r + 1] * p.w0[1] + T[3 * r + 2] * p.w0[2];
                const Crossing& e = p.first;
                onto_sample(wt, p.k0, e.lo);
                const index_t k = sys_.settle(e, wt[2]);
                change(p, wt, k);
                ++crossings;
                entries += k >= nb;
            }
        }
        // the neurons that changed class into their classes' ranges, then the exact Grams in storage order
        for (index_t& i : moved_) i = sys_.id(i);
        for (index_t j : moved_) sys_.relocate_id(j);
        moved_.clear();
        if (exact) sys_.grams();
        if (!cut_at_crossing_ && !parts_.empty()) st.inside += 1;
        st.crossings += crossings;
        st.entries += entries;
        st.exits += exits;
        st.events += crossings + exits;
    }

    // The first theta in (lo, hi] where a neuron of bin q with state w (at theta = 0 of the step, in the
    // bin's propagator frame) leaves its bin; false if it is inside at hi.
    bool first_crossing(double h, index_t q, const double* w0, double lo, double hi, index_t i, Crossing& out) {
        double best = 2.0;
        int bit = 0;
        for (int which = 1; which <= 2; ++which) {
            const ZPoly z = zpoly(h, q, which, w0);
            if (!(z(hi) < 0.0)) continue;
            double l = lo, u = hi;
            for (int p = 1; p <= 16; ++p) {  // bracket
                const double th = lo + (hi - lo) * p / 16.0;
                if (z(th) < 0.0) {
                    u = th;
                    break;
                }
                l = th;
            }
            u = flow::illinois_root(z, [](double v) { return v < 0.0; }, l, u, z(l), z(u), 60, 1e-14, 0.0, 4);
            if (u < best) best = u, bit = which;
        }
        if (bit == 0) return false;
        out = sys_.boundary_crossing(i, bin_t(q), bit);
        out.theta = best;
        return true;
    }

    // g (x_s, 1, 0) . Phi_q(theta) w as a polynomial in theta on the step's continuous extension.
    struct ZPoly {
        double z0 = 0.0, cz[8] = {0.0};
        int D = 0;
        double operator()(double th) const {
            double acc = 0.0, pw = th;
            for (int q = 0; q < D; ++q) acc += cz[q] * pw, pw *= th;
            return z0 + acc;
        }
    };
    ZPoly zpoly(double h, index_t q, int which, const double* w0) const {
        const index_t j = which == 1 ? sys_.s1(q) : sys_.s2(q);
        const double g = which == 1 ? sys_.g1(q) : sys_.g2(q), xj = sys_.x(j);
        const int D = tab_.dense_degree;
        ZPoly z;
        z.D = D;
        z.z0 = g * (xj * w0[0] + w0[1]);
        for (int s = 0; s < S_; ++s) {
            const double* K = k_[s].data() + kFree * q;
            double ks = 0.0;
            for (int l = 0; l < 3; ++l) ks += (xj * K[l] + K[3 + l]) * w0[l];
            for (int d = 0; d < D; ++d) z.cz[d] += g * h * tab_.p[s * D + d] * ks;
        }
        return z;
    }

    // Follow particle p (state at theta = 0 in p.w, first event p.first at p.theta) to theta_end: at each event
    // placed on its sample and settled; then moved by its new class's propagator, Phi(end) Phi(theta)^-1, and
    // tested again. Adds the change of its contribution to f against the frozen bin to dfr_.
    void follow(double h, Particle& p, double theta_end, double* df) {
        const index_t nb = sys_.free_bins(), n = sys_.samples();
        const index_t q0 = p.k0;
        const double* w0 = p.w0;
        p.ok = true;
        p.switches = 0;
        p.nseg = 0;
        p.fail_at = INFINITY;
        double wt[3];
        apply(block(h, p.theta, q0), q0, w0, wt);
        Crossing e = p.first;
        double th = p.theta;
        index_t k = q0;
        int entries = 0;
        while (true) {
            // settled with the residuals at th, and put exactly on the sample -- unless it started the step
            // just past it (rounding of the last step's move) and stays on that side
            residuals_at(h, th);
            k = sys_.settle(e, wt[2]);
            {
                const double z = wt[0] * sys_.x(e.lo) + wt[1];
                const bool past = th <= 1e-12 && k < nb && (k == e.bin_with ? z > 0.0 : z < 0.0);
                if (!past) wt[1] = -(wt[0] * sys_.x(e.lo));
            }
            ++p.switches;
            entries += k >= nb;
            if (k >= nb) {
                const index_t s = k - nb;
                const int sg = wt[2] >= 0.0 ? 1 : -1;
                // a sliding class whose members of this sign exit before the step's end: cut instead
                if (!(f1_[2 * s + (sg > 0)] > 0.0)) {
                    p.ok = false;
                    p.fail_at = th;
                    break;
                }
            }
            p.seg_t[p.nseg] = th, p.seg_k[p.nseg] = k, p.seg_entries[p.nseg] = entries;
            for (int l = 0; l < 3; ++l) p.seg_w[p.nseg][l] = wt[l];
            ++p.nseg;
            if (th >= theta_end) break;
            double wh[3];  // in class k's frame: Phi_k(th)^-1 w
            if (!invert_apply(block(h, th, k), k, wt, wh)) {
                p.ok = false;
                p.fail_at = th;
                break;
            }
            apply(block(h, theta_end, k), k, wh, wt);
            if (k >= nb) break;
            Crossing e2;
            if (!first_crossing(h, k, wh, th, theta_end, p.i, e2)) break;
            if (p.switches >= kMaxSwitches) {
                p.ok = false;
                p.fail_at = e2.theta;
                break;
            }
            th = e2.theta;
            e = e2;
            apply(block(h, th, k), k, wh, wt);
        }
        p.entries = entries;
        if (!p.ok) return;
        p.k = k;
        for (int l = 0; l < 3; ++l) p.w[l] = wt[l];
        // Delta f: true contribution (class k) minus frozen (bin q0) at theta_end
        double wf[3];
        apply(block(h, theta_end, q0), q0, w0, wf);
        const index_t kb = k < nb ? k : sys_.slide_without(k - nb);
        for (index_t j = 0; j < n; ++j) {
            const double xj = sys_.x(j);
            const double tr = in_bin(kb, j) ? wt[2] * (wt[0] * xj + wt[1]) : 0.0;
            const double fr = in_bin(q0, j) ? wf[2] * (wf[0] * xj + wf[1]) : 0.0;
            df[j] = sys_.inv_alpha() * (tr - fr);
        }
    }

    // Particle p (followed to a later theta) at te (p.theta < te < p.fail_at) from its recorded path: its
    // state, class and counts there, and its Delta f into df. False when that state is outside its bin (a
    // crossing after the last recorded switch that was undone by the later end: follow it to te instead).
    bool path_at(double h, Particle& p, double te, double* df) {
        const index_t nb = sys_.free_bins(), n = sys_.samples();
        int sg = 0;
        while (sg + 1 < p.nseg && p.seg_t[sg + 1] <= te) ++sg;
        const index_t k = p.seg_k[sg];
        double wt[3] = {p.seg_w[sg][0], p.seg_w[sg][1], p.seg_w[sg][2]};
        if (te > p.seg_t[sg]) {
            double wh[3];
            if (!invert_apply(block(h, p.seg_t[sg], k), k, wt, wh)) return false;
            apply(block(h, te, k), k, wh, wt);
        }
        if (k < nb && (sys_.g1(k) * (sys_.x(sys_.s1(k)) * wt[0] + wt[1]) < 0.0 ||
                       sys_.g2(k) * (sys_.x(sys_.s2(k)) * wt[0] + wt[1]) < 0.0))
            return false;
        p.k = k;
        p.switches = sg + 1;
        p.entries = p.seg_entries[sg];
        for (int l = 0; l < 3; ++l) p.w[l] = wt[l];
        double wf[3];
        apply(block(h, te, p.k0), p.k0, p.w0, wf);
        const index_t kb = k < nb ? k : sys_.slide_without(k - nb);
        for (index_t j = 0; j < n; ++j) {
            const double xj = sys_.x(j);
            const double tr = in_bin(kb, j) ? wt[2] * (wt[0] * xj + wt[1]) : 0.0;
            const double fr = in_bin(p.k0, j) ? wf[2] * (wf[0] * xj + wf[1]) : 0.0;
            df[j] = sys_.inv_alpha() * (tr - fr);
        }
        return true;
    }

    // Adds the neurons outside their bins at theta (tested as in step 1, not yet events) as events in
    // (0, theta]; whether there were any.
    bool more_crossings(double h, double theta) {
        const index_t m = sys_.width(), nb = sys_.free_bins();
        const double* w = sys_.state();
        for (const Particle& p : parts_) fl_[p.i] = 2;
        dense(h, theta, Pd_.data());
        more_fl_.resize(static_cast<std::size_t>(m));
        more_.clear();
        for (index_t q = 0; q < nb; ++q) {
            const index_t lo = sys_.range_begin(q), hi = sys_.range_end(q);
            if (lo == hi) continue;
            const double* F = Pd_.data() + kFree * q;
            const double x1 = sys_.x(sys_.s1(q)), x2 = sys_.x(sys_.s2(q));
            double R[6];
            for (int l = 0; l < 3; ++l) {
                R[l] = sys_.g1(q) * (x1 * F[l] + F[3 + l]);
                R[3 + l] = sys_.g2(q) * (x2 * F[l] + F[3 + l]);
            }
            outside(R, w + lo, w + m + lo, w + 2 * m + lo, hi - lo, more_fl_.data() + lo);
            append_flagged(more_fl_.data(), lo, hi, more_);
        }
        bool any = false;
        for (index_t i : more_) {
            if (fl_[i]) continue;
            const index_t q = sys_.cls(i);
            Particle p;
            p.i = i;
            p.k = p.k0 = q;
            for (int l = 0; l < 3; ++l) p.w[l] = p.w0[l] = w[l * m + i];
            fl_[i] = 2;
            if (!first_crossing(h, q, p.w0, 0.0, theta, i, p.first)) continue;
            p.theta = p.first.theta;
            parts_.push_back(p);
            any = true;
        }
        return any;
    }

    // Put a neuron of bin k (state w, near sample group g) exactly on x_g: first along its own field (with the
    // residuals of the last residuals_at), by the time z / (dz/dt), which keeps delta to second order in z
    // (M J is skew), then b = -a x_g for the rounding left.
    void onto_sample(double* w, index_t k, index_t g) const {
        const double xg = sys_.x(g), z = w[0] * xg + w[1];
        const double ia = sys_.inv_alpha(), si = sys_.scale_inner(), so = sys_.scale_outer();
        const double S = sys_.active_sum(k), SX = sys_.active_sum_x(k);
        const double da = -si * ia * SX * w[2], db = -si * ia * S * w[2], dc = -so * ia * (SX * w[0] + S * w[1]);
        const double dz = da * xg + db;
        if (dz != 0.0 && std::isfinite(z / dz)) {
            const double dt = z / dz;
            w[0] -= dt * da, w[1] -= dt * db, w[2] -= dt * dc;
        }
        w[1] = -(w[0] * xg);
    }

    // Error norm of the coupling of the first `count` events (in time order, idx_) when the step ends at te:
    // their Delta f (pdf_, computed to `full`) scaled to te, each grown linearly from its event, and the
    // classes' propagators moved by about (h / 2) M(sum (te - theta_p) Delta f_p).
    double coupling(std::size_t count, double full, double te, double h, double rtol, double atol) {
        const index_t n = sys_.samples();
        dfr_.assign(static_cast<std::size_t>(n), 0.0);
        for (std::size_t r = 0; r < count; ++r) {
            const double th = parts_[idx_[r]].theta, span = full - th;
            if (!(span > 0.0) || !(te > th)) continue;
            const double g = (te - th) * (te - th) / span;
            const double* d = pdf_.data() + r * n;
            for (index_t j = 0; j < n; ++j) dfr_[j] += g * d[j];
        }
        // (the propagators at the step's end stand in for those at te: an estimate)
        sys_.field_of_residuals(dfr_.data(), P1_.data(), dP_.data());
        for (index_t i = 0; i < N_; ++i) dP_[i] *= 0.5 * h;
        const double raw = sys_.norm(dP_.data(), P1_.data(), rtol, atol);
        if (!(raw <= kMaxCorrection)) return INFINITY;
        // corrected (commit moves every class by (I + (h/2) M(sum))): what is left is O(h |M|) of it
        residuals_at(h, te);
        return raw * std::min(1.0, 2.0 * h * sys_.field_scale());
    }

    // The correction of the followed events' coupling (item 3): sum (theta_end - theta_p) Delta f_p over the
    // events kept inside, as active sums per bin.
    void correction(double theta_end) {
        const index_t n = sys_.samples();
        dfr_.assign(static_cast<std::size_t>(n), 0.0);
        have_corr_ = false;
        for (std::size_t r = 0; r < idx_.size(); ++r) {
            const Particle& p = parts_[idx_[r]];
            if (p.mode != 1) continue;
            const double g = theta_end - p.theta;
            const double* d = pdf_.data() + r * n;
            for (index_t j = 0; j < n; ++j) dfr_[j] += g * d[j];
            have_corr_ = true;
        }
        corr_S_.resize(static_cast<std::size_t>(sys_.free_bins()));
        corr_SX_.resize(static_cast<std::size_t>(sys_.free_bins()));
        active_sums(dfr_.data(), sys_.xs(), n, corr_S_.data(), corr_SX_.data());
    }

    // The correction as a map of (a, b, c): T <- C T with C the Cayley transform (I - A)^-1 (I + A),
    // A = (h/4) M_k(correction), which agrees with I + (h/2) M_k to second order and keeps delta exactly
    // (M J + J M^T = 0 for J = diag(-1, -1, 1)). Rows a, b, c of T (sliding: b unused).
    void corrected(double h, index_t k, double* T) const {
        const index_t nb = sys_.free_bins();
        const double ia = 0.25 * h * sys_.inv_alpha(), si = sys_.scale_inner(), so = sys_.scale_outer();
        double ga, gb, gc1, gc2;
        if (k < nb) {
            ga = -si * ia * corr_SX_[k], gb = -si * ia * corr_S_[k];
            gc1 = -so * ia * corr_SX_[k], gc2 = -so * ia * corr_S_[k];
        } else {
            const index_t s = k - nb;
            const double xg = sys_.x(sys_.slide_group(s));
            const bin_t qm = sys_.slide_without(s);
            const double qv = corr_SX_[qm] - xg * corr_S_[qm];
            ga = -si * ia * qv / (1.0 + xg * xg), gb = 0.0, gc1 = -so * ia * qv, gc2 = 0.0;
        }
        const double A[9] = {0, 0, ga, 0, 0, gb, gc1, gc2, 0};
        const double L[9] = {1, 0, -ga, 0, 1, -gb, -gc1, -gc2, 1};
        const double c0 = L[4] * L[8] - L[5] * L[7], c1 = L[5] * L[6] - L[3] * L[8], c2 = L[3] * L[7] - L[4] * L[6];
        const double det = L[0] * c0 + L[1] * c1 + L[2] * c2;
        const double inv[9] = {c0 / det, (L[2] * L[7] - L[1] * L[8]) / det, (L[1] * L[5] - L[2] * L[4]) / det,
                               c1 / det, (L[0] * L[8] - L[2] * L[6]) / det, (L[2] * L[3] - L[0] * L[5]) / det,
                               c2 / det, (L[1] * L[6] - L[0] * L[7]) / det, (L[0] * L[4] - L[1] * L[3]) / det};
        double C[9], out[9];
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c)
                C[3 * r + c] =
                    inv[3 * r + c] + inv[3 * r] * A[c] + inv[3 * r + 1] * A[3 + c] + inv[3 * r + 2] * A[6 + c];
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c)
                out[3 * r + c] = C[3 * r] * T[c] + C[3 * r + 1] * T[3 + c] + C[3 * r + 2] * T[6 + c];
        std::copy(out, out + 9, T);
    }

    // The residuals at theta of the step (exact on its continuous extension): from the predictions'
    // polynomials in theta, built once per step with events.
    void residuals_at(double h, double theta) {
        const int D = tab_.dense_degree;
        if (!poly_ready_) {
            coef_.resize(static_cast<std::size_t>((D + 1) * N_));
            cptr_.resize(static_cast<std::size_t>(D + 1));
            for (int d = 0; d <= D; ++d) cptr_[d] = coef_.data() + d * N_;
            const index_t nb = sys_.free_bins();
            for (index_t k = 0; k < nb + sys_.slide_classes(); ++k) {  // the occupied classes only
                if (sys_.members(k) == 0) continue;
                const index_t off = sys_.offset(k), len = k < nb ? kFree : kSlide;
                for (index_t i = off; i < off + len; ++i) coef_[i] = P0_[i];
                for (int d = 1; d <= D; ++d) {
                    double* out = coef_.data() + d * N_;
                    for (index_t i = off; i < off + len; ++i) {
                        double acc = 0.0;
                        for (int s = 0; s < S_; ++s) acc += tab_.p[s * D + (d - 1)] * k_[s][i];
                        out[i] = h * acc;
                    }
                }
            }
            poly_.resize(static_cast<std::size_t>(sys_.samples() * (2 * D + 1)));
            sys_.prediction_poly(cptr_.data(), D, poly_.data());
            poly_ready_ = true;
        }
        sys_.residuals_from_poly(poly_.data(), D, theta);
    }

    bool in_bin(index_t q, index_t j) const {
        const index_t n = sys_.samples();
        return q <= n ? j >= n - q : j < q - (n + 1);
    }

    // out = Phi_k w (free: 3 x 3 on (a, b, c); sliding: 2 x 2 on (a, c), b = -x_g a)
    void apply(const double* F, index_t k, const double* w, double* out) const {
        if (k < sys_.free_bins()) {
            for (int r = 0; r < 3; ++r) out[r] = F[3 * r] * w[0] + F[3 * r + 1] * w[1] + F[3 * r + 2] * w[2];
        } else {
            const double a = F[0] * w[0] + F[1] * w[2], c = F[2] * w[0] + F[3] * w[2];
            out[0] = a;
            out[1] = -(a * sys_.x(sys_.slide_group(k - sys_.free_bins())));
            out[2] = c;
        }
    }
    bool invert_apply(const double* F, index_t k, const double* w, double* out) const {
        if (k < sys_.free_bins()) {
            const double A = F[4] * F[8] - F[5] * F[7], B = F[5] * F[6] - F[3] * F[8], C = F[3] * F[7] - F[4] * F[6];
            const double det = F[0] * A + F[1] * B + F[2] * C;
            if (!(std::abs(det) > 0.0) || !std::isfinite(det)) return false;
            const double inv[9] = {A, F[2] * F[7] - F[1] * F[8], F[1] * F[5] - F[2] * F[4],
                                   B, F[0] * F[8] - F[2] * F[6], F[2] * F[3] - F[0] * F[5],
                                   C, F[1] * F[6] - F[0] * F[7], F[0] * F[4] - F[1] * F[3]};
            for (int r = 0; r < 3; ++r)
                out[r] = (inv[3 * r] * w[0] + inv[3 * r + 1] * w[1] + inv[3 * r + 2] * w[2]) / det;
        } else {
            const double det = F[0] * F[3] - F[1] * F[2];
            if (!(std::abs(det) > 0.0) || !std::isfinite(det)) return false;
            const double a = (F[3] * w[0] - F[1] * w[2]) / det, c = (-F[2] * w[0] + F[0] * w[2]) / det;
            out[0] = a;
            out[1] = -(a * sys_.x(sys_.slide_group(k - sys_.free_bins())));
            out[2] = c;
        }
        return true;
    }

    // Exit function of sliding class s (members of sign sg) at theta (one evaluation of the class field).
    double exit_at(double h, double theta, index_t s, int sg) {
        residuals_at(h, theta);
        return sys_.exit_value(s, sg);
    }

    // Root of the exit function in (0, hi] (f(0) = flo > 0 >= f(1) = f1) by the Illinois method; hi < 1 when
    // an earlier exit is known (then 2 if this one is not before it).
    double illinois(double h, index_t s, int sg, double flo, double f1, double hi) {
        double fhi = f1;
        if (hi < 1.0) {
            fhi = exit_at(h, hi, s, sg);
            if (fhi > 0.0) return 2.0;
        }
        return flow::illinois_root([&](double th) { return exit_at(h, th, s, sg); }, [](double v) { return v <= 0.0; },
                                   0.0, hi, flo, fhi, 40, 0.0, 1e-12, 0);
    }

    // Records in (t0, t1] of the step of length h from its continuous extension (the step's memberships).
    void records(double h, double t0, double t1, RecordCursor& rec, long long steps) {
        while (rec.k < rec.n && rec.t[rec.k] <= t1) {
            const double tr = rec.t[rec.k];
            const double th = std::min(1.0, std::max(0.0, (tr - t0) / h));
            dense(h, th, Pd_.data());
            rec.write(sys_.residuals_at(Pd_.data()), steps);
        }
    }

    bool zeno(EventFlowState& st, const EventOptions& opt) { return st.ring.cut(st.t, ++st.cut_steps, opt); }

    EventSystem& sys_;
    const flow::Tableau& tab_;
    index_t N_;
    int S_;
    std::vector<std::vector<double>> k_;
    std::vector<double> P0_, Pt_, P1_, Pd_, Pe_, dP_, f0_, f1_, rho_, dfr_;
    std::vector<index_t> flag_;
    std::vector<std::size_t> idx_;
    std::vector<double> pdf_;
    bool prefix_cut_ = false, have_corr_ = false;
    std::vector<double> corr_S_, corr_SX_;
    std::vector<index_t> late_;
    std::vector<int> late_bit_;
    long long gram_steps_ = 0;
    std::vector<std::uint8_t> fl_, more_fl_;
    std::vector<index_t> more_, moved_;
    std::vector<double> coef_, poly_;
    std::vector<const double*> cptr_;
    bool poly_ready_ = false;
    double blk_[kFree] = {0};
    std::vector<Particle> parts_;
    std::vector<Crossing> es_;
    std::vector<std::int32_t> release_;
    std::vector<char> special_;
    std::vector<double> tab_T_;
    bool exiting_ = false, cut_at_crossing_ = false;
    double theta_end_ = 1.0;
};

}  // namespace wideflow::shallow
