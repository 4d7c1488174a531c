// Event-aware adaptive Runge-Kutta integration of the exact shallow ReLU flow (the system of
// shallow_events.hpp): steps with the modes frozen, and after every accepted step
//
//  1. crossings: each free neuron's two samples next to its knot are checked at the step's end; where a
//     sign is wrong, the first time it went wrong is found on the step's continuous extension (z_ij(theta)
//     is a polynomial: bracketed on 16 points, then bisected to ~1e-14 of the step; only the crossings that
//     can be the earliest, by a bound on each first root, are bracketed and bisected);
//  2. sliding exits: a sliding neuron whose exit function min(dz-, -dz+) became <= 0 at the step's end is
//     located by the Illinois method on the continuous extension (each trial one gradient evaluation);
//  3. the step is cut at the earliest of these, theta*: the state there comes from the continuous
//     extension, every crossing within 1e-12 of theta* is placed exactly on its sample (b_i = -a_i x_j) and
//     settled (crosses, or starts sliding), every exit releases its neuron, and the field is evaluated anew;
//     the next trial step is at most max(h, 5 theta* h).
//
// Records: the losses at requested times come from the continuous extension of the step that covers them
// (with that step's modes), so no step ends at a record time.
//
// Zeno protection: when zeno_events consecutive event-cut steps happen within zeno_window * max(1, |t|) of
// flow time, the run ends with failure "zeno" (EventFlowState::zeno). Every call is bounded as
// flow::Integrator's (steps, rejections, wall time).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "wideflow/flow.hpp"
#include "wideflow/shallow_events.hpp"

namespace wideflow::shallow {

struct EventFlowState {
    double t = 0.0, h = 0.0, loss = NAN;
    bool have_rhs = false, started = false, zeno = false;
    long long accepted = 0, rejected = 0, evals = 0;
    long long events = 0, crossings = 0, entries = 0, exits = 0, cut_steps = 0, lazy = 0;
    std::string failure;
    std::vector<double> ring;  // times of the last zeno_events event-cut steps
    std::size_t ring_pos = 0;
};

struct EventOptions {
    long long zeno_events = 1000;
    double zeno_window = 1e-12;
};

// Record times t[k..n) (ascending) still to be written: loss[k] and steps[k] (accepted steps so far).
struct RecordCursor {
    const double* t = nullptr;
    index_t n = 0, k = 0;
    double* loss = nullptr;
    long long* steps = nullptr;
};

template <class T>
class EventIntegrator {
public:
    EventIntegrator(EventSystem<T>& sys, const flow::Tableau& tab, int threads)
        : sys_(sys), tab_(tab), w_(tab, sys.size(), threads), scratch_(static_cast<std::size_t>(sys.size())) {}

