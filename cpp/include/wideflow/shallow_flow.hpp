// Gradient flow of the shallow univariate ReLU network: the right-hand side -grad L for the integrators
// of flow.hpp, built from the sorted kernel's pieces (one histogram pass for the predictions, one pass for
// the per-neuron gradients). The state vector is [a; b; c] (3m values).
#pragma once

#include <vector>

#include "wideflow/flow.hpp"
#include "wideflow/shallow_sorted.hpp"

namespace wideflow::shallow {

template <class T>
class FlowSystem {
public:
    // x ascending (length n); scale_inner / scale_outer (0 or 1) select what trains.
    FlowSystem(index_t m, double inv_alpha, const double* x, const double* y, index_t n, double scale_inner,
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
          bins_(static_cast<std::size_t>(m)),
          xt_(static_cast<std::size_t>(n)),
          pred_(static_cast<std::size_t>(n)),
          r_(static_cast<std::size_t>(n)),
          S_(static_cast<std::size_t>(2 * (n + 1))),
          SX_(static_cast<std::size_t>(2 * (n + 1))) {
        for (index_t j = 0; j < n; ++j) xt_[j] = T(x[j]);
    }

    index_t size() const { return 3 * m_; }

    // The state vector [a; b; c] from the net's arrays (pack) and back (unpack).
    void pack(const Params<T>& net, T* state) const {
        for (const T* p : {net.a, net.b, net.c}) state = std::copy(p, p + m_, state);
    }
    void unpack(const T* state, const Params<T>& net) const {
        for (T* p : {net.a, net.b, net.c}) {
            std::copy(state, state + m_, p);
            state += m_;
        }
    }

    double rhs(const T* state, T* d) {
        const T* a = state;
        const T* b = state + m_;
        const T* c = state + 2 * m_;
        const int lanes = histogram_lanes(n_);
        parallel_for(plan_.count, threads_, [&](index_t q) {
            Histogram& h = hs_[q];
            h.reset(n_, lanes);
            alignas(64) double ca[kBlock], cb[kBlock];
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            for (index_t s = i0; s < i1; s += kBlock) {
                const index_t len = std::min(kBlock, i1 - s);
                active_bins(a + s, b + s, len, xt_.data(), n_, bins_.data() + s);
                histogram_weights(a + s, b + s, c + s, len, ca, cb);
                h.add(bins_.data() + s, ca, cb, len);
            }
        });
        histogram_predictions(hs_, x_, n_, inv_alpha_, pred_.data(), tot_);
        const double loss = residuals(pred_.data(), y_, n_, r_.data());
        active_sums(r_.data(), x_, n_, S_.data(), SX_.data());
        const T g_ab = T(-si_ * inv_alpha_), g_c = T(-so_ * inv_alpha_);
        const double* Sp = S_.data();
        const double* SXp = SX_.data();
        const bin_t* bins = bins_.data();
        parallel_for(plan_.count, threads_, [&](index_t q) {
            const index_t i0 = plan_.begin(q), i1 = plan_.end(q, m_);
            gradient_block(a + i0, b + i0, c + i0, bins + i0, i1 - i0, Sp, SXp, g_ab, g_c, d + i0, d + m_ + i0,
                           d + 2 * m_ + i0);
        });
        return loss;
    }

private:
    static void gradient_block(const T* __restrict a, const T* __restrict b, const T* __restrict c,
                               const bin_t* __restrict bin, index_t len, const double* __restrict S,
                               const double* __restrict SX, T g_ab, T g_c, T* __restrict da, T* __restrict db,
                               T* __restrict dc) {
        for (index_t i = 0; i < len; ++i) {
            const T Si = T(S[bin[i]]), SXi = T(SX[bin[i]]);
            da[i] = g_ab * c[i] * SXi;
            db[i] = g_ab * c[i] * Si;
            dc[i] = g_c * (a[i] * SXi + b[i] * Si);
        }
    }

    index_t m_, n_;
    double inv_alpha_;
    const double* x_;
    const double* y_;
    double si_, so_;
    int threads_;
    ChunkPlan plan_;
    std::vector<Histogram> hs_;
    std::vector<bin_t> bins_;
    std::vector<T> xt_;
    std::vector<double> pred_, r_, S_, SX_, tot_;
};

}  // namespace wideflow::shallow
