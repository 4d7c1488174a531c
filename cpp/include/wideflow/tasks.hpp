// Task scheduling for kernels whose work is a list of independent tasks (the deep net's GEMM blocks).
//
// run_tasks: one parallel region over `count` tasks, claimed dynamically.
// run_phased: a chunk of steps as ONE parallel region. A step is a fixed sequence of phases, phase p made
// of sizes[p] independent tasks; threads claim the next task (step after step, phase after phase) from one
// atomic counter, and a task starts once every task of the earlier phases (of this and earlier steps) has
// finished. Unlike a barrier per phase, no thread waits for an idle or descheduled thread, so a busy
// machine slows a run down in proportion to the CPU it takes, not by a scheduler time slice per phase.
//
// Which thread runs which task never changes a result: tasks write disjoint outputs (or per-task
// partials reduced afterwards in task order), and the tid passed to a task only selects scratch memory.
#pragma once

#include <atomic>
#include <thread>

#include "wideflow/parallel.hpp"

namespace wideflow::tasks {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Run body(k, tid) for k in [0, count) on up to `threads` threads; tid < threads identifies the calling
// thread's workspace.
template <class F>
inline void run_tasks(index_t count, int threads, F&& body) {
#ifdef WIDEFLOW_HAVE_OPENMP
    if (threads > 1 && count > 1) {
#pragma omp parallel num_threads(threads)
        {
            const int tid = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (index_t k = 0; k < count; ++k) body(k, tid);
        }
        return;
    }
#endif
    for (index_t k = 0; k < count; ++k) body(k, 0);
}

// Run `steps` steps of the phases with sizes[0..P) tasks: body(s, p, k, tid) runs task k of phase p of
// step s and returns true to stop the chunk (no later task runs; tasks already started finish).
template <int P, class F>
inline void run_phased(const index_t (&sizes)[P], index_t steps, int threads, F&& body) {
    if (steps <= 0) return;
    index_t start[P + 1] = {0};
    for (int p = 0; p < P; ++p) start[p + 1] = start[p] + sizes[p];
    const index_t per_step = start[P];
    const index_t total = per_step * steps;
    std::atomic<index_t> next{0}, finished{0};
    std::atomic<bool> stop{false};
    auto phase_of = [&](index_t r) {
        int p = 0;
        while (r >= start[p + 1]) ++p;
        return p;
    };
    auto worker = [&](int tid) {
        for (;;) {
            const index_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= total) return;
            const index_t s = i / per_step, r = i % per_step;
            const int p = phase_of(r);
            const index_t need = i - r + start[p];  // every task before this phase has finished
            for (int spin = 0; finished.load(std::memory_order_acquire) < need; ++spin) {
                if (spin < 256)
                    cpu_relax();
                else
                    std::this_thread::yield();
            }
            if (!stop.load(std::memory_order_relaxed) && body(s, p, r - start[p], tid))
                stop.store(true, std::memory_order_relaxed);
            finished.fetch_add(1, std::memory_order_release);
        }
    };
#ifdef WIDEFLOW_HAVE_OPENMP
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        worker(omp_get_thread_num());
        return;
    }
#endif
    worker(0);
}

}  // namespace wideflow::tasks