    flow::FlowResult integrate(T* y, EventFlowState& st, double t_stop, double rtol, double atol, index_t max_steps,
                               RecordCursor& rec, const EventOptions& opt,
                               const flow::CallBudget& budget = flow::CallBudget()) {
        flow::FlowResult res;
        const int S = tab_.stages;
        auto& k = w_.k;
        const auto start = std::chrono::steady_clock::now();
        auto out_of_time = [&] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > budget.max_seconds;
        };
        auto fail = [&](const std::string& why) {
            st.failure = why;
            res.failed = true;
            return res;
        };
        if (!st.started) {  // the kernels' modes; knots exactly on samples are settled at t = 0
            sys_.reset_modes(y, es_);
            for (const Crossing& e : es_) sys_.place(y, e);
            st.loss = sys_.rhs(y, k[0].data());
            ++st.evals;
            st.entries += sys_.settle(y, k[0].data(), es_);
            st.events += static_cast<long long>(es_.size());
            st.crossings += static_cast<long long>(es_.size());
            st.started = st.have_rhs = true;
            exit_values(f0_);
        }
        if (!st.have_rhs) {
            st.loss = sys_.rhs(y, k[0].data());
            ++st.evals;
            st.have_rhs = true;
            exit_values(f0_);
        }
        if (!std::isfinite(st.loss)) return fail("the loss is not finite");
        while (rec.k < rec.n && rec.t[rec.k] <= st.t) write_record(rec, st.loss, st.accepted);
        if (st.h <= 0.0) {
            st.h = w_.initial_step(sys_, y, rtol, atol);
            ++st.evals;  // (f0_ stays: the exit values at y, from before initial_step's trial evaluation)
            if (!(st.h > 0.0) || !std::isfinite(st.h))
                return fail(
                    "the initial step size is not a positive finite number (rtol/atol too small for "
                    "the size of the state or its gradient)");
        }
        index_t rejected_here = 0;
        while (res.steps < max_steps && st.t < t_stop) {
            const double h = std::min(st.h, t_stop - st.t);
            const bool last = h >= t_stop - st.t;
            double new_loss = NAN;
            for (int s = 1; s < S; ++s) {
                w_.combine(y, h, s, w_.ytmp.data(), tab_.a.data() + s * S);
                const double L = sys_.rhs(w_.ytmp.data(), k[s].data());
                ++st.evals;
                if (s == S - 1) new_loss = L;
            }
            w_.combine(y, h, S, w_.ynew.data(), tab_.b.data());
            double err = w_.error_norm(y, h, rtol, atol);
            if (!std::isfinite(new_loss)) err = NAN;
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                st.h = h * flow::step_factor(err, tab_.error_order, false);
                if (!(st.h >= 1e-14 * std::max(1.0, std::abs(st.t))))
                    return fail(std::isfinite(st.h) ? "the step size underflowed (stiff or divergent flow)"
                                                    : "the step size is not finite");
                if (++rejected_here >= budget.max_rejections || out_of_time()) break;
                continue;
            }
            ++st.accepted;
            ++res.steps;
            double h_next = (last ? std::max(st.h, h) : h) * flow::step_factor(err, tab_.error_order, true);
            // events of this step (the FSAL stage holds the field at its end)
            sys_.check(w_.ynew.data(), es_);
            exit_values(f1_);
            // events whose jump of the field is negligible on this step (|jump| h below a tenth of the
            // neuron's error scale: a kink whose residual has all but vanished) do not cut the step; the
            // mode follows the state at the step's end ("lazy" switches)
            lazy_.clear();
            lazy_exit_.clear();
            {
                std::size_t keep = 0;
                for (const Crossing& e : es_) {
                    if (negligible(sys_.jump_size(w_.ynew.data(), e), e.i, h, rtol, atol))
                        lazy_.push_back(e);
                    else
                        es_[keep++] = e;
                }
                es_.resize(keep);
                for (std::size_t q = 0; q < f1_.size(); ++q)
                    if (f1_[q] <= 0.0 && negligible(sys_.slider_jump_size(q), sys_.sliders()[q], h, rtol, atol)) {
                        lazy_exit_.push_back(q);
                        f1_[q] = INFINITY;  // not located
                    }
            }
            // earliest crossing: z(theta) of each crossing is a polynomial on the step's continuous extension;
            // |z(theta) - z(0)| <= theta sum_q |cz_q| bounds its first root below. Crossings are bracketed on
            // 16 points (and the brackets bisected) in the order of these bounds, until a bound exceeds the
            // earliest bracket's end by 1e-12; the others keep their bound, which places them after it.
            double theta_x = 2.0, best_hi = 2.0;
            blo_.resize(es_.size());
            order_.resize(es_.size());
            for (std::size_t q = 0; q < es_.size(); ++q) {
                blo_[q] = zpoly(y, h, es_[q]).root_bound();
                es_[q].theta = blo_[q];
                order_[q] = q;
            }
            std::sort(order_.begin(), order_.end(),
                      [&](std::size_t u, std::size_t v) { return blo_[u] < blo_[v] || (blo_[u] == blo_[v] && u < v); });
            for (std::size_t q : order_) {
                if (blo_[q] > best_hi + 1e-12) break;
                double lo = 1.0, hi = 1.0;
                crossing_bracket(y, h, es_[q], best_hi, lo, hi);
                blo_[q] = lo;
                es_[q].theta = hi;
                best_hi = std::min(best_hi, hi);
            }
            // bisect the earliest bracket first; the others only while they can still end within 1e-12 of
            // the earliest root found so far (a pruned one keeps its bracket's lower end)
            std::size_t first = es_.size();
            for (std::size_t q : order_)
                if (es_[q].theta > blo_[q] && (first == es_.size() || es_[q].theta < es_[first].theta)) first = q;
            if (first < es_.size()) {
                es_[first].theta = crossing_refine(y, h, es_[first], blo_[first], es_[first].theta, INFINITY);
                theta_x = es_[first].theta;
            }
            for (std::size_t q : order_) {
                Crossing& e = es_[q];
                if (q != first && e.theta > blo_[q] && blo_[q] <= theta_x + 1e-12)
                    e.theta = crossing_refine(y, h, e, blo_[q], e.theta, theta_x + 1e-12);
                else if (q != first && e.theta > blo_[q])
                    e.theta = blo_[q];
                theta_x = std::min(theta_x, e.theta);
            }
            double theta_e = 2.0;  // earliest sliding exit
            index_t exit_k = -1;
            for (std::size_t q = 0; q < f1_.size(); ++q) {
                if (!(f1_[q] <= 0.0)) continue;
                const double lin = f0_[q] > 0.0 ? f0_[q] / (f0_[q] - f1_[q]) : 0.0;
                if (lin < theta_e) theta_e = lin, exit_k = index_t(q);
            }
            if (exit_k >= 0) {
                double hi = 1.0, fhi = f1_[exit_k];
                if (theta_x <= 1.0) {  // an exit before the first crossing?
                    const double f = exit_at(y, h, theta_x, exit_k, st);
                    if (f > 0.0)
                        exit_k = -1;
                    else
                        hi = theta_x, fhi = f;
                }
                if (exit_k >= 0) theta_e = illinois(y, h, exit_k, std::max(f0_[exit_k], 0.0), hi, fhi, st);
            }
            if (exit_k < 0 && es_.empty()) {  // no event: a plain step
                const double t1 = last ? t_stop : st.t + h;
                records(y, st.t, h, t1, rec, st.accepted, new_loss, true);
                w_.copy(w_.ynew.data(), y);
                std::swap(k[0], k[S - 1]);
                sys_.hold(y);
                st.loss = new_loss;
                st.t = t1;
                if (!lazy_.empty() || !lazy_exit_.empty()) {
                    for (std::size_t q : lazy_exit_) sys_.release(q);
                    sys_.drop_released();
                    for (const Crossing& e : lazy_) sys_.bin(e.i) = e.sign > 0 ? e.bin_without : e.bin_with;
                    st.loss = sys_.rhs(y, k[0].data());
                    ++st.evals;
                    st.crossings += static_cast<long long>(lazy_.size());
                    st.exits += static_cast<long long>(lazy_exit_.size());
                    st.events += static_cast<long long>(lazy_.size() + lazy_exit_.size());
                    st.lazy += static_cast<long long>(lazy_.size() + lazy_exit_.size());
                    exit_values(f1_);
                }
                f0_.swap(f1_);
            } else {
                const double theta = exit_k >= 0 ? std::min(theta_e, theta_x) : theta_x;
                // the controller judged the whole trial step, which advanced only theta h: the next trial step
                // is at most max(h, 5 theta h) (growing 5x from cut to cut, it overflowed to inf when events
                // come every few steps, as at m = 10^5)
                h_next = std::min(h_next, h * std::max(1.0, 5.0 * theta));
                const double t1 = (theta >= 1.0 && last) ? t_stop : st.t + theta * h;
                records(y, st.t, h, t1, rec, st.accepted, NAN, false);
                w_.dense(y, h, theta, w_.ytmp.data());
                w_.copy(w_.ytmp.data(), y);
                sys_.hold(y);
                st.t = t1;
                long long exits = 0;
                if (exit_k >= 0 && theta_e <= theta_x) {
                    sys_.rhs(y, k[0].data());
                    ++st.evals;
                    for (std::size_t q = 0; q < sys_.sliders().size(); ++q)
                        if (sys_.exit_value(q) <= 0.0 || index_t(q) == exit_k) sys_.release(q), ++exits;
                    sys_.drop_released();
                }
                now_.clear();
                for (const Crossing& e : es_)
                    if (e.theta <= theta + 1e-12 && (now_.empty() || now_.back().i != e.i)) now_.push_back(e);
                for (const Crossing& e : now_) sys_.place(y, e);
                st.loss = sys_.rhs(y, k[0].data());
                ++st.evals;
                st.entries += sys_.settle(y, k[0].data(), now_);
                st.exits += exits;
                st.crossings += static_cast<long long>(now_.size());
                st.events += static_cast<long long>(now_.size()) + exits;
                exit_values(f0_);
                if (zeno(st, opt)) {
                    st.zeno = true;
                    st.h = h_next;
                    return fail("zeno: " + std::to_string(opt.zeno_events) + " event-cut steps within " +
                                std::to_string(opt.zeno_window) +
                                " * max(1, t) of flow time at t = " + std::to_string(st.t));
                }
            }
            st.h = h_next;
            if (!std::isfinite(st.loss)) return fail("the loss is not finite");
            if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail("the step size is not finite");
            if (out_of_time()) break;
        }
        res.reached = st.t >= t_stop;
        return res;
    }

    // L at the current state (the modes frozen).
    double loss(const T* y) { return sys_.loss(y); }

