// Gradient flow dy/dt = -grad L(y) by embedded explicit Runge-Kutta pairs with adaptive steps.
//
// A System provides
//   index_t size() const;                         // length N of the state vector
//   double rhs(const T* y, T* dydt);              // dydt = -grad L(y); returns L(y)
// and its rhs must be deterministic (fixed-order reductions), so a whole integration is bitwise
// reproducible for any thread count. The vector operations of the integrator run over fixed-size chunks
// of the state, and the error norm is reduced in chunk order.
//
// Error control (Hairer, Norsett & Wanner, "Solving ODEs I", II.4): the embedded difference
// err_i = h * sum_j e_j k_j,i is measured in the RMS norm of err_i / (atol + rtol * max(|y_i|, |y_new_i|));
// a step is accepted when that norm is <= 1, and the next step is h * min(5, max(0.2, 0.9 * norm^(-1/q)))
// with q the lower order + 1. The higher-order solution is propagated (local extrapolation); FSAL pairs
// reuse the last stage as the next step's first.
//
// Every call is bounded: at most max_steps accepted steps, at most max_rejections rejected trial steps
// and about max_seconds of wall time (checked after each trial step), so that the Python driver regains
// control (Ctrl-C, progress) often. A step size that is NaN, infinite, zero or below 1e-14 * max(1, |t|)
// ends the run as failed, with the reason in FlowState::failure.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::flow {

struct Tableau {
    int stages;
    int error_order;  // order of the embedded (lower) method + 1: the exponent of the step controller
    bool fsal;
    std::vector<double> c;  // nodes, size stages
    std::vector<double> a;  // stages x stages, row-major, strictly lower triangular
    std::vector<double> b;  // weights of the propagated solution
    std::vector<double> e;  // b - b_hat (error weights)
    // Continuous extension (dense output) of an accepted step of length h from y0:
    //   y(t0 + theta h) = y0 + h sum_s k_s sum_{p<dense_degree} P[s][p] theta^(p+1),   0 <= theta <= 1,
    // with the FSAL stage k_{S-1} = f(y1) included; P is stages x dense_degree, row-major (the
    // coefficients of SciPy's RK45 / RK23: Shampine's quartic for Dormand-Prince, Hermite cubic for BS).
    int dense_degree = 0;
    std::vector<double> p;
};

// Weights w_s(theta) = sum_p P[s][p] theta^(p+1) of the continuous extension (w has `stages` entries).
inline void dense_weights(const Tableau& t, double theta, double* w) {
    for (int s = 0; s < t.stages; ++s) {
        double acc = 0.0, pw = theta;
        for (int q = 0; q < t.dense_degree; ++q) {
            acc += t.p[s * t.dense_degree + q] * pw;
            pw *= theta;
        }
        w[s] = acc;
    }
}

