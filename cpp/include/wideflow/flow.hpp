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
};

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
        A(2, 0, 3.0 / 40); A(2, 1, 9.0 / 40);
        A(3, 0, 44.0 / 45); A(3, 1, -56.0 / 15); A(3, 2, 32.0 / 9);
        A(4, 0, 19372.0 / 6561); A(4, 1, -25360.0 / 2187); A(4, 2, 64448.0 / 6561); A(4, 3, -212.0 / 729);
        A(5, 0, 9017.0 / 3168); A(5, 1, -355.0 / 33); A(5, 2, 46732.0 / 5247); A(5, 3, 49.0 / 176);
        A(5, 4, -5103.0 / 18656);
        A(6, 0, 35.0 / 384); A(6, 2, 500.0 / 1113); A(6, 3, 125.0 / 192); A(6, 4, -2187.0 / 6784);
        A(6, 5, 11.0 / 84);
        k.b = {35.0 / 384, 0.0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0.0};
        const std::vector<double> bh = {5179.0 / 57600, 0.0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200,
                                        187.0 / 2100, 1.0 / 40};
        k.e.resize(7);
        for (int i = 0; i < 7; ++i) k.e[i] = k.b[i] - bh[i];
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
        k.a[3 * 4 + 0] = 2.0 / 9; k.a[3 * 4 + 1] = 1.0 / 3; k.a[3 * 4 + 2] = 4.0 / 9;
        k.b = {2.0 / 9, 1.0 / 3, 4.0 / 9, 0.0};
        const std::vector<double> bh = {7.0 / 24, 1.0 / 4, 1.0 / 3, 1.0 / 8};
        k.e.resize(4);
        for (int i = 0; i < 4; ++i) k.e[i] = k.b[i] - bh[i];
        return k;
    }();
    return t;
}

// Integration state carried between calls (the Python driver calls integrate() in bounded chunks).
struct FlowState {
    double t = 0.0;          // current flow time
    double h = 0.0;          // next trial step (0: choose automatically)
    double loss = NAN;       // L(y) at the current state (valid when have_rhs)
    bool have_rhs = false;   // k[0] holds rhs(y) (FSAL)
    long long accepted = 0, rejected = 0, evals = 0;
    const char* failure = "";  // why the run failed (empty while it has not)
};

struct FlowResult {
    index_t steps = 0;       // accepted steps in this call
    bool reached = false;    // t == t_stop
    bool failed = false;     // non-finite state or step size underflow (st.failure says which)
};

// Per-call bounds of Integrator::integrate (see the header comment).
struct CallBudget {
    index_t max_rejections = 10000;
    double max_seconds = 0.5;
};

template <class T, class System>
class Integrator {
public:
    Integrator(System& sys, const Tableau& tab, int threads)
        : sys_(sys), tab_(tab), threads_(threads_for(sys.size(), threads)), n_(sys.size()),
          plan_(plan_chunks(n_, 1 << 14, index_t(1) << 20, 64, 64)) {
        k_.assign(static_cast<std::size_t>(tab.stages), std::vector<T>(static_cast<std::size_t>(n_)));
        ytmp_.resize(static_cast<std::size_t>(n_));
        ynew_.resize(static_cast<std::size_t>(n_));
        part_.resize(static_cast<std::size_t>(plan_.count));
    }

