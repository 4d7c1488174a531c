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
//  3. otherwise (s dZ+/dt > 0) both one-sided fields push Z_h[j, u] to 0: Filippov sliding. In a deep net
//     a sliding pre-activation couples to every other one through the later layers (a linear
//     complementarity problem for several of them); it is not integrated. The run ends there with status
//     "sliding", and reports the entry, the time, the two rates and the convex weight
//     lambda = r- / (r- - r+) of the sliding field (1 - lambda) F- + lambda F+ that keeps dZ/dt = 0.
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

#include "wideflow/deep_events.hpp"
#include "wideflow/flow.hpp"

namespace wideflow::deep {

struct DeepEventState {
    double t = 0.0, h = 0.0, loss = NAN;
    bool have_rhs = false, started = false, zeno = false, sliding = false;
    long long accepted = 0, rejected = 0, evals = 0, forward_evals = 0, events = 0, cut_steps = 0;
    std::string failure;
    flow::ZenoRing ring;
    // the sliding entry found (when sliding): hidden layer (1-based), sample, unit, time, the one-sided rates
    // dZ/dt under the old (r-) and the flipped (r+) pattern, and lambda
    index_t slide_layer = -1, slide_sample = -1, slide_unit = -1;
    double slide_t = NAN, rate_before = NAN, rate_after = NAN, slide_lambda = NAN;
};

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
            st.loss = net_.field(y, k[0].data());
            ++st.evals;
            st.have_rhs = true;
        }
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
            for (int s = 1; s < S; ++s) {
                w_.combine(y, h, s, w_.ytmp.data(), tab_.a.data() + s * S);
                const double L = net_.field(w_.ytmp.data(), k[s].data());
                ++st.evals;
                if (tab_.fsal && s == S - 1) new_loss = L;
            }
            w_.combine(y, h, S, w_.ynew.data(), tab_.b.data());
            double err = w_.error_norm(y, h, rtol, atol);
            if (tab_.fsal && !std::isfinite(new_loss)) err = NAN;
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                if (const char* why = flow::rejected_step(h, err, tab_.error_order, st.t, st.h)) return fail(why);
                if (++rejected_here >= budget.max_rejections || clock.out()) break;
                continue;
            }
            const double h_next = (last ? std::max(st.h, h) : h) * flow::step_factor(err, tab_.error_order, true);
            ++st.accepted;
            ++res.steps;
            net_.forward(w_.ynew.data());
            ++st.forward_evals;
            const double theta = net_.margin() < 0.0 ? first_crossing(y, h, st) : 1.0;
            if (theta >= 1.0) {  // no event: the whole step
                const double t1 = last ? t_stop : st.t + h;
                records(y, h, st.t, t1, rec, st);
                w_.copy(w_.ynew.data(), y);
                if (tab_.fsal) {
                    std::swap(k[0], k[S - 1]);
                    st.loss = new_loss;
                } else {
                    st.loss = net_.field(y, k[0].data());
                    ++st.evals;
                }
                st.t = t1;
                st.h = h_next;
                if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail(flow::kStepNotFinite);
                if (clock.out()) break;
                continue;
            }
            // the step ends just past the first crossing
            const double t1 = st.t + theta * h;
            records(y, h, st.t, t1, rec, st);
            w_.dense(y, h, theta, w_.ytmp.data());
            w_.copy(w_.ytmp.data(), y);
            st.t = t1;
            st.h = h_next;
            if (!switch_pattern(y, st)) {  // sliding: the run ends at the entry's kink, with the old pattern
                st.loss = net_.field(y, k[0].data());
                ++st.evals;
                st.have_rhs = true;
                return fail(st.failure);
            }
            st.have_rhs = true;
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

    // At an event (y just past it): the entries that crossed, their one-sided rates; flip them when every
    // crossing is transversal (k_0 then holds the new field), else record the sliding and return false.
    bool switch_pattern(const double* y, DeepEventState& st) {
        auto& k0 = w_.k[0];
        net_.forward(y);
        net_.crossed(cross_);
        if (cross_.empty()) {  // rounding of the dense output: no entry past zero any more
            st.loss = net_.field(y, k0.data());
            ++st.evals;
            return true;
        }
        net_.field(y, fo_.data());
        ++st.evals;
        net_.tangent(y, fo_.data());
        before_.clear();
        for (const auto& e : cross_) before_.push_back(net_.rate(e.h, e.j, e.u));
        for (const auto& e : cross_) net_.set(e.h, e.j, e.u, !net_.on(e.h, e.j, e.u));
        st.loss = net_.field(y, k0.data());
        ++st.evals;
        net_.tangent(y, k0.data());
        for (std::size_t q = 0; q < cross_.size(); ++q) {
            const auto& e = cross_[q];
            const double s = net_.on(e.h, e.j, e.u) ? -1.0 : 1.0;  // the side it came from
            const double after = net_.rate(e.h, e.j, e.u);
            if (s * after <= 0.0) continue;  // goes on into the other side (or stays at 0 there: a dead unit)
            for (const auto& f : cross_) net_.set(f.h, f.j, f.u, !net_.on(f.h, f.j, f.u));  // back to the old one
            st.sliding = true;
            st.slide_layer = e.h, st.slide_sample = e.j, st.slide_unit = e.u;
            st.slide_t = st.t, st.rate_before = before_[q], st.rate_after = after;
            st.slide_lambda = before_[q] / (before_[q] - after);
            st.failure = "sliding: the pre-activation of unit " + std::to_string(e.u) + " of hidden layer " +
                         std::to_string(e.h) + " on sample " + std::to_string(e.j) +
                         " reached 0 at t = " + std::to_string(st.t) +
                         " and both one-sided fields push it back to 0 (Filippov sliding, coupled through the "
                         "later layers; not integrated for deep nets)";
            return false;
        }
        st.events += static_cast<long long>(cross_.size());
        return true;
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
};

}  // namespace wideflow::deep