// Dormand & Prince (1980) 5(4), FSAL.
inline const Tableau& dopri5() {
    static const Tableau t = [] {
        Tableau k;
        k.stages = 7;
        k.error_order = 5;
        k.fsal = true;
        k.c = {0.0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
        k.a.assign(49, 0.0);
        auto A = [&](int i, int j, double v) { k.a[i * 7 + j] = v; };
        A(1, 0, 1.0 / 5);
        A(2, 0, 3.0 / 40);
        A(2, 1, 9.0 / 40);
        A(3, 0, 44.0 / 45);
        A(3, 1, -56.0 / 15);
        A(3, 2, 32.0 / 9);
        A(4, 0, 19372.0 / 6561);
        A(4, 1, -25360.0 / 2187);
        A(4, 2, 64448.0 / 6561);
        A(4, 3, -212.0 / 729);
        A(5, 0, 9017.0 / 3168);
        A(5, 1, -355.0 / 33);
        A(5, 2, 46732.0 / 5247);
        A(5, 3, 49.0 / 176);
        A(5, 4, -5103.0 / 18656);
        A(6, 0, 35.0 / 384);
        A(6, 2, 500.0 / 1113);
        A(6, 3, 125.0 / 192);
        A(6, 4, -2187.0 / 6784);
        A(6, 5, 11.0 / 84);
        k.b = {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0};
        const std::vector<double> bh = {5179.0 / 57600,    0.0,          7571.0 / 16695, 393.0 / 640,
                                        -92097.0 / 339200, 187.0 / 2100, 1.0 / 40};
        k.e.resize(7);
        for (int i = 0; i < 7; ++i) k.e[i] = k.b[i] - bh[i];
        k.dense_degree = 4;
        k.p = {1.0,
               -8048581381.0 / 2820520608,
               8663915743.0 / 2820520608,
               -12715105075.0 / 11282082432,
               0.0,
               0.0,
               0.0,
               0.0,
               0.0,
               131558114200.0 / 32700410799,
               -68118460800.0 / 10900136933,
               87487479700.0 / 32700410799,
               0.0,
               -1754552775.0 / 470086768,
               14199869525.0 / 1410260304,
               -10690763975.0 / 1880347072,
               0.0,
               127303824393.0 / 49829197408,
               -318862633887.0 / 49829197408,
               701980252875.0 / 199316789632,
               0.0,
               -282668133.0 / 205662961,
               2019193451.0 / 616988883,
               -1453857185.0 / 822651844,
               0.0,
               40617522.0 / 29380423,
               -110615467.0 / 29380423,
               69997945.0 / 29380423};
        return k;
    }();
    return t;
}

// Bogacki & Shampine (1989) 3(2), FSAL.
inline const Tableau& bs32() {
    static const Tableau t = [] {
        Tableau k;
        k.stages = 4;
        k.error_order = 3;
        k.fsal = true;
        k.c = {0.0, 1.0 / 2, 3.0 / 4, 1.0};
        k.a.assign(16, 0.0);
        k.a[1 * 4 + 0] = 1.0 / 2;
        k.a[2 * 4 + 1] = 3.0 / 4;
        k.a[3 * 4 + 0] = 2.0 / 9;
        k.a[3 * 4 + 1] = 1.0 / 3;
        k.a[3 * 4 + 2] = 4.0 / 9;
        k.b = {2.0 / 9, 1.0 / 3, 4.0 / 9, 0.0};
        const std::vector<double> bh = {7.0 / 24, 1.0 / 4, 1.0 / 3, 1.0 / 8};
        k.e.resize(4);
        for (int i = 0; i < 4; ++i) k.e[i] = k.b[i] - bh[i];
        k.dense_degree = 3;
        k.p = {1.0, -4.0 / 3, 5.0 / 9, 0.0, 1.0, -2.0 / 3, 0.0, 4.0 / 3, -8.0 / 9, 0.0, -1.0, 1.0};
        return k;
    }();
    return t;
}

// Integration state carried between calls (the Python driver calls integrate() in bounded chunks).
struct FlowState {
    double t = 0.0;         // current flow time
    double h = 0.0;         // next trial step (0: choose automatically)
    double loss = NAN;      // L(y) at the current state (valid when have_rhs)
    bool have_rhs = false;  // k[0] holds rhs(y) (FSAL)
    long long accepted = 0, rejected = 0, evals = 0;
    const char* failure = "";  // why the run failed (empty while it has not)
};

struct FlowResult {
    index_t steps = 0;     // accepted steps in this call
    bool reached = false;  // t == t_stop
    bool failed = false;   // non-finite state or step size underflow (st.failure says which)
};

// Per-call bounds of Integrator::integrate (see the header comment).
struct CallBudget {
    index_t max_rejections = 10000;
    double max_seconds = 0.5;
};

// The vector work of an embedded RK pair on a state of n values: stage vectors, stage combinations, the
// error norm and the starting step, over fixed-size chunks reduced in chunk order (any thread count gives
// the same bits). Shared by Integrator and the event-aware integrators.
template <class T>
struct RKWork {
    static constexpr index_t kVec = 256;  // block of the vectorized loops
    const Tableau& tab;
    int threads;
    index_t n;
    ChunkPlan plan;
    std::vector<std::vector<T>> k;
    std::vector<T> ytmp, ynew;
    std::vector<double> part;

    RKWork(const Tableau& t, index_t size, int thr)
        : tab(t), threads(threads_for(size, thr)), n(size), plan(plan_chunks(n, 1 << 14, index_t(1) << 20, 64, 64)) {
        k.assign(static_cast<std::size_t>(tab.stages), std::vector<T>(static_cast<std::size_t>(n)));
        ytmp.resize(static_cast<std::size_t>(n));
        ynew.resize(static_cast<std::size_t>(n));
        part.resize(static_cast<std::size_t>(plan.count));
    }

    // out = y + h * sum_{j<s} coef[j] k_j
    void combine(const T* y, double h, int s, T* out, const double* coef) {
        parallel_for(plan.count, threads, [&](index_t q) {
            const index_t i0 = plan.begin(q), i1 = plan.end(q, n);
            alignas(64) T acc[kVec];
            for (index_t b = i0; b < i1; b += kVec) {  // blocks: one pass over out, the stages in order
                const index_t len = std::min<index_t>(kVec, i1 - b);
                for (index_t i = 0; i < len; ++i) acc[i] = y[b + i];
                for (int j = 0; j < s; ++j) {
                    if (coef[j] == 0.0) continue;
                    const T w = T(h * coef[j]);
                    const T* __restrict kj = k[j].data() + b;
                    for (index_t i = 0; i < len; ++i) acc[i] += w * kj[i];
                }
                for (index_t i = 0; i < len; ++i) out[b + i] = acc[i];
            }
        });
    }

    void copy(const T* src, T* dst) {
        parallel_for(plan.count, threads, [&](index_t q) {
            const index_t i0 = plan.begin(q), i1 = plan.end(q, n);
            std::copy(src + i0, src + i1, dst + i0);
        });
    }

    // out = y(t0 + theta h) from the continuous extension of the step y -> ynew (stages in k). Blocks of
    // kVec values, the stages summed in stage order per value (vectorized across values).
    void dense(const T* y, double h, double theta, T* out) {
        double w[16];
        dense_weights(tab, theta, w);
        for (int s = 0; s < tab.stages; ++s) w[s] *= h;
        const int S = tab.stages;
        const T* ks[16];
        for (int s = 0; s < S; ++s) ks[s] = k[s].data();
        parallel_for(plan.count, threads, [&](index_t q) {
            const index_t i0 = plan.begin(q), i1 = plan.end(q, n);
            alignas(64) double acc[kVec];
            for (index_t b = i0; b < i1; b += kVec) {
                const index_t len = std::min<index_t>(kVec, i1 - b);
                for (index_t i = 0; i < len; ++i) acc[i] = 0.0;
                for (int s = 0; s < S; ++s) {
                    const T* __restrict kb = ks[s] + b;
                    const double ws = w[s];
                    for (index_t i = 0; i < len; ++i) acc[i] += ws * double(kb[i]);
                }
                for (index_t i = 0; i < len; ++i) out[b + i] = T(double(y[b + i]) + acc[i]);
            }
        });
    }

    // RMS of err_i / (atol + rtol max(|y_i|, |ynew_i|)), err_i = h sum_j e_j k_j,i; the squares are summed
    // in 8 interleaved partial sums per chunk (fixed order), then the chunks in order.
    double error_norm(const T* y, double h, double rtol, double atol) {
        const int S = tab.stages;
        const T* ks[16];
        for (int s = 0; s < S; ++s) ks[s] = k[s].data();
        parallel_for(plan.count, threads, [&](index_t q) {
            const index_t i0 = plan.begin(q), i1 = plan.end(q, n);
            alignas(64) double e[kVec];
            double lane[8] = {0.0};
            for (index_t b = i0; b < i1; b += kVec) {
                const index_t len = std::min<index_t>(kVec, i1 - b);
                for (index_t i = 0; i < len; ++i) e[i] = 0.0;
                for (int j = 0; j < S; ++j) {
                    if (tab.e[j] == 0.0) continue;
                    const T* __restrict kb = ks[j] + b;
                    const double ej = tab.e[j];
                    for (index_t i = 0; i < len; ++i) e[i] += ej * double(kb[i]);
                }
                for (index_t i = 0; i < len; ++i) {
                    const double sc = atol + rtol * std::max(std::abs(double(y[b + i])), std::abs(double(ynew[b + i])));
                    e[i] = h * e[i] / sc;
                }
                index_t i = 0;
                for (; i + 8 <= len; i += 8)
                    for (int l = 0; l < 8; ++l) lane[l] += e[i + l] * e[i + l];
                for (; i < len; ++i) lane[i % 8] += e[i] * e[i];
            }
            double acc = 0.0;
            for (int l = 0; l < 8; ++l) acc += lane[l];
            part[q] = acc;
        });
        double tot = 0.0;
        for (index_t q = 0; q < plan.count; ++q) tot += part[q];
        return std::sqrt(tot / double(std::max<index_t>(n, 1)));
    }

    // Hairer's starting step (Solving ODEs I, II.4): h0 = 0.01 ||y|| / ||f||, then a one-Euler-step
    // estimate of the second derivative. k[0] holds f(y); uses k[1] as scratch.
    template <class System>
    double initial_step(System& sys, const T* y, double rtol, double atol) {
        double d0 = 0.0, d1 = 0.0;
        for (index_t i = 0; i < n; ++i) {
            const double sc = atol + rtol * std::abs(double(y[i]));
            d0 += (double(y[i]) / sc) * (double(y[i]) / sc);
            d1 += (double(k[0][i]) / sc) * (double(k[0][i]) / sc);
        }
        d0 = std::sqrt(d0 / n);
        d1 = std::sqrt(d1 / n);
        double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
        for (index_t i = 0; i < n; ++i) ytmp[i] = y[i] + T(h0) * k[0][i];
        std::vector<T>& f1 = k[1];
        sys.rhs(ytmp.data(), f1.data());
        double d2 = 0.0;
        for (index_t i = 0; i < n; ++i) {
            const double sc = atol + rtol * std::abs(double(y[i]));
            const double dd = (double(f1[i]) - double(k[0][i])) / sc;
            d2 += dd * dd;
        }
        d2 = std::sqrt(d2 / n) / h0;
        const double h1 = (std::max(d1, d2) <= 1e-15) ? std::max(1e-6, h0 * 1e-3)
                                                      : std::pow(0.01 / std::max(d1, d2), 1.0 / tab.error_order);
        return std::min(100 * h0, h1);
    }
};

// The step-size factor of the controller after a step with error norm err (accepted or not).
inline double step_factor(double err, int order, bool accepted) {
    if (!accepted) return std::isfinite(err) ? std::max(0.2, 0.9 * std::pow(err, -1.0 / order)) : 0.2;
    return err > 0 ? std::min(5.0, std::max(0.2, 0.9 * std::pow(err, -1.0 / order))) : 5.0;
}

// The wall clock of one integrate() call, against its CallBudget's max_seconds.
class CallClock {
public:
    explicit CallClock(double max_seconds) : start_(std::chrono::steady_clock::now()), max_(max_seconds) {}
    bool out() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() > max_; }

private:
    std::chrono::steady_clock::time_point start_;
    double max_;
};

