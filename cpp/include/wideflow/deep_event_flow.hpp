// Event-aware adaptive Runge-Kutta integration of the gradient flow of a deep ReLU / leaky-ReLU network:
// the field is smooth inside an activation region and kinks where a hidden pre-activation Z_h[j, u]
// (layer h, sample j, unit u) changes sign. A step integrates the field of deep_events.hpp's PatternNet
// with the pattern frozen (a polynomial field, so the pair keeps its order); after an accepted step
//
//  1. the pre-activations at the step's end are compared with the pattern; if one crossed, the first
//     crossing on the step's continuous extension is located (the smallest signed pre-activation on 8
//     points, then the Illinois method), and the step ends there, just past it;
//  2. each entry that crossed is tested for a transversal crossing with its one-sided rates: with s = +1
//     when it was on, it crossed at rate s dZ-/dt < 0 under the old pattern; under the new pattern it
//     goes on into the other side when s dZ+/dt <= 0 (= 0: held at 0 there, as the last active entry of a
//     unit that dies). Then the pattern entry flips and the run goes on;
//  3. otherwise (s dZ+/dt > 0) both one-sided fields push Z_h[j, u] to 0: Filippov sliding. The entry joins
//     the sliding set; it is put back on Z = 0 (PatternNet::project) and its pattern value becomes an
//     unknown mu in [slope, 1] (the equivalent control: the field with P = mu is the convex combination
//     (1 - lambda) F- + lambda F+, lambda = (mu - slope) / (1 - slope)). In a deep net the sliding entries
//     couple through the later layers: at every field evaluation the mu of all of them solve
//     dZ_e/dt = 0 for every sliding e, a k x k system (linear when they lie in one layer, else multilinear:
//     Newton), its Jacobian from k extra fields (exact: the field is linear in each mu). When a mu leaves
//     [slope, 1] (located on the continuous extension, the Illinois method) the entry leaves: on when
//     mu -> 1, off when mu -> slope, projected onto Z = 0 again; an entry whose mu is out of range as soon
//     as it joins leaves at once (the complementarity condition, one entry at a time).
//
// Single-threaded (Eigen products on one thread): the same bits whatever the thread count.
//
// Records: losses at requested times from the continuous extension of the step covering them (with its
// pattern). Zeno protection and per-call bounds as in shallow_event_flow.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <Eigen/QR>

#include "wideflow/deep_events.hpp"
#include "wideflow/flow.hpp"

namespace wideflow::deep {

struct DeepEventState {
    double t = 0.0, h = 0.0, loss = NAN;
    bool have_rhs = false, started = false, zeno = false, singular = false;
    long long accepted = 0, rejected = 0, evals = 0, forward_evals = 0, events = 0, cut_steps = 0;
    long long crossings = 0, entries = 0, exits = 0;  // kinks reached (some of them entries), sliding exits
    std::string failure;
    flow::ZenoRing ring;
};

// Slack of the sliding range: mu in [slope - eta, 1 + eta] (times 1 - slope), so that rounding does not
// send an entry at the edge (lambda -> 0 or 1) in and out.
constexpr double kMuSlack = 1e-9;

class DeepEventIntegrator {
public:
    DeepEventIntegrator(PatternNet& net, const flow::Tableau& tab)
        : net_(net), tab_(tab), w_(tab, net.size(), 1), fo_(static_cast<std::size_t>(net.size())) {}

