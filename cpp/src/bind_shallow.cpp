// Bindings of the shallow univariate ReLU kernels (conversion only).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "wideflow/shallow_dispatch.hpp"

namespace wideflow::bind {
namespace {

// Instruction set the kernels run with: chosen once at import (WIDEFLOW_ISA may force a lower one).
struct IsaState {
    int level = isa::baseline;
    std::string requested;
    std::string note;
};

IsaState& isa_state() {
    static IsaState st = [] {
        IsaState s;
        const char* env = std::getenv("WIDEFLOW_ISA");
        s.requested = env ? env : "";
        s.level = shallow::choose_level(env, s.note);
        return s;
    }();
    return st;
}

template <class T>
const shallow::Kernels<T>& kernels() {
    const shallow::KernelTable& t = shallow::kernels_for(isa_state().level);
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

// Extra arguments of the sorted kernel: the per-neuron bin cache (int32, length m) and its validity.
struct NoBins {};

template <class T, class Extra>
void def_gd(py::module_& m, const char* name, const char* doc) {
    auto body = [](carray<T>& a, carray<T>& b, carray<T>& c, double inv_alpha, carray<double>& x,
                   carray<double>& y, carray<double>& pred, carray<double>& lr, double scale_inner,
                   double scale_outer, carray<double>& losses, int threads, auto&& kernel) {
        auto net = params_of(a, b, c, inv_alpha);
        const py::ssize_t n = x.shape(0);
        const py::ssize_t steps = lr.shape(0);
        const double* xp = data_of(x, n, "x");
        const double* yp = data_of(y, n, "y");
        double* pp = data_of(pred, n, "pred");
        const double* lp = data_of(lr, steps, "lr");
        double* lo = data_of(losses, steps, "losses");
        shallow::ChunkResult r;
        {
            py::gil_scoped_release release;
            r = kernel(net, xp, yp, n, pp, lp, steps, scale_inner, scale_outer, lo, resolve_threads(threads));
        }
        return py::make_tuple(r.steps_done, r.diverged);
    };
    if constexpr (std::is_same_v<Extra, NoBins>) {
        m.def(
            name,
            [body](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
                   carray<double> pred, carray<double> lr, double scale_inner, double scale_outer,
                   carray<double> losses, int threads) {
                return body(a, b, c, inv_alpha, x, y, pred, lr, scale_inner, scale_outer, losses, threads,
                            [](auto&&... args) { return kernels<T>().gd_direct(args...); });
            },
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
            py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("pred").noconvert(),
            py::arg("lr").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
            py::arg("losses").noconvert(), py::arg("threads") = 0, doc);
    } else {
        m.def(
            name,
            [body](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
                   carray<double> pred, carray<double> lr, double scale_inner, double scale_outer,
                   carray<double> losses, int threads, carray<std::int32_t> bins, bool bins_valid) {
                shallow::bin_t* bp = data_of(bins, a.shape(0), "bins");
                return body(a, b, c, inv_alpha, x, y, pred, lr, scale_inner, scale_outer, losses, threads,
                            [bp, bins_valid](auto&&... args) {
                                return kernels<T>().gd_sorted(args..., bp, bins_valid);
                            });
            },
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
            py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("pred").noconvert(),
            py::arg("lr").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
            py::arg("losses").noconvert(), py::arg("threads"), py::arg("bins").noconvert(),
            py::arg("bins_valid"), doc);
    }
}

template <class T>
void def_family(py::module_& m) {
    def_evaluate<T>(m, "shallow_evaluate", false,
                    "out[p] = f(x[p]) by the direct O(m P) kernel.");
    def_evaluate<T>(m, "shallow_evaluate_sorted", true,
                    "out[p] = f(x[p]) for ascending x by the O(m log P + P) histogram kernel.");
    def_gd<T, NoBins>(m, "shallow_gd_direct",
                      "Run len(lr) fused GD steps in place (direct O(m n) kernel); returns (steps_done, "
                      "diverged).");
    def_gd<T, shallow::bin_t>(m, "shallow_gd_sorted",
                              "Run len(lr) fused GD steps in place (O(m log n + n) kernel, x ascending, "
                              "bins: int32 cache of length m); returns (steps_done, diverged).");
}

}  // namespace

void bind_shallow(py::module_& m) {
    m.def(
        "isa", [] { return std::string(isa::name_of(isa_state().level)); },
        "Instruction set the shallow kernels run with: 'baseline', 'avx2' or 'avx512'.");
    m.def(
        "isa_info",
        [] {
            const IsaState& st = isa_state();
            py::list compiled;
            for (int l = isa::baseline; l <= isa::compiled_level(); ++l) compiled.append(isa::name_of(l));
            py::dict d;
            d["in_use"] = isa::name_of(st.level);
            d["compiled"] = compiled;
            d["cpu_best"] = isa::name_of(isa::cpu_level());
            d["requested"] = st.requested;
            d["note"] = st.note;
            return d;
        },
        "Instruction sets: in use, compiled, the best the CPU runs, the WIDEFLOW_ISA request and a note.");
    m.def(
        "_set_isa",
        [](const std::string& name) {
            std::string note;
            const int level = shallow::choose_level(name.c_str(), note);
            if (!note.empty()) throw std::invalid_argument(note);
            isa_state().level = level;
            return std::string(isa::name_of(level));
        },
        py::arg("name"),
        "Switch the instruction set of the shallow kernels (tests and benchmarks; not thread-safe with "
        "running kernels). Raises ValueError for a set the CPU or the build lacks.");
    m.def(
        "residual_loss",
        [](carray<double> pred, carray<double> y) {
            const py::ssize_t n = pred.shape(0);
            std::vector<double> r(static_cast<std::size_t>(n));
            return shallow::residuals(data_of(pred, n, "pred"), data_of(y, n, "y"), n, r.data());
        },
        py::arg("pred").noconvert(), py::arg("y").noconvert(),
        "1/2 sum (pred - y)^2 summed in the kernels' fixed order.");
    def_family<double>(m);
    def_family<float>(m);
    bind_guard(m);
}

}  // namespace wideflow::bind
