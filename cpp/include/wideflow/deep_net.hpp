// The deep fully-connected net as the kernels see it: a view of the weight (and bias) arrays, the layer
// sizes and the activation phi (linear, ReLU, leaky ReLU) with its derivative read from phi(z).
//
//   A_0 = X (N x d_0, rows are samples),  Z_h = A_{h-1} W_h^T + b_h,  A_h = phi(Z_h)  (h < L),  F = Z_L
//
// W_h is (d_h, d_{h-1}) row-major, exactly the NumPy buffer.
#pragma once

#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::deep {

enum class Activation : int { linear = 0, relu = 1, leaky_relu = 2 };

template <class T>
struct Net {
    std::vector<T*> W;          // W[h]: (dims[h+1], dims[h]) row-major, h = 0..L-1
    std::vector<T*> b;          // b[h]: dims[h+1] entries; empty for a net without biases
    std::vector<index_t> dims;  // L + 1 layer sizes
    Activation act = Activation::relu;
    T slope = T(0);  // negative slope of leaky_relu

    index_t depth() const { return index_t(W.size()); }
    bool has_bias() const { return !b.empty(); }
    index_t params() const {
        index_t p = 0;
        for (index_t h = 0; h < depth(); ++h) p += dims[h + 1] * dims[h];
        return p;
    }
};

// z <- phi(z) over len entries (branch-free selects).
template <class T>
inline void activate(Activation act, T slope, T* z, index_t len) {
    if (act == Activation::relu) {
        for (index_t i = 0; i < len; ++i) z[i] = z[i] > T(0) ? z[i] : T(0);
    } else if (act == Activation::leaky_relu) {
        for (index_t i = 0; i < len; ++i) z[i] = z[i] > T(0) ? z[i] : slope * z[i];
    }
}

// delta *= phi'(z), read from a = phi(z): a > 0 iff z > 0 (relu'(0) = 0).
template <class T>
inline void mask(Activation act, T slope, T* delta, const T* a, index_t len) {
    if (act == Activation::relu) {
        for (index_t i = 0; i < len; ++i) delta[i] = a[i] > T(0) ? delta[i] : T(0);
    } else if (act == Activation::leaky_relu) {
        for (index_t i = 0; i < len; ++i) delta[i] = a[i] > T(0) ? delta[i] : slope * delta[i];
    }
}

}  // namespace wideflow::deep
