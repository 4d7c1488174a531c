// Gradient flow of the two-layer linear factorization X = U V^T on L = 1/2 ||Y - U V^T||_F^2:
//   dU/dt = E V,  dV/dt = E^T U,  E = Y - U V^T,
// for the integrators of flow.hpp. The state vector is [U; V] (row-major m x k, then n x k).
// Single-threaded Eigen products (EIGEN_DONT_PARALLELIZE): deterministic, and these problems are small; the
// integrator's own vector operations take the run's threads.
#pragma once

#include <Eigen/Core>

#include <algorithm>

#include "wideflow/factorization_paths.hpp"
#include "wideflow/parallel.hpp"

namespace wideflow::factorization {

template <class T>
class FlowSystem {
public:
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

    FlowSystem(index_t m, index_t n, index_t k, const double* Y)
        : s_{m, n, k}, m_(m), n_(n), k_(k), Y_(Eigen::Map<const MatD>(Y, m, n).template cast<T>()), E_(m, n) {}

    index_t size() const { return (m_ + n_) * k_; }
    const Shape& shape() const { return s_; }

    // The state vector [U; V] from U (m x k) and V (n x k) (pack) and back (unpack).
    void pack(const T* U, const T* V, T* state) const { std::copy(V, V + n_ * k_, std::copy(U, U + m_ * k_, state)); }
    void unpack(const T* state, T* U, T* V) const {
        std::copy(state, state + m_ * k_, U);
        std::copy(state + m_ * k_, state + size(), V);
    }

    double rhs(const T* s, T* d) {
        Eigen::Map<const Mat> U(s, m_, k_), V(s + m_ * k_, n_, k_);
        Eigen::Map<Mat> dU(d, m_, k_), dV(d + m_ * k_, n_, k_);
        E_.noalias() = Y_ - U * V.transpose();
        dU.noalias() = E_ * V;
        dV.noalias() = E_.transpose() * U;
        double loss = 0.0;
        for (index_t i = 0; i < m_; ++i)
            for (index_t j = 0; j < n_; ++j) loss += double(E_(i, j)) * double(E_(i, j));
        return 0.5 * loss;
    }

private:
    Shape s_;
    index_t m_, n_, k_;
    Mat Y_, E_;
};

}  // namespace wideflow::factorization