    // Integrate y (the parameters, deep_events.hpp's layout) from st.t towards t_stop.
    flow::FlowResult integrate(double* y, DeepEventState& st, double t_stop, double rtol, double atol,
                               index_t max_steps, flow::RecordCursor& rec, const flow::ZenoOptions& opt,
                               const flow::CallBudget& budget = flow::CallBudget()) {
        flow::FlowResult res;
        const int S = tab_.stages;
        auto& k = w_.k;
        const flow::CallClock clock(budget.max_seconds);
        auto fail = [&](const std::string& why) {
            st.failure = why;
            res.failed = true;
            return res;
        };
        if (!st.started) {  // the pattern of the initial state (relu'(0) = 0 at an exact zero)
            net_.set_pattern(y);
            ++st.forward_evals;
            st.started = true;
            st.have_rhs = false;
        }
        if (!st.have_rhs) {
            st.loss = field(y, k[0].data(), st);
            st.have_rhs = true;
        }
        if (st.singular) return fail(st.failure);
        if (!std::isfinite(st.loss)) return fail("the loss is not finite");
        while (rec.k < rec.n && rec.t[rec.k] <= st.t) rec.write(st.loss, st.accepted);
        if (st.h <= 0.0) {
            st.h = w_.initial_step(net_, y, rtol, atol);
            ++st.evals;
            if (!(st.h > 0.0) || !std::isfinite(st.h)) return fail(flow::kBadInitialStep);
        }
        index_t rejected_here = 0;
        while (res.steps < max_steps && st.t < t_stop) {
            const double h = std::min(st.h, t_stop - st.t);
            const bool last = h >= t_stop - st.t;
            double new_loss = NAN;
            const std::vector<double> mu0 = mu_;  // the equivalent controls at the step's start
            for (int s = 1; s < S; ++s) {
                w_.combine(y, h, s, w_.ytmp.data(), tab_.a.data() + s * S);
                const double L = field(w_.ytmp.data(), k[s].data(), st);
                if (tab_.fsal && s == S - 1) new_loss = L;
            }
            if (st.singular) return fail(st.failure);
            w_.combine(y, h, S, w_.ynew.data(), tab_.b.data());
            double err = w_.error_norm(y, h, rtol, atol);
            if (tab_.fsal && !std::isfinite(new_loss)) err = NAN;
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                mu_ = mu0;
                if (const char* why = flow::rejected_step(h, err, tab_.error_order, st.t, st.h)) return fail(why);
                if (++rejected_here >= budget.max_rejections || clock.out()) break;
                continue;
            }
            const double h_next = flow::accepted_step(st.h, h, last, flow::step_factor(err, tab_.error_order, true));
            ++st.accepted;
            ++res.steps;
            // events: a sliding entry's mu leaving its range (mu_ is at ynew: the last stage), a crossing
            const std::vector<double> mu1 = mu_;
            double theta_x = 2.0;
            if (!slide_.empty() && exit_margin() < 0.0) theta_x = first_exit(y, h, mu0, st);
            mu_ = mu0;
            apply_mu();
            net_.forward(w_.ynew.data());
            ++st.forward_evals;
            double theta = net_.margin() < 0.0 ? first_crossing(y, h, st) : 1.0;
            const bool exit = theta_x <= theta && theta_x <= 1.0;
            if (exit) theta = theta_x;
            if (theta >= 1.0) {  // no event: the whole step
                const double t1 = last ? t_stop : st.t + h;
                records(y, h, st.t, t1, rec, st);
                w_.copy(w_.ynew.data(), y);
                if (tab_.fsal) {
                    std::swap(k[0], k[S - 1]);
                    st.loss = new_loss;
                    mu_ = mu1;  // the controls at ynew, as its stage solved them
                    apply_mu();
                } else {
                    st.loss = field(y, k[0].data(), st);
                }
                st.t = t1;
                st.h = h_next;
                if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail(flow::kStepNotFinite);
                if (clock.out()) break;
                continue;
            }
            // the step ends at the event, just past it
            const double t1 = st.t + theta * h;
            records(y, h, st.t, t1, rec, st);
            w_.dense(y, h, theta, w_.ytmp.data());
            w_.copy(w_.ytmp.data(), y);
            st.t = t1;
            st.h = h_next;
            if (exit)
                release(y, st);
            else
                switch_pattern(y, st);
            settle(y, st);
            st.loss = field(y, k[0].data(), st);
            st.have_rhs = true;
            if (st.singular) return fail(st.failure);
            if (st.ring.cut(st.t, ++st.cut_steps, opt)) {
                st.zeno = true;
                return fail("zeno: " + std::to_string(opt.zeno_events) + " event-cut steps within " +
                            std::to_string(opt.zeno_window) +
                            " * max(1, t) of flow time at t = " + std::to_string(st.t));
            }
            if (!std::isfinite(st.loss)) return fail("the loss is not finite");
            if (clock.out()) break;
        }
        res.reached = st.t >= t_stop;
        return res;
    }

    // The entries sliding now: (hidden layer, sample, unit) and lambda = (mu - slope) / (1 - slope).
    std::size_t sliding_count() const { return slide_.size(); }
    PatternNet::Entry sliding_entry(std::size_t q) const { return slide_[q]; }
    double sliding_lambda(std::size_t q) const { return (mu_[q] - net_.slope()) / (1.0 - net_.slope()); }

    // Loss at y with the current pattern.
    double loss(const double* y) { return net_.forward(y); }

private:
    // The signed margin (deep_events.hpp) at theta of the step y -> ynew.
    double margin_at(const double* y, double h, double theta, DeepEventState& st) {
        w_.dense(y, h, theta, w_.ytmp.data());
        net_.forward(w_.ytmp.data());
        ++st.forward_evals;
        return net_.margin();
    }