private:
    void exit_values(std::vector<double>& f) const {
        f.resize(sys_.sliders().size());
        for (std::size_t q = 0; q < f.size(); ++q) f[q] = sys_.exit_value(q);
    }

    void write_record(RecordCursor& rec, double loss, long long steps) {
        rec.loss[rec.k] = loss;
        rec.steps[rec.k] = steps;
        ++rec.k;
    }

    // Records in (t0, t1] of the step y -> ynew (length h) from its continuous extension; at the step's end
    // (plain steps) the step's own loss.
    void records(const T* y, double t0, double h, double t1, RecordCursor& rec, long long steps, double end_loss,
                 bool plain) {
        while (rec.k < rec.n && rec.t[rec.k] <= t1) {
            const double tr = rec.t[rec.k];
            if (plain && tr >= t1) {
                write_record(rec, end_loss, steps);
                continue;
            }
            w_.dense(y, h, std::min(1.0, std::max(0.0, (tr - t0) / h)), scratch_.data());
            write_record(rec, sys_.loss(scratch_.data()), steps);
        }
    }

    // Coefficients of z(theta) = sign (z0 + sum_q cz[q] theta^(q+1)) of a crossing on the step's continuous
    // extension, and its value.
    struct ZPoly {
        double z0 = 0.0, cz[8] = {0.0};
        int D = 0, sign = 1;
        double operator()(double th) const {
            double acc = 0.0, pw = th;
            for (int q = 0; q < D; ++q) acc += cz[q] * pw, pw *= th;
            return sign * (z0 + acc);
        }
        // theta below which z cannot reach 0 (|z(theta) - z0| <= theta sum |cz| on [0, 1])
        double root_bound() const {
            double sum = 0.0;
            for (int q = 0; q < D; ++q) sum += std::abs(cz[q]);
            const double b = sum > 0.0 ? std::abs(z0) / sum : 1.0;
            return std::min(1.0, b * (1.0 - 1e-12));
        }
    };
    ZPoly zpoly(const T* y, double h, const Crossing& e) const {
        const index_t m = sys_.width(), i = e.i;
        const double xg = sys_.x(e.lo);
        const int S = tab_.stages, D = tab_.dense_degree;
        ZPoly z;
        z.D = D;
        z.sign = e.sign;
        for (int s = 0; s < S; ++s) {
            const double ks = double(w_.k[s][i]) * xg + double(w_.k[s][m + i]);
            for (int q = 0; q < D; ++q) z.cz[q] += h * tab_.p[s * D + q] * ks;
        }
        z.z0 = double(y[i]) * xg + double(y[m + i]);
        return z;
    }

    // Bracket (lo, hi] of the first theta in (0, 1] where the crossing's sample is on the wrong side, on 16
    // points (lo = hi = 1 if only the end state says so). The scan stops after the first point beyond
    // `upto` (then lo = hi = that point: the first root lies beyond it).
    void crossing_bracket(const T* y, double h, const Crossing& e, double upto, double& lo, double& hi) const {
        const ZPoly zp_ = zpoly(y, h, e);
        lo = 0.0;
        for (int q = 1; q <= 16; ++q) {
            const double th = q / 16.0;
            if (zp_(th) < 0.0) {
                hi = th;
                return;
            }
            lo = th;
            if (th > upto && q < 16) {
                hi = th;
                return;
            }
        }
        lo = hi = 1.0;
    }

    // The crossing's bracket bisected to ~1e-14, or until its lower end passes `prune` (then that end: the
    // root lies beyond it).
    double crossing_refine(const T* y, double h, const Crossing& e, double lo, double hi, double prune) const {
        if (lo >= hi) return 1.0;
        const ZPoly zp_ = zpoly(y, h, e);
        for (int it = 0; it < 60 && hi - lo > 1e-14; ++it) {
            if (lo > prune) return lo;
            const double mid = 0.5 * (lo + hi);
            (zp_(mid) < 0.0 ? hi : lo) = mid;
        }
        return hi;
    }

    // Exit function of slider q at theta of the step (one gradient evaluation; the modes are unchanged).
    double exit_at(const T* y, double h, double theta, index_t q, EventFlowState& st) {
        w_.dense(y, h, theta, scratch_.data());
        std::vector<T>& d = w_.ytmp;  // free after the stages
        sys_.rhs(scratch_.data(), d.data());
        ++st.evals;
        return sys_.exit_value(static_cast<std::size_t>(q));
    }

    // Root of slider q's exit function in (0, hi] (f(0) = flo > 0 >= fhi = f(hi)) by the Illinois method.
    double illinois(const T* y, double h, index_t q, double flo, double hi, double fhi, EventFlowState& st) {
        double lo = 0.0;
        int side = 0;
        for (int it = 0; it < 10 && hi - lo > 1e-12 * hi; ++it) {
            double th = flo - fhi != 0.0 ? hi - fhi * (hi - lo) / (fhi - flo) : 0.5 * (lo + hi);
            if (!(th > lo && th < hi)) th = 0.5 * (lo + hi);
            const double f = exit_at(y, h, th, q, st);
            if (f <= 0.0) {
                hi = th, fhi = f;
                if (side == -1) flo *= 0.5;
                side = -1;
            } else {
                lo = th, flo = f;
                if (side == 1) fhi *= 0.5;
                side = 1;
            }
        }
        return hi;
    }

    bool zeno(EventFlowState& st, const EventOptions& opt) {
        const std::size_t K = static_cast<std::size_t>(std::max<long long>(1, opt.zeno_events));
        if (st.ring.size() != K) st.ring.assign(K, -INFINITY), st.ring_pos = 0;
        ++st.cut_steps;
        const double oldest = st.ring[st.ring_pos];
        st.ring[st.ring_pos] = st.t;
        st.ring_pos = (st.ring_pos + 1) % K;
        return st.cut_steps > static_cast<long long>(K) &&
               st.t - oldest <= opt.zeno_window * std::max(1.0, std::abs(st.t));
    }

    // Whether switching neuron i's mode at the step's end instead of at the event moves (a_i, b_i) by less
    // than the error the controller accepts per step: |jump| h <= atol + rtol max(|a_i|, |b_i|).
    bool negligible(double jump, index_t i, double h, double rtol, double atol) const {
        const index_t m = sys_.width();
        const double sc = atol + rtol * std::max(std::abs(double(w_.ynew[i])), std::abs(double(w_.ynew[m + i])));
        return jump * h <= sc;
    }

    EventSystem<T>& sys_;
    const flow::Tableau& tab_;
    flow::RKWork<T> w_;
    std::vector<T> scratch_;
    std::vector<Crossing> es_, now_, lazy_;
    std::vector<std::size_t> lazy_exit_;
    std::vector<double> f0_, f1_, blo_;
    std::vector<std::size_t> order_;
};

}  // namespace wideflow::shallow
