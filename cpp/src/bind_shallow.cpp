// _core.shallow: the shallow univariate ReLU net (conversion only). Evaluation and fused GD go through
// the kernel table of the instruction set in use (shallow_dispatch.hpp); the flow run holds a
// shallow::FlowSystem, whose state vector is [a; b; c].
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "flow_run.hpp"
#include "wideflow/shallow_dispatch.hpp"
#include "wideflow/shallow_flow.hpp"

namespace wideflow::bind {
namespace {

template <class T>
const shallow::Kernels<T>& kernels() {
    const shallow::KernelTable& t = shallow::kernels_for(isa_level());
    if constexpr (std::is_same_v<T, float>)
        return t.f32;
    else
        return t.f64;
}

template <class T>
shallow::Params<T> params_of(carray<T>& a, carray<T>& b, carray<T>& c, double inv_alpha) {
    const py::ssize_t m = a.shape(0);
    return {data_of(a, m, "a"), data_of(b, m, "b"), data_of(c, m, "c"), m, inv_alpha};
}

template <class T>
void def_evaluate(py::module_& m, const char* name, bool sorted, const char* doc) {
    m.def(
        name,
        [sorted](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> out,
                 int threads) {
            auto net = params_of(a, b, c, inv_alpha);
            const py::ssize_t P = x.shape(0);
            const double* xp = data_of(x, P, "x");
            double* op = data_of(out, P, "out");
            const auto fn = sorted ? kernels<T>().evaluate_sorted : kernels<T>().evaluate;
            py::gil_scoped_release release;
            fn(net, xp, P, op, resolve_threads(threads));
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
        py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("threads") = 0, doc);
}

// The arguments both GD kernels share, converted; `kernel` runs the steps.
template <class T, class Kernel>
ChunkResult run_gd(carray<T>& a, carray<T>& b, carray<T>& c, double inv_alpha, carray<double>& x, carray<double>& y,
                   carray<double>& pred, carray<double>& lr, double scale_inner, double scale_outer,
                   carray<double>& losses, int threads, Kernel&& kernel) {
    auto net = params_of(a, b, c, inv_alpha);
    const py::ssize_t n = x.shape(0);
    const py::ssize_t steps = lr.shape(0);
    const double* xp = data_of(x, n, "x");
    const double* yp = data_of(y, n, "y");
    double* pp = data_of(pred, n, "pred");
    const double* lp = data_of(lr, steps, "lr");
    double* lo = data_of(losses, steps, "losses");
    py::gil_scoped_release release;
    return kernel(net, xp, yp, n, pp, lp, steps, scale_inner, scale_outer, lo, resolve_threads(threads));
}

template <class T>
void def_gd(py::module_& m) {
    m.def(
        "gd_direct",
        [](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
           carray<double> pred, carray<double> lr, double scale_inner, double scale_outer, carray<double> losses,
           int threads) {
            return run_gd(a, b, c, inv_alpha, x, y, pred, lr, scale_inner, scale_outer, losses, threads,
                          [](auto&&... args) { return kernels<T>().gd_direct(args...); });
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
        py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("pred").noconvert(), py::arg("lr").noconvert(),
        py::arg("scale_inner"), py::arg("scale_outer"), py::arg("losses").noconvert(), py::arg("threads") = 0,
        "Run len(lr) fused GD steps in place (direct O(m n) kernel); losses[s] = loss at the start of step s.");
    m.def(
        "gd_sorted",
        [](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
           carray<double> pred, carray<double> lr, double scale_inner, double scale_outer, carray<double> losses,
           int threads, carray<std::int32_t> bins, bool bins_valid) {
            shallow::bin_t* bp = data_of(bins, a.shape(0), "bins");
            return run_gd(a, b, c, inv_alpha, x, y, pred, lr, scale_inner, scale_outer, losses, threads,
                          [bp, bins_valid](auto&&... args) { return kernels<T>().gd_sorted(args..., bp, bins_valid); });
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
        py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("pred").noconvert(), py::arg("lr").noconvert(),
        py::arg("scale_inner"), py::arg("scale_outer"), py::arg("losses").noconvert(), py::arg("threads"),
        py::arg("bins").noconvert(), py::arg("bins_valid"),
        "Run len(lr) fused GD steps in place (O(m log n + n) kernel, x ascending, bins: int32 cache of length m).");
}

template <class T>
using ShallowRun = FlowRun<T, shallow::FlowSystem<T>>;

template <class T>
void def_flow(py::module_& m, const char* name) {
    using R = ShallowRun<T>;
    py::class_<R> cls(m, name, "A gradient-flow run of the shallow net (x ascending); the state is [a; b; c].");
    cls.def(py::init([](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
                        double scale_inner, double scale_outer, const std::string& tableau, int threads) {
                const auto net = params_of(a, b, c, inv_alpha);
                const py::ssize_t n = x.shape(0);
                const int th = resolve_threads(threads);
                auto sys = std::make_unique<shallow::FlowSystem<T>>(
                    net.m, inv_alpha, data_of(x, n, "x"), data_of(y, n, "y"), n, scale_inner, scale_outer, th);
                auto run = std::make_unique<R>(std::vector<py::object>{x, y}, std::move(sys), tableau, th);
                run->sys->pack(net, run->state.data());
                return run;
            }),
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
            py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
            py::arg("tableau"), py::arg("threads") = 0)
        .def(
            "write_back",
            [](R& r, carray<T> a, carray<T> b, carray<T> c) {
                const auto net = params_of(a, b, c, 1.0);
                if (3 * net.m != r.sys->size()) throw std::invalid_argument("a, b, c: sizes differ from the run's");
                r.sys->unpack(r.state.data(), net);
            },
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(),
            "Copy the run's state into a, b, c.");
    def_run_methods<R>(cls);
}

}  // namespace

void bind_shallow(py::module_ m) {
    m.def(
        "residual_loss",
        [](carray<double> pred, carray<double> y) {
            const py::ssize_t n = pred.shape(0);
            std::vector<double> r(static_cast<std::size_t>(n));
            return shallow::residuals(data_of(pred, n, "pred"), data_of(y, n, "y"), n, r.data());
        },
        py::arg("pred").noconvert(), py::arg("y").noconvert(),
        "1/2 sum (pred - y)^2 summed in the kernels' fixed order.");
    for (auto add : {&def_evaluate<double>, &def_evaluate<float>}) {
        add(m, "evaluate", false, "out[p] = f(x[p]) by the direct O(m P) kernel.");
        add(m, "evaluate_sorted", true, "out[p] = f(x[p]) for ascending x by the O(m log P + P) histogram kernel.");
    }
    def_gd<double>(m);
    def_gd<float>(m);
    def_flow<double>(m, "Flow64");
    def_flow<float>(m, "Flow32");
    bind_shallow_events(m);  // EventFlow64 / EventFlow32: the exact (event-aware) flow
}

}  // namespace wideflow::bind