    // The first theta in (0, 1] where a pre-activation crossed (margin < 0 there, >= 0 before).
    double first_crossing(const double* y, double h, DeepEventState& st) {
        double lo = 0.0, hi = 1.0, flo = margin_at(y, h, 0.0, st), fhi = 0.0;
        for (int p = 1; p <= 8; ++p) {
            const double th = p / 8.0, g = margin_at(y, h, th, st);
            if (g < 0.0) {
                hi = th, fhi = g;
                break;
            }
            lo = th, flo = g;
        }
        if (!(flo >= 0.0)) flo = 0.0;  // just past an event at the step's start: the bracket from 0
        return flow::illinois_root([&](double th) { return margin_at(y, h, th, st); }, [](double v) { return v < 0.0; },
                                   lo, hi, flo, fhi, 80, 1e-15, 0.0, 4);
    }

    // The sliding-aware field at p: the controls mu solved (solve_mu), then the field with P = mu.
    double field(const double* p, double* dp, DeepEventState& st) {
        if (!slide_.empty()) solve_mu(p, st);
        ++st.evals;
        return net_.field(p, dp);
    }

    void apply_mu() {
        for (std::size_t q = 0; q < slide_.size(); ++q) net_.set_value(slide_[q].h, slide_[q].j, slide_[q].u, mu_[q]);
    }

    // The equivalent controls at p: dZ_e/dt = 0 for every sliding e. The rates are multilinear in mu (linear in
    // each), so the Jacobian from one extra field per entry is exact; one Newton step when all entries lie
    // in one layer (linear), a few otherwise. A singular system ends the run (st.singular).
    void solve_mu(const double* p, DeepEventState& st) {
        const std::size_t k = slide_.size();
        if (k == 0) return;
        bool multi = false;
        for (const auto& e : slide_) multi = multi || e.h != slide_[0].h;
        Eigen::MatrixXd J(k, k);
        Eigen::VectorXd g(k);
        for (int it = 0; it < (multi ? 6 : 1); ++it) {
            apply_mu();
            net_.field(p, fo_.data());
            net_.tangent(p, fo_.data());
            ++st.evals;
            for (std::size_t q = 0; q < k; ++q) g[q] = net_.rate(slide_[q].h, slide_[q].j, slide_[q].u);
            for (std::size_t c = 0; c < k; ++c) {
                const auto& e = slide_[c];
                net_.set_value(e.h, e.j, e.u, mu_[c] + 1.0);
                net_.field(p, fo_.data());
                net_.tangent(p, fo_.data());
                ++st.evals;
                for (std::size_t q = 0; q < k; ++q) J(q, c) = net_.rate(slide_[q].h, slide_[q].j, slide_[q].u) - g[q];
                net_.set_value(e.h, e.j, e.u, mu_[c]);
            }
            // least squares, minimum-norm step: entries whose rates do not depend on some control (a unit
            // with no path to the output, two entries of one rate) leave it where it is
            const Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(J);
            const Eigen::VectorXd d = cod.solve(-g);
            if (!d.allFinite() || !((J * d + g).norm() <= 1e-8 * (g.norm() + J.norm() * d.norm()) + 1e-300)) {
                st.singular = true;
                st.failure =
                    "sliding: the equivalent controls of the " + std::to_string(k) +
                    " sliding pre-activations are not determined (a singular system) at t = " + std::to_string(st.t);
                return;
            }
            double dmax = 0.0, mmax = 1.0;
            for (std::size_t q = 0; q < k; ++q) {
                mu_[q] += d[q];
                dmax = std::max(dmax, std::abs(d[q]));
                mmax = std::max(mmax, std::abs(mu_[q]));
            }
            if (dmax <= 1e-13 * mmax) break;
        }
        apply_mu();
    }

    // min over the sliding entries of the distance of lambda to [0, 1], plus the slack: < 0 when one leaves.
    double exit_margin() const {
        double mn = INFINITY;
        const double span = 1.0 - net_.slope();
        for (double m : mu_) mn = std::min(mn, std::min(m - net_.slope(), 1.0 - m) / span + kMuSlack);
        return mn;
    }

    // The first theta in (0, 1] where a sliding entry's control leaves its range (the controls solved at
    // each trial, from their values at the step's start).
    double first_exit(const double* y, double h, const std::vector<double>& mu0, DeepEventState& st) {
        auto at = [&](double th) {
            w_.dense(y, h, th, w_.ytmp.data());
            mu_ = mu0;
            solve_mu(w_.ytmp.data(), st);
            return exit_margin();
        };
        const double f1 = exit_margin();
        mu_ = mu0;
        const double f0 = std::max(0.0, exit_margin());
        return flow::illinois_root(at, [](double v) { return v < 0.0; }, 0.0, 1.0, f0, f1, 60, 1e-15, 0.0, 4);
    }

