// Bindings of the shallow univariate ReLU kernels (conversion only).
#include "bindings.hpp"
#include "wideflow/shallow.hpp"
#include "wideflow/shallow_sorted.hpp"

namespace wideflow::bind {
namespace {

template <class T>
shallow::Params<T> params_of(carray<T>& a, carray<T>& b, carray<T>& c, double inv_alpha) {
    const py::ssize_t m = a.shape(0);
    return {data_of(a, m, "a"), data_of(b, m, "b"), data_of(c, m, "c"), m, inv_alpha};
}

template <class T>
using EvalFn = void (*)(const shallow::Params<T>&, const double*, index_t, double*, int);

template <class T>
using GdFn = shallow::ChunkResult (*)(const shallow::Params<T>&, const double*, const double*, index_t,
                                      double*, const double*, index_t, double, double, double*, int);

template <class T>
void def_evaluate(py::module_& m, const char* name, EvalFn<T> fn, const char* doc) {
    m.def(
        name,
        [fn](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> out,
             int threads) {
            auto net = params_of(a, b, c, inv_alpha);
            const py::ssize_t P = x.shape(0);
            const double* xp = data_of(x, P, "x");
            double* op = data_of(out, P, "out");
            py::gil_scoped_release release;
            fn(net, xp, P, op, resolve_threads(threads));
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
        py::arg("x").noconvert(), py::arg("out").noconvert(), py::arg("threads") = 0, doc);
}

template <class T>
void def_gd(py::module_& m, const char* name, GdFn<T> fn, const char* doc) {
    m.def(
        name,
        [fn](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
             carray<double> pred, carray<double> lr, double scale_inner, double scale_outer,
             carray<double> losses, int threads) {
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
                r = fn(net, xp, yp, n, pp, lp, steps, scale_inner, scale_outer, lo, resolve_threads(threads));
            }
            return py::make_tuple(r.steps_done, r.diverged);
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
        py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("pred").noconvert(),
        py::arg("lr").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
        py::arg("losses").noconvert(), py::arg("threads") = 0, doc);
}

template <class T>
void def_family(py::module_& m) {
    def_evaluate<T>(m, "shallow_evaluate", &shallow::evaluate<T>,
                    "out[p] = f(x[p]) by the direct O(m P) kernel.");
    def_evaluate<T>(m, "shallow_evaluate_sorted", &shallow::evaluate_sorted<T>,
                    "out[p] = f(x[p]) for ascending x by the O(m log P + P) histogram kernel.");
    def_gd<T>(m, "shallow_gd_direct", &shallow::gd_direct<T>,
              "Run len(lr) fused GD steps in place (direct O(m n) kernel); returns (steps_done, diverged).");
    def_gd<T>(m, "shallow_gd_sorted", &shallow::gd_sorted<T>,
              "Run len(lr) fused GD steps in place (O(m log n + n) kernel, x ascending); returns "
              "(steps_done, diverged).");
}

}  // namespace

void bind_shallow(py::module_& m) {
    def_family<double>(m);
    def_family<float>(m);
}

}  // namespace wideflow::bind