    // Integrate y in place from st.t towards t_stop, at most max_steps accepted steps.
    // loss_out / t_out (size >= max_steps) receive the loss and time after each accepted step.
    FlowResult integrate(T* y, FlowState& st, double t_stop, double rtol, double atol, index_t max_steps,
                         double* t_out, double* loss_out, const CallBudget& budget = CallBudget()) {
        FlowResult res;
        const int S = tab_.stages;
        const auto start = std::chrono::steady_clock::now();
        auto out_of_time = [&] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
                   budget.max_seconds;
        };
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
            st.h = initial_step(y, rtol, atol);
            ++st.evals;
            if (!(st.h > 0.0) || !std::isfinite(st.h))
                return fail("the initial step size is not a positive finite number (rtol/atol too small for "
                            "the size of the state or its gradient)");
        }
        index_t rejected_here = 0;
        while (res.steps < max_steps && st.t < t_stop) {
            double h = std::min(st.h, t_stop - st.t);
            const bool last = h >= t_stop - st.t;
            // stages 1..S-1
            double new_loss = NAN;
            for (int s = 1; s < S; ++s) {
                combine(y, h, s, ytmp_.data(), tab_.a.data() + s * S);
                const double L = sys_.rhs(ytmp_.data(), k_[s].data());
                ++st.evals;
                if (tab_.fsal && s == S - 1) new_loss = L;
            }
            // propagated solution and error norm
            combine(y, h, S, ynew_.data(), tab_.b.data());
            double err = error_norm(y, h, rtol, atol);
            if (tab_.fsal && !std::isfinite(new_loss)) err = NAN;  // never accept a non-finite loss
            if (!(err <= 1.0) || !std::isfinite(err)) {
                ++st.rejected;
                const double fac = std::isfinite(err) ? std::max(0.2, 0.9 * std::pow(err, -1.0 / tab_.error_order))
                                                      : 0.2;
                st.h = h * fac;
                if (!(st.h >= 1e-14 * std::max(1.0, std::abs(st.t))))  // NaN too
                    return fail(std::isfinite(st.h) ? "the step size underflowed (stiff or divergent flow)"
                                                    : "the step size is not finite");
                if (++rejected_here >= budget.max_rejections || out_of_time()) break;
                continue;
            }
            // accept
            copy(ynew_.data(), y);
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
            const double fac = err > 0 ? std::min(5.0, std::max(0.2, 0.9 * std::pow(err, -1.0 / tab_.error_order)))
                                       : 5.0;
            // keep the controller's step, not the one shortened to land on t_stop
            st.h = (last ? std::max(st.h, h) : h) * fac;
            if (!std::isfinite(st.h) || !(st.h > 0.0)) return fail("the step size is not finite");
            if (out_of_time()) break;
        }
        res.reached = st.t >= t_stop;
        return res;
    }

private:
    // out = y + h * sum_{j<s} coef[j] k_j
    void combine(const T* y, double h, int s, T* out, const double* coef) {
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, n_);
            for (index_t i = i0; i < i1; ++i) out[i] = y[i];
            for (int j = 0; j < s; ++j) {
                if (coef[j] == 0.0) continue;
                const T w = T(h * coef[j]);
                const T* __restrict kj = k_[j].data();
                T* __restrict o = out;
                for (index_t i = i0; i < i1; ++i) o[i] += w * kj[i];
            }
        });
    }

    void copy(const T* src, T* dst) {
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, n_);
            std::copy(src + i0, src + i1, dst + i0);
        });
    }

    double error_norm(const T* y, double h, double rtol, double atol) {
        const int S = tab_.stages;
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, n_);
            double acc = 0.0;
            for (index_t i = i0; i < i1; ++i) {
                double e = 0.0;
                for (int j = 0; j < S; ++j) e += tab_.e[j] * double(k_[j][i]);
                e *= h;
                const double sc = atol + rtol * std::max(std::abs(double(y[i])), std::abs(double(ynew_[i])));
                const double r = e / sc;
                acc += r * r;
            }
            part_[q] = acc;
        });
        double tot = 0.0;
        for (index_t q = 0; q < plan_.count; ++q) tot += part_[q];
        return std::sqrt(tot / double(std::max<index_t>(n_, 1)));
    }

    // Hairer's starting step (Solving ODEs I, II.4): h0 = 0.01 ||y|| / ||f||, then a one-Euler-step
    // estimate of the second derivative.
    double initial_step(const T* y, double rtol, double atol) {
        double d0 = 0.0, d1 = 0.0;
        for (index_t i = 0; i < n_; ++i) {
            const double sc = atol + rtol * std::abs(double(y[i]));
            d0 += (double(y[i]) / sc) * (double(y[i]) / sc);
            d1 += (double(k_[0][i]) / sc) * (double(k_[0][i]) / sc);
        }
        d0 = std::sqrt(d0 / n_);
        d1 = std::sqrt(d1 / n_);
        double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
        for (index_t i = 0; i < n_; ++i) ytmp_[i] = y[i] + T(h0) * k_[0][i];
        std::vector<T>& f1 = k_[1];
        sys_.rhs(ytmp_.data(), f1.data());
        double d2 = 0.0;
        for (index_t i = 0; i < n_; ++i) {
            const double sc = atol + rtol * std::abs(double(y[i]));
            const double dd = (double(f1[i]) - double(k_[0][i])) / sc;
            d2 += dd * dd;
        }
        d2 = std::sqrt(d2 / n_) / h0;
        const double h1 = (std::max(d1, d2) <= 1e-15) ? std::max(1e-6, h0 * 1e-3)
                                                       : std::pow(0.01 / std::max(d1, d2), 1.0 / tab_.error_order);
        return std::min(100 * h0, h1);
    }

    System& sys_;
    const Tableau& tab_;
    int threads_;
    index_t n_;
    ChunkPlan plan_;
    std::vector<std::vector<T>> k_;
    std::vector<T> ytmp_, ynew_;
    std::vector<double> part_;
};

}  // namespace wideflow::flow
