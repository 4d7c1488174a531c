// The exact gradient flow of the shallow univariate ReLU network as a piecewise-smooth system: frozen
// active sets between events, kinks (events) where z_ij = a_i x_j + b_i changes sign, and per-neuron
// Filippov sliding for knots that sit on a sample.
//
// Modes. Every neuron carries a mode: its active set (a bin of the sorted kernel, see shallow_sorted.hpp:
// bin = cnt for the suffix of the last cnt samples, (n + 1) + cnt for the prefix of the first cnt) and,
// when it slides, the sample group g it is stuck on (samples with equal x form one group; they switch
// together). Between events the modes are frozen and the field is polynomial in the state:
//
//   da_i = -(s_in c_i / alpha) sum_{j in A_i} r_j x_j,   db_i = -(s_in c_i / alpha) sum_{j in A_i} r_j,
//   dc_i = -(s_out / alpha) sum_{j in A_i} r_j z_ij,     r_j = f(x_j) - y_j.
//
// Switching group g in or out of A_i changes only (da_i, db_i), by Delta_i = -(s_in c_i R_g / alpha)
// (x_g, 1) with R_g = sum_{j in g} r_j, so d z_ig/dt jumps by Delta dz_i = -(s_in c_i R_g / alpha)(x_g^2+1),
// and f, r and dc are continuous (z_ig = 0 there).
//
// Sliding. At z_ig = 0 let dz-_i (g inactive) and dz+_i = dz-_i + Delta dz_i (g active) be the one-sided
// rates. When dz-_i > 0 > dz+_i both sides push z_ig to 0 and the neuron slides (Filippov): its (a, b)
// moves with g- + lambda_i Delta_i, lambda_i = -dz-_i / Delta dz_i in (0, 1), which is the orthogonal
// projection of g- onto the line a x_g + b = 0 (Delta_i is normal to it). Sliding ends when lambda_i
// reaches 0 (dz-_i = 0: the neuron leaves with g inactive) or 1 (dz+_i = 0: with g active). Along free and
// sliding motion delta_i = c_i^2 - a_i^2 - b_i^2 is conserved when everything trains (s_in = s_out = 1):
// d(a^2 + b^2)/dt = 2(a da + b db) and a Delta_a + b Delta_b ∝ z_ig = 0.
//
// At a kink reached from one side (the side's rate points at the surface) the neuron crosses when the
// other side's rate points away from it, and slides otherwise. A knot placed on a sample at t = 0 whose
// two rates both point away (a repelling kink: the flow is not unique) takes the kernels' convention
// relu'(0) = 0: g inactive, as gradient descent does. A neuron with a_i = b_i = 0 keeps the convention
// (inactive everywhere) and stays there.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "wideflow/shallow_sorted.hpp"

namespace wideflow::shallow {

// A neuron whose frozen active set no longer matches its state: sample group [lo, hi) of neuron i changed
// sign; bin_with / bin_without are the neuron's bins with the group active / inactive; sign = +1 when the
// group is active in the frozen mode (z must stay >= 0), -1 when inactive (z must stay <= 0).
struct Crossing {
    index_t i = 0, lo = 0, hi = 0;
    bin_t bin_with = 0, bin_without = 0;
    int sign = 1;
    double theta = 1.0;  // first time (fraction of the step) where the sign is wrong
};

// Slack eta of the sliding test: a neuron slides while lambda_i lies in (-eta, 1 + eta). A knot that
// settles at the edge of sliding (lambda_i -> 0 or 1, a grazing configuration) would otherwise be sent in
// and out of sliding by rounding, an event per step; a real exit is found eta / |d lambda/dt| later,
// which moves the state by O((eta / |d lambda/dt|)^2) (the two fields agree at the exit).
constexpr double kLambdaSlack = 1e-7;

template <class T>
class EventSystem {
public:
    // x ascending (length n); scale_inner / scale_outer (0 or 1) select what trains.
    EventSystem(index_t m, double inv_alpha, const double* x, const double* y, index_t n, double scale_inner,
                double scale_outer, int threads)
        : m_(m),
          n_(n),
          inv_alpha_(inv_alpha),
          x_(x),
          y_(y),
          si_(scale_inner),
          so_(scale_outer),
          threads_(threads_for(m * 2, threads)),
          plan_(sorted_plan(m, n)),
          hs_(static_cast<std::size_t>(plan_.count)),
          bin_(static_cast<std::size_t>(m)),
          slide_(static_cast<std::size_t>(m), -1),
          flag_(static_cast<std::size_t>(m)),
          xt_(static_cast<std::size_t>(n)),
          glo_(static_cast<std::size_t>(n)),
          ghi_(static_cast<std::size_t>(n)),
          pred_(static_cast<std::size_t>(n)),
          r_(static_cast<std::size_t>(n)),
          S_(static_cast<std::size_t>(2 * (n + 1))),
          SX_(static_cast<std::size_t>(2 * (n + 1))) {
        for (index_t j = 0; j < n; ++j) xt_[j] = T(x[j]);
        for (index_t j = 0; j < n; ++j) glo_[j] = (j > 0 && x[j] == x[j - 1]) ? glo_[j - 1] : j;
        for (index_t j = n - 1; j >= 0; --j) ghi_[j] = (j + 1 < n && x[j] == x[j + 1]) ? ghi_[j + 1] : j + 1;
    }

