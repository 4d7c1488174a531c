// Class-sorted neuron storage of the exact shallow flow (shallow_events.hpp): the members of every class
// (free bin or sliding class) sit in one contiguous range of positions, so the per-step passes over the
// neurons (the boundary tests, the move by the class's propagator) run over ranges with the class's
// coefficients held in registers: contiguous loads, no per-neuron gather, vectorized.
//
// The ranges follow the order in which a knot meets the classes: for suffix-type neurons (a > 0) the bins
// by their number of active samples, each sliding class between the two bins it separates; then the
// prefix-type chain the same way, from all samples active down to none. A crossing or a sliding entry or
// exit therefore moves a neuron into a neighbouring range: one swap with the range's end element and a
// shift of the boundary per range passed (relocate), O(1) per event.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "wideflow/parallel.hpp"

namespace wideflow::shallow {

class ClassLayout {
public:
    ClassLayout() = default;
    // n samples: classes 0 .. 2 (n + 1) - 1 are the bins (suffix bins q <= n with q active samples,
    // prefix bins n + 1 + cnt), then 2 n sliding classes s = 2 g + side; hi[g]: the end of sample g's group
    // (ties).
    ClassLayout(index_t n, const std::vector<index_t>& hi) {
        const index_t nb = 2 * (n + 1), K = nb + 2 * n;
        std::vector<double> key(static_cast<std::size_t>(K));
        for (index_t q = 0; q <= n; ++q) key[q] = 2.0 * q;                                // suffix chain
        for (index_t c = 0; c <= n; ++c) key[n + 1 + c] = 2.0 * (n + 1) + 2.0 * (n - c);  // prefix, all -> none
        for (index_t g = 0; g < n; ++g) {
            key[nb + 2 * g] = 2.0 * (n - hi[g]) + 1.0;                      // between n - hi and n - lo
            key[nb + 2 * g + 1] = 2.0 * (n + 1) + 2.0 * (n - hi[g]) + 1.0;  // between n+1+hi and n+1+lo
        }
        order_.resize(static_cast<std::size_t>(K));
        std::iota(order_.begin(), order_.end(), index_t(0));
        std::stable_sort(order_.begin(), order_.end(), [&](index_t u, index_t v) { return key[u] < key[v]; });
        rank_.resize(static_cast<std::size_t>(K));
        for (index_t r = 0; r < K; ++r) rank_[order_[r]] = r;
        start_.assign(static_cast<std::size_t>(K + 1), 0);
    }

    index_t classes() const { return static_cast<index_t>(order_.size()); }
    // The class at range r (ranges in storage order) and the range of class k.
    index_t class_at(index_t r) const { return order_[r]; }
    index_t begin(index_t k) const { return start_[rank_[k]]; }
    index_t end(index_t k) const { return start_[rank_[k] + 1]; }

    // Ranges from the class of every position (already sorted by rank: sort_permutation's output).
    void set_counts(const std::vector<index_t>& counts_by_class) {
        start_[0] = 0;
        for (index_t r = 0; r < classes(); ++r) start_[r + 1] = start_[r] + counts_by_class[order_[r]];
    }

    // The stable permutation that sorts positions by their class's range: perm[new] = old.
    std::vector<index_t> sort_permutation(const std::int32_t* cls, index_t m) const {
        std::vector<index_t> cnt(static_cast<std::size_t>(classes() + 1), 0);
        for (index_t i = 0; i < m; ++i) ++cnt[rank_[cls[i]] + 1];
        for (index_t r = 0; r < classes(); ++r) cnt[r + 1] += cnt[r];
        std::vector<index_t> perm(static_cast<std::size_t>(m));
        for (index_t i = 0; i < m; ++i) perm[cnt[rank_[cls[i]]]++] = i;
        return perm;
    }

    // Move the neuron at position p, whose class is now k, into k's range: from the range it lies in, one
    // range at a time, by swap(p, q) with the end element of its range and a shift of that range's
    // boundary. Returns its final position.
    template <class Swap>
    index_t relocate(index_t p, index_t k, Swap&& swap) {
        index_t r = static_cast<index_t>(std::upper_bound(start_.begin(), start_.end(), p) - start_.begin()) - 1;
        const index_t rt = rank_[k];
        while (r < rt) {  // to the next range: become the last of r, then the first of r + 1
            const index_t last = start_[r + 1] - 1;
            if (last != p) swap(p, last);
            p = last;
            --start_[r + 1];
            ++r;
        }
        while (r > rt) {
            const index_t first = start_[r];
            if (first != p) swap(p, first);
            p = first;
            ++start_[r];
            --r;
        }
        return p;
    }

private:
    std::vector<index_t> order_, rank_, start_;
};

}  // namespace wideflow::shallow