    // An exit event at y: the entries whose control left its range leave (on when mu -> 1, off when
    // mu -> slope), put back on Z = 0.
    void release(double* y, DeepEventState& st) {
        solve_mu(y, st);
        const double span = 1.0 - net_.slope();
        for (std::size_t q = slide_.size(); q-- > 0;) {
            const double m = mu_[q];
            if (std::min(m - net_.slope(), 1.0 - m) / span + kMuSlack >= 0.0) continue;
            leave(y, q, m > 1.0, st);
        }
    }

    // Sliding entry q leaves to the side `on`, put back on Z = 0.
    void leave(double* y, std::size_t q, bool on, DeepEventState& st) {
        const PatternNet::Entry e = slide_[q];
        slide_.erase(slide_.begin() + static_cast<std::ptrdiff_t>(q));
        mu_.erase(mu_.begin() + static_cast<std::ptrdiff_t>(q));
        net_.set(e.h, e.j, e.u, on);
        apply_mu();
        net_.forward(y);
        ++st.forward_evals;
        net_.project(y, e.h, e.j, e.u);
        ++st.exits;
        ++st.events;
    }

    // After an event: the complementarity condition, one entry at a time: while a sliding entry's control is
    // out of its range at y, the one farthest out leaves.
    void settle(double* y, DeepEventState& st) {
        const double span = 1.0 - net_.slope();
        for (std::size_t guard = 0; !slide_.empty() && guard <= slide_.size(); ++guard) {
            solve_mu(y, st);
            if (st.singular) return;
            std::size_t worst = slide_.size();
            double wv = 0.0;
            for (std::size_t q = 0; q < slide_.size(); ++q) {
                const double v = std::min(mu_[q] - net_.slope(), 1.0 - mu_[q]) / span + kMuSlack;
                if (v < wv) wv = v, worst = q;
            }
            if (worst == slide_.size()) return;
            leave(y, worst, mu_[worst] > 1.0, st);
        }
    }

    // A crossing event at y (just past it): the entries that crossed, with their one-sided rates under the
    // old and the flipped pattern (the other sliding entries held by their controls). A transversal one
    // flips; one that both sides push back to 0 joins the sliding set, put on Z = 0.
    void switch_pattern(double* y, DeepEventState& st) {
        apply_mu();
        net_.forward(y);
        net_.crossed(cross_);
        if (cross_.empty()) return;  // rounding of the dense output: no entry past zero any more
        field(y, fo_.data(), st);
        net_.tangent(y, fo_.data());
        before_.clear();
        for (const auto& e : cross_) before_.push_back(net_.rate(e.h, e.j, e.u));
        for (const auto& e : cross_) net_.set(e.h, e.j, e.u, !net_.on(e.h, e.j, e.u));
        field(y, fo_.data(), st);
        net_.tangent(y, fo_.data());
        for (std::size_t q = 0; q < cross_.size(); ++q) {
            const auto& e = cross_[q];
            const bool was_on = !net_.on(e.h, e.j, e.u);
            const double s = was_on ? 1.0 : -1.0;  // the side it came from
            const double after = net_.rate(e.h, e.j, e.u);
            ++st.crossings;
            ++st.events;
            if (s * after <= 0.0) continue;  // goes on into the other side (or stays at 0 there: a dead unit)
            // both sides push it back: it slides, with the convex weight of its two one-sided fields
            const double lam = std::min(1.0, std::max(0.0, before_[q] / (before_[q] - after)));
            const double lam_on = was_on ? 1.0 - lam : lam;  // weight of the on side's field
            slide_.push_back(e);
            mu_.push_back(net_.slope() + lam_on * (1.0 - net_.slope()));
            net_.set_sliding(e.h, e.j, e.u, mu_.back());
            ++st.entries;
        }
        apply_mu();
        net_.forward(y);
        ++st.forward_evals;
        for (const auto& e : slide_) net_.project(y, e.h, e.j, e.u);
    }

    // Records in (t0, t1] from the continuous extension of the step y -> ynew of length h.
    void records(const double* y, double h, double t0, double t1, flow::RecordCursor& rec, DeepEventState& st) {
        while (rec.k < rec.n && rec.t[rec.k] <= t1) {
            const double th = std::min(1.0, std::max(0.0, (rec.t[rec.k] - t0) / h));
            w_.dense(y, h, th, w_.ytmp.data());
            ++st.forward_evals;
            rec.write(net_.forward(w_.ytmp.data()), st.accepted);
        }
    }

    PatternNet& net_;
    const flow::Tableau& tab_;
    flow::RKWork<double> w_;
    std::vector<double> fo_, before_;
    std::vector<PatternNet::Entry> cross_;
    std::vector<PatternNet::Entry> slide_;  // the sliding entries and their controls mu
    std::vector<double> mu_;
};

}  // namespace wideflow::deep