// Failure reasons of the integrators.
constexpr const char* kBadInitialStep =
    "the initial step size is not a positive finite number (rtol/atol too small for the size of the state or its "
    "gradient)";
constexpr const char* kStepNotFinite = "the step size is not finite";

// The next trial step after an accepted step of length h with controller factor fac; `last`: h was cut
// short to land on t_stop. Then the step the controller had proposed (h_prev) is kept (shrunk by fac < 1),
// or the shortened step's proposal if larger: never h_prev * fac > h_prev, which a run of steps landing on
// close record times would grow without bound.
inline double accepted_step(double h_prev, double h, bool last, double fac) {
    return last ? std::max(h_prev * std::min(fac, 1.0), h * fac) : h * fac;
}

// The next trial step after a step of length h rejected with error norm err (at time t) into h_new; the
// reason it cannot be used (the flow is stiff or blew up), or nullptr.
inline const char* rejected_step(double h, double err, int order, double t, double& h_new) {
    h_new = h * step_factor(err, order, false);
    if (h_new >= 1e-14 * std::max(1.0, std::abs(t))) return nullptr;  // NaN fails too
    return std::isfinite(h_new) ? "the step size underflowed (stiff or divergent flow)" : kStepNotFinite;
}

// The Illinois (modified regula falsi) root of f on a bracket (lo, hi] with past(f(hi)) and !past(f(lo)):
// at most max_it trials while hi - lo > abs_tol + rel_tol hi, a bisection every `bisect_every`-th trial
// (0: never); returns the end hi of the final bracket (past(f(hi)) holds there).
template <class F, class Past>
double illinois_root(F&& f, Past&& past, double lo, double hi, double flo, double fhi, int max_it, double abs_tol,
                     double rel_tol, int bisect_every) {
    int side = 0;
    for (int it = 0; it < max_it && hi - lo > abs_tol + rel_tol * hi; ++it) {
        double mid = flo - fhi != 0.0 ? hi - fhi * (hi - lo) / (fhi - flo) : 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi) || (bisect_every > 0 && it % bisect_every == bisect_every - 1))
            mid = 0.5 * (lo + hi);
        const double fm = f(mid);
        if (past(fm)) {
            hi = mid, fhi = fm;
            if (side == -1) flo *= 0.5;
            side = -1;
        } else {
            lo = mid, flo = fm;
            if (side == 1) fhi *= 0.5;
            side = 1;
        }
    }
    return hi;
}

