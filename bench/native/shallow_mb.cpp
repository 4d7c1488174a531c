// Thread-CPU-time micro-benchmark of the shallow GD kernels, outside Python (bench/native/build.sh builds it).
//
//   shallow_mb M N sorted|direct ISA ROUNDS STEPS [THREADS]      ISA: 0 baseline, 1 avx2, 2 avx512
//
// Each round times float32 and then float64 (best of 3 calls of STEPS steps, after one warm-up call) on the
// same net: a, b, c ~ N(0, 1), alpha = M, x equispaced on [-1, 1], y = sign(x), lr = 1e-3. Printed: the
// medians over the rounds of ns per neuron-step, the median of the per-round f32/f64 ratios, and a
// checksum of the final parameters and predictions (equal across ISAs: the kernels give the same bits).
// With one thread the clock is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared machine it
// leaves out the time the thread was descheduled but keeps memory stalls. With more threads it is wall
// time.
// standalone micro-bench of the shallow kernels: mb M N dtype(32|64) kernel(sorted|direct) isa(0|1|2) steps reps
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>
#include "wideflow/shallow_dispatch.hpp"
using namespace wideflow;
using namespace wideflow::shallow;
template <class T>
double run(const Kernels<T>& K, index_t m, index_t n, bool sorted, index_t steps, int reps, int threads, double* chk) {
    std::mt19937_64 g(0);
    std::normal_distribution<double> N01;
    std::vector<T> a(m), b(m), c(m);
    for (auto* v : {&a, &b, &c})
        for (auto& e : *v) e = T(N01(g));
    std::vector<double> x(n), y(n), pred(n), lr(steps, 1e-3), losses(steps);
    for (index_t j = 0; j < n; ++j) {
        x[j] = n > 1 ? -1.0 + 2.0 * j / (n - 1) : 0.0;
        y[j] = (x[j] > 0) ? 1 : -1;
    }
    Params<T> net{a.data(), b.data(), c.data(), m, 1.0 / double(m)};
    std::vector<bin_t> bins(m);
    if (sorted)
        K.evaluate_sorted(net, x.data(), n, pred.data(), threads);
    else
        K.evaluate(net, x.data(), n, pred.data(), threads);
    bool valid = false;
    auto once = [&]() {
        if (sorted)
            K.gd_sorted(net, x.data(), y.data(), n, pred.data(), lr.data(), steps, 1.0, 1.0, losses.data(), threads,
                        bins.data(), valid);
        else
            K.gd_direct(net, x.data(), y.data(), n, pred.data(), lr.data(), steps, 1.0, 1.0, losses.data(), threads);
        valid = true;
    };
    once();
    std::vector<double> ts;
    for (int r = 0; r < reps; ++r) {
        timespec c0, c1;
        clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &c0);
        once();
        clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &c1);
        ts.push_back(((c1.tv_sec - c0.tv_sec) + 1e-9 * (c1.tv_nsec - c0.tv_nsec)) / steps);
    }
    std::sort(ts.begin(), ts.end());
    double h = 0;
    for (index_t i = 0; i < m; ++i) h += double(a[i]) * 1.1 + double(b[i]) * 1.3 + double(c[i]) * 1.7;
    for (index_t j = 0; j < n; ++j) h += pred[j];
    *chk = h;
    return ts[0];
}
int main(int argc, char** argv) {
    // mb M N kernel isa rounds steps [threads]: alternating f32 / f64, median per dtype and the ratio
    index_t m = index_t(atof(argv[1])), n = atol(argv[2]);
    bool sorted = !strcmp(argv[3], "sorted");
    int isa = atoi(argv[4]);
    int rounds = atoi(argv[5]);
    index_t steps = atol(argv[6]);
    int threads = argc > 7 ? atoi(argv[7]) : 1;
    const KernelTable& T = kernels_for(isa);
    std::vector<double> t32, t64, r;
    double c32 = 0, c64 = 0;
    for (int k = 0; k < rounds; ++k) {
        double a = run(T.f32, m, n, sorted, steps, 3, threads, &c32),
               b = run(T.f64, m, n, sorted, steps, 3, threads, &c64);
        t32.push_back(a / m * 1e9);
        t64.push_back(b / m * 1e9);
        r.push_back(b / a);
    }
    auto med = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    printf("m=%g n=%ld %s isa%d thr%d: f32 %.3f ns  f64 %.3f ns  ratio %.3f  chk %.15g %.15g\n", double(m), long(n),
           argv[3], isa, threads, med(t32), med(t64), med(r), c32, c64);
}