    index_t size() const { return 3 * m_; }
    index_t width() const { return m_; }
    index_t samples() const { return n_; }
    double x(index_t j) const { return x_[j]; }
    double inv_alpha() const { return inv_alpha_; }
    double scale_inner() const { return si_; }
    const std::vector<bin_t>& bins() const { return bin_; }
    const std::vector<index_t>& sliders() const { return sliders_; }
    index_t slide_group(index_t i) const { return slide_[i]; }
    bin_t& bin(index_t i) { return bin_[i]; }

    // The kernels' modes of a state (z > 0 active, nothing slides), and the neurons whose knot sits exactly
    // on a sample (z = 0 at the first inactive sample, a != 0): the crossings to settle at t = 0.
    void reset_modes(const T* s, std::vector<Crossing>& on_data) {
        const T* a = s;
        const T* b = s + m_;
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            for (index_t k = i0; k < i1; k += kBlock)
                active_bins(a + k, b + k, std::min(kBlock, i1 - k), xt_.data(), n_, bin_.data() + k);
        });
        std::fill(slide_.begin(), slide_.end(), -1);
        sliders_.clear();
        on_data.clear();
        for (index_t i = 0; i < m_; ++i) {
            if (a[i] == T(0)) continue;
            const bool up = a[i] > T(0);
            const index_t cnt = bin_[i] <= n_ ? bin_[i] : bin_[i] - (n_ + 1);
            if (cnt == n_) continue;
            const index_t off = up ? n_ - cnt - 1 : cnt;  // the first inactive sample next to the active set
            if (a[i] * xt_[off] + b[i] == T(0)) on_data.push_back(crossing(i, off, up, -1));
        }
    }

    // -grad L with the modes frozen (sliding neurons projected); returns L.
    double rhs(const T* s, T* d) {
        forward(s);
        const double loss = residuals(pred_.data(), y_, n_, r_.data());
        active_sums(r_.data(), x_, n_, S_.data(), SX_.data());
        const T* a = s;
        const T* b = s + m_;
        const T* c = s + 2 * m_;
        const T g_ab = T(-si_ * inv_alpha_), g_c = T(-so_ * inv_alpha_);
        const double* Sp = S_.data();
        const double* SXp = SX_.data();
        const bin_t* bins = bin_.data();
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            for (index_t i = i0; i < i1; ++i) {
                const T Si = T(Sp[bins[i]]), SXi = T(SXp[bins[i]]);
                d[i] = g_ab * c[i] * SXi;
                d[m_ + i] = g_ab * c[i] * Si;
                d[2 * m_ + i] = g_c * (a[i] * SXi + b[i] * Si);
            }
        });
        dn_.resize(sliders_.size());
        dd_.resize(sliders_.size());
        for (std::size_t k = 0; k < sliders_.size(); ++k) {  // few: serial, in index order
            const index_t i = sliders_[k], g = slide_[i];
            const double dn = project(i, g, d);
            dn_[k] = dn;
            dd_[k] = jump(i, g, double(c[i]));
        }
        return loss;
    }

    // L with the modes frozen (for records from the dense output).
    double loss(const T* s) {
        forward(s);
        return residuals(pred_.data(), y_, n_, r_.data());
    }

    // Exit function of slider k after the last rhs: > 0 while lambda_k in (-eta, 1 + eta) with
    // Delta dz_k < 0, i.e. min(dz- + eta |Delta|, -dz+ + eta |Delta|) (eta = kLambdaSlack), and lambda.
    double exit_value(std::size_t k) const {
        const double slack = kLambdaSlack * std::abs(dd_[k]);
        return std::min(dn_[k] + slack, -(dn_[k] + dd_[k]) + slack);
    }
    double lambda(std::size_t k) const { return dd_[k] != 0.0 ? -dn_[k] / dd_[k] : NAN; }

    // Neurons whose frozen active set the state s no longer satisfies (free neurons only); at most two
    // crossings per neuron (the samples next to its active set), appended to out in neuron order.
    void check(const T* s, std::vector<Crossing>& out) {
        const T* a = s;
        const T* b = s + m_;
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            for (index_t i = i0; i < i1; ++i)
                flag_[i] = slide_[i] < 0 ? std::uint8_t(bad_sides(a[i], b[i], bin_[i])) : 0;
        });
        out.clear();
        for (index_t i = 0; i < m_; ++i) {
            const int f = flag_[i];
            if (!f) continue;
            const index_t cnt = bin_[i] <= n_ ? bin_[i] : bin_[i] - (n_ + 1);
            const bool up = bin_[i] <= n_;
            if (cnt == 0 || cnt == n_) {  // none / all active: the two ends of the samples
                // none: x_{n-1} turning on starts a suffix, x_0 a prefix; all: x_0 turning off leaves a
                // suffix, x_{n-1} a prefix
                const bool none = cnt == 0;
                if (f & 1) out.push_back(crossing(i, n_ - 1, none, none ? -1 : 1));
                if ((f & 2) && !(n_ == 1 && (f & 1))) out.push_back(crossing(i, 0, !none, none ? -1 : 1));
            } else {
                if (f & 1) out.push_back(crossing(i, up ? n_ - cnt : cnt - 1, up, 1));   // active one went off
                if (f & 2) out.push_back(crossing(i, up ? n_ - cnt - 1 : cnt, up, -1));  // inactive one went on
            }
        }
    }

    // Size |Delta_i| / sqrt(x_g^2 + 1)... of the field's jump at crossing e, i.e. |(s_in c_i R_g / alpha)(x_g, 1)|,
    // from the residuals of the last rhs (state s).
    double jump_size(const T* s, const Crossing& e) const {
        const double xg = x_[e.lo];
        return std::abs(jump(e.i, e.lo, double(s[2 * m_ + e.i]))) / std::sqrt(xg * xg + 1.0);
    }
    double slider_jump_size(std::size_t k) const {
        const double xg = x_[slide_[sliders_[k]]];
        return std::abs(dd_[k]) / std::sqrt(xg * xg + 1.0);
    }

    // Put neuron i exactly on its group (z = 0 in the kernels' arithmetic) with the group inactive.
    void place(T* s, const Crossing& e) {
        s[m_ + e.i] = -(s[e.i] * xt_[e.lo]);
        bin_[e.i] = e.bin_without;
    }

    // Re-project the sliding neurons onto their groups after a step (rounding drift only).
    void hold(T* s) {
        for (index_t i : sliders_) s[m_ + i] = -(s[i] * xt_[slide_[i]]);
    }

    // Settle crossings placed on their groups (place(), then d = rhs(s) with the groups inactive): each
    // either switches its group in (rate with it points away from the surface), out, or starts sliding.
    // d is patched in place. Returns the number of neurons that started sliding.
    index_t settle(const T* s, T* d, const std::vector<Crossing>& es) {
        index_t entries = 0;
        const T* c = s + 2 * m_;
        for (const Crossing& e : es) {
            const double xg = x_[e.lo];
            const double dzm = double(d[e.i]) * xg + double(d[m_ + e.i]);
            const double dd = jump(e.i, e.lo, double(c[e.i]));
            const double dzp = dzm + dd, slack = kLambdaSlack * std::abs(dd);
            if (dd < 0.0 && dzm > -slack && dzp < slack) {  // lambda in (-eta, 1 + eta)
                slide_[e.i] = e.lo;
                sliders_.insert(std::lower_bound(sliders_.begin(), sliders_.end(), e.i), e.i);
                ++entries;
            } else if (dzm > 0.0 || (e.sign > 0 && dzp > 0.0)) {  // leaves into the active side
                bin_[e.i] = e.bin_with;
                const double w = dd / (xg * xg + 1.0);  // Delta_i = w (x_g, 1)
                d[e.i] = T(double(d[e.i]) + w * xg);
                d[m_ + e.i] = T(double(d[m_ + e.i]) + w);
            }  // else: leaves into the inactive side (or a repelling kink: relu'(0) = 0)
        }
        // the sliders' projections and exit functions at s, in index order
        dn_.resize(sliders_.size());
        dd_.resize(sliders_.size());
        for (std::size_t k = 0; k < sliders_.size(); ++k) {
            const index_t i = sliders_[k], g = slide_[i];
            bool fresh = false;
            for (const Crossing& e : es) fresh = fresh || e.i == i;
            if (!fresh) continue;  // already projected by rhs
            dn_[k] = project(i, g, d);
            dd_[k] = jump(i, g, double(c[i]));
        }
        return entries;
    }

    // Slider k leaves: with its group active (lambda -> 1) or inactive (lambda -> 0).
    void release(std::size_t k) {
        const index_t i = sliders_[k], g = slide_[i];
        // lambda -> 1: leaves with the group active; lambda -> 0 (or Delta dz_i turned >= 0 while dz-_i = 0,
        // a tangent inactive side): inactive, the kernels' convention
        if (lambda(k) > 0.5) bin_[i] = with_group(i, g);
        slide_[i] = -1;
    }
    void drop_released() {
        sliders_.erase(std::remove_if(sliders_.begin(), sliders_.end(), [&](index_t i) { return slide_[i] < 0; }),
                       sliders_.end());
    }