// Record times t[k..n) (ascending) still to be written by an event-aware integrator from its steps'
// continuous extension: loss[k] and steps[k] (accepted steps so far).
struct RecordCursor {
    const double* t = nullptr;
    index_t n = 0, k = 0;
    double* loss = nullptr;
    long long* steps = nullptr;
    void write(double l, long long s) {
        loss[k] = l;
        steps[k] = s;
        ++k;
    }
};

// Zeno protection of the event-aware integrators: a run ends when `events` consecutive event-cut steps
// happen within window * max(1, |t|) of flow time.
struct ZenoOptions {
    long long zeno_events = 1000;
    double zeno_window = 1e-12;
};
struct ZenoRing {
    std::vector<double> times;  // the last zeno_events cut steps' times
    std::size_t pos = 0;
    // A cut step at t, the count-th so far: whether the run is Zeno.
    bool cut(double t, long long count, const ZenoOptions& opt) {
        const std::size_t K = static_cast<std::size_t>(std::max<long long>(1, opt.zeno_events));
        if (times.size() != K) times.assign(K, -INFINITY), pos = 0;
        const double oldest = times[pos];
        times[pos] = t;
        pos = (pos + 1) % K;
        return count > static_cast<long long>(K) && t - oldest <= opt.zeno_window * std::max(1.0, std::abs(t));
    }
};

