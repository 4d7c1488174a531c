// Threading and fixed-order reduction helpers shared by every kernel family.
//
// Results must be bitwise identical for any thread count, so work is cut into blocks whose size depends
// only on the problem size (never on the number of threads); each block writes its own partial result and
// the partials are reduced afterwards in block order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef WIDEFLOW_HAVE_OPENMP
#include <omp.h>
#endif

namespace wideflow {

using index_t = std::int64_t;

inline bool openmp_enabled() {
#ifdef WIDEFLOW_HAVE_OPENMP
    return true;
#else
    return false;
#endif
}

inline int threads_available() {
#ifdef WIDEFLOW_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Number of threads to use: `requested` <= 0 means all available.
inline int resolve_threads(int requested) { return requested <= 0 ? threads_available() : requested; }

// Below this much work per parallel region (in neuron-sample units, roughly a nanosecond each) waking
// a second thread costs more than it saves, and on a busy machine a barrier can wait for a descheduled
// thread for milliseconds: such regions run on one thread. The partition into chunks, and therefore the
// result, does not depend on this choice.
constexpr index_t kMinParallelWork = index_t(1) << 16;

inline int threads_for(index_t work, int threads) { return work < kMinParallelWork ? 1 : threads; }

// Split [0, m) into `count` chunks of `size` elements (the last may be shorter). The size depends only on
// m (and a per-chunk memory footprint), so the partition is the same for every thread count.
struct ChunkPlan {
    index_t size = 1;
    index_t count = 0;
    index_t begin(index_t k) const { return k * size; }
    index_t end(index_t k, index_t m) const { return std::min(m, (k + 1) * size); }
};

// Chunks of at least `min_size` and at most `max_size` elements, aiming at `target_count` chunks, size a
// multiple of `align`.
inline ChunkPlan plan_chunks(index_t m, index_t min_size, index_t max_size, index_t target_count, index_t align) {
    ChunkPlan p;
    index_t s = (m + target_count - 1) / std::max<index_t>(target_count, 1);
    s = std::max(min_size, std::min(max_size, s));
    s = ((s + align - 1) / align) * align;
    p.size = std::max<index_t>(s, 1);
    p.count = (m + p.size - 1) / p.size;
    return p;
}

// Run body(k) for k in [0, count) on `threads` threads (static schedule; the result must not depend on
// which thread runs which k).
template <class F>
inline void parallel_for(index_t count, int threads, F&& body) {
#ifdef WIDEFLOW_HAVE_OPENMP
    if (threads > 1 && count > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (index_t k = 0; k < count; ++k) body(k);
        return;
    }
#endif
    for (index_t k = 0; k < count; ++k) body(k);
}

}  // namespace wideflow