private:
    void forward(const T* s) {
        const T* a = s;
        const T* b = s + m_;
        const T* c = s + 2 * m_;
        parallel_for(plan_.count, threads_, [&](index_t q) {
            Histogram& h = hs_[q];
            h.reset(n_);
            alignas(64) double ca[kBlock], cb[kBlock];
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            for (index_t k = i0; k < i1; k += kBlock) {
                const index_t len = std::min(kBlock, i1 - k);
                histogram_weights(a + k, b + k, c + k, len, ca, cb);
                h.add(bin_.data() + k, ca, cb, len);
            }
        });
        histogram_predictions(hs_, x_, n_, inv_alpha_, pred_.data(), tot_, threads_);
    }

    // Project (da_i, db_i) onto the line a x_g + b = 0; returns the normal rate dz-_i before projection.
    double project(index_t i, index_t g, T* d) const {
        const double xg = x_[g];
        const double dn = double(d[i]) * xg + double(d[m_ + i]);
        const double w = dn / (xg * xg + 1.0);
        d[i] = T(double(d[i]) - w * xg);
        d[m_ + i] = T(double(d[m_ + i]) - w);
        return dn;
    }

    // Delta dz_i of group g: -(s_in c_i R_g / alpha)(x_g^2 + 1).
    double jump(index_t i, index_t g, double ci) const {
        (void)i;
        double R = 0.0;
        for (index_t j = g; j < ghi_[g]; ++j) R += r_[j];
        const double xg = x_[g];
        return -si_ * ci * inv_alpha_ * R * (xg * xg + 1.0);
    }

    // Bit 1: the sample that must be active (or x_{n-1} for none/all) is on the wrong side; bit 2: the one
    // that must be inactive (or x_0). Partial sets are checked at the two samples next to the knot.
    int bad_sides(T a, T b, bin_t q) const {
        const index_t n = n_;
        const bool up = q <= n;
        const index_t cnt = up ? q : q - (n + 1);
        if (cnt == 0) return int(a * xt_[n - 1] + b > T(0)) | (int(a * xt_[0] + b > T(0)) << 1);
        if (cnt == n) return int(a * xt_[n - 1] + b < T(0)) | (int(a * xt_[0] + b < T(0)) << 1);
        const index_t on = up ? n - cnt : cnt - 1, off = up ? n - cnt - 1 : cnt;
        return int(a * xt_[on] + b < T(0)) | (int(a * xt_[off] + b > T(0)) << 1);
    }

    bin_t with_group(index_t i, index_t g) const {
        const bool up = bin_[i] <= n_;
        return up ? bin_t(n_ - glo_[g]) : bin_t(n_ + 1 + ghi_[g]);
    }

    // The crossing of neuron i at sample j: suffix-type (a > 0: the group joins the active suffix) or
    // prefix-type; sign = +1 if the group is active in the frozen mode.
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

    index_t m_, n_;
    double inv_alpha_;
    const double* x_;
    const double* y_;
    double si_, so_;
    int threads_;
    ChunkPlan plan_;
    std::vector<Histogram> hs_;
    std::vector<bin_t> bin_;
    std::vector<index_t> slide_;
    std::vector<std::uint8_t> flag_;
    std::vector<T> xt_;
    std::vector<index_t> glo_, ghi_;
    std::vector<double> pred_, r_, S_, SX_, tot_;
    std::vector<index_t> sliders_;  // sliding neurons, ascending
    std::vector<double> dn_, dd_;   // per slider after the last rhs: dz-_i and Delta dz_i
};

}  // namespace wideflow::shallow