template <class T, class System>
class Integrator {
public:
    Integrator(System& sys, const Tableau& tab, int threads) : sys_(sys), tab_(tab), w_(tab, sys.size(), threads) {}

    // Integrate y in place from st.t towards t_stop, at most max_steps accepted steps.
    // loss_out / t_out (size >= max_steps) receive the loss and time after each accepted step.
    FlowResult integrate(T* y, FlowState& st, double t_stop, double rtol, double atol, index_t max_steps, double* t_out,
                         double* loss_out, const CallBudget& budget = CallBudget()) {
        FlowResult res;
        const int S = tab_.stages;
        auto& k_ = w_.k;
        const CallClock clock(budget.max_seconds);
        auto fail = [&](const char* why) {
            st.failure = why;
            res.failed = true;
            return res;
        };
        if (!st.have_rhs) {
            st.loss = sys_.rhs(y, k_[0].data());
            ++st.evals;
            st.have_rhs = true;
            if (!std::isfinite(st.loss)) return fail("the loss is not finite");
        }
        if (st.h <= 0.0) {
            st.h = w_.initial_step(sys_, y, rtol, atol);
            ++st.evals;
            if (!(st.h > 0.0) || !std::isfinite(st.h)) return fail(kBadInitialStep);
        }
        index_t rejected_here = 0;
        while (res.steps < max_steps && st.t < t_stop) {
            double h = std::min(st.h, t_stop - st.t);
            const bool last = h >= t_stop - st.t;
            // stages 1..S-1
            double new_loss = NAN;
            for (int s = 1; s < S; ++s) {
                w_.combine(y, h, s, w_.ytmp.data(), tab_.a.data() + s * S);
                const double L = sys_.rhs(w_.ytmp.data(), k_[s].data());
                ++st.evals;
                if (tab_.fsal && s == S - 1) new_loss = L;
            }
            // propagated solution and error norm
            w_.combine(y, h, S, w_.ynew.data(), tab_.b.data());
            double err = w_.error_norm(y, h, rtol, atol);
            if (tab_.fsal && !std::isfinite(new_loss)) err = NAN;  // never accept a non-finite loss
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                if (const char* why = rejected_step(h, err, tab_.error_order, st.t, st.h)) return fail(why);
                if (++rejected_here >= budget.max_rejections || clock.out()) break;
                continue;
            }
            // accept
            w_.copy(w_.ynew.data(), y);
            if (tab_.fsal) {
                std::swap(k_[0], k_[S - 1]);
                st.loss = new_loss;
            } else {
                st.loss = sys_.rhs(y, k_[0].data());
                ++st.evals;
            }
            st.t = last ? t_stop : st.t + h;
            ++st.accepted;
            t_out[res.steps] = st.t;
            loss_out[res.steps] = st.loss;
            ++res.steps;
            const double fac = step_factor(err, tab_.error_order, true);
            // keep the controller's step, not the one shortened to land on t_stop
            st.h = accepted_step(st.h, h, last, fac);
            if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail(kStepNotFinite);
            if (clock.out()) break;
        }
        res.reached = st.t >= t_stop;
        return res;
    }

private:
    System& sys_;
    const Tableau& tab_;
    RKWork<T> w_;
};

}  // namespace wideflow::flow
