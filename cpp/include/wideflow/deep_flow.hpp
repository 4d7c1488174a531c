// Gradient flow of a deep fully-connected network: dW_h/dt = -dL/dW_h (and biases), L = 1/2 sum ||f(x_i) -
// y_i||^2, for the integrators of flow.hpp. The state vector is the concatenation of the weights (row-major,
// layer after layer) and then the biases; each right-hand side is one fused forward/backward pass of
// deep.hpp's gradient kernel.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "wideflow/deep.hpp"

namespace wideflow::deep {

template <class T>
class FlowSystem {
public:
    // `shape` carries dims, activation, slope and whether there are biases (its pointers are not used).
    FlowSystem(const Net<T>& shape, const T* X, const T* Y, index_t N, double offset, int threads)
        : net_(shape), X_(X), Y_(Y), N_(N), offset_(offset), threads_(threads) {
        index_t off = 0;
        for (index_t h = 0; h < net_.depth(); ++h) {
            w_off_.push_back(off);
            off += net_.dims[h + 1] * net_.dims[h];
        }
        if (net_.has_bias())
            for (index_t h = 0; h < net_.depth(); ++h) {
                b_off_.push_back(off);
                off += net_.dims[h + 1];
            }
        size_ = off;
        gW_.resize(static_cast<std::size_t>(net_.depth()));
        gb_.resize(b_off_.size());
    }

    index_t size() const { return size_; }
    Activation activation() const { return net_.act; }

    // The state vector [W_1..W_L; b_1..b_L] from the arrays `net` points to (pack) and back (unpack);
    // `net` must have the system's layer sizes and biases.
    void pack(const Net<T>& net, T* state) const {
        check_shape(net);
        for (index_t h = 0; h < net_.depth(); ++h)
            std::copy(net.W[h], net.W[h] + net_.dims[h + 1] * net_.dims[h], state + w_off_[h]);
        for (std::size_t h = 0; h < b_off_.size(); ++h)
            std::copy(net.b[h], net.b[h] + net_.dims[h + 1], state + b_off_[h]);
    }
    void unpack(const T* state, const Net<T>& net) const {
        check_shape(net);
        for (index_t h = 0; h < net_.depth(); ++h)
            std::copy(state + w_off_[h], state + w_off_[h] + net_.dims[h + 1] * net_.dims[h], net.W[h]);
        for (std::size_t h = 0; h < b_off_.size(); ++h)
            std::copy(state + b_off_[h], state + b_off_[h] + net_.dims[h + 1], net.b[h]);
    }

    double rhs(const T* state, T* d) {
        for (index_t h = 0; h < net_.depth(); ++h) {
            net_.W[h] = const_cast<T*>(state) + w_off_[h];
            gW_[h] = d + w_off_[h];
        }
        for (std::size_t h = 0; h < b_off_.size(); ++h) {
            net_.b[h] = const_cast<T*>(state) + b_off_[h];
            gb_[h] = d + b_off_[h];
        }
        const double loss =
            gradients(net_, X_, Y_, N_, offset_, gW_.data(), gb_.empty() ? nullptr : gb_.data(), threads_);
        for (index_t i = 0; i < size_; ++i) d[i] = -d[i];
        return loss;
    }

private:
    void check_shape(const Net<T>& net) const {
        if (net.dims != net_.dims || net.has_bias() != net_.has_bias())
            throw std::invalid_argument("weights, biases: shapes differ from the flow run's");
    }

    Net<T> net_;
    const T* X_;
    const T* Y_;
    index_t N_;
    double offset_;
    int threads_;
    index_t size_ = 0;
    std::vector<index_t> w_off_, b_off_;
    std::vector<T*> gW_, gb_;
};

}  // namespace wideflow::deep
