// _core.guard: the divergence-safety bounds of the shallow net's GD steps (conversion only; the math is in
// wideflow/guard.hpp).
#include "bindings.hpp"
#include "wideflow/guard.hpp"

namespace wideflow::bind {
namespace {

guard::ShallowProblem problem_of(py::dict d) {
    guard::ShallowProblem p;
    p.n = d["n"].cast<double>();
    p.m = d["m"].cast<double>();
    p.inv_alpha = d["inv_alpha"].cast<double>();
    p.s_inner = d["s_inner"].cast<double>();
    p.s_outer = d["s_outer"].cast<double>();
    p.X = d["X"].cast<double>();
    p.sum_x2 = d["sum_x2"].cast<double>();
    p.Ymax = d["Ymax"].cast<double>();
    p.tmax = d["tmax"].cast<double>();
    p.dmax = d["dmax"].cast<double>();
    p.margin = d["margin"].cast<double>();
    return p;
}

template <class T>
void def_abs_max(py::module_& m) {
    m.def(
        "abs_max",
        [](carray<T> v, int threads) {
            const py::ssize_t n = v.size();
            const T* p = v.data();
            py::gil_scoped_release release;
            return guard::abs_max(p, n, resolve_threads(threads));
        },
        py::arg("v").noconvert(), py::arg("threads") = 0,
        "max |v| over a C-contiguous array (NaN if it holds a NaN), in one parallel read pass.");
}

}  // namespace

void bind_guard(py::module_ m) {
    def_abs_max<double>(m);
    def_abs_max<float>(m);
    m.def(
        "certify",
        [](py::dict problem, double A, double B, double C, double P, double loss, carray<double> lr) {
            const auto p = problem_of(problem);
            const py::ssize_t steps = lr.shape(0);
            return guard::certify(p, A, B, C, P, loss, data_of(lr, steps, "lr"), steps);
        },
        py::arg("problem"), py::arg("A"), py::arg("B"), py::arg("C"), py::arg("P"), py::arg("loss"),
        py::arg("lr").noconvert(), "How many of the steps with step sizes lr are certified finite (see guard.hpp).");
    m.def(
        "bounds_after",
        [](py::dict problem, double A, double B, double C, carray<double> lr, carray<double> losses) {
            const auto p = problem_of(problem);
            const py::ssize_t steps = lr.shape(0);
            if (losses.shape(0) < steps) throw std::invalid_argument("losses: shorter than lr");
            guard::advance_along(p, data_of(lr, steps, "lr"), losses.data(), steps, A, B, C);
            return py::make_tuple(A, B, C);
        },
        py::arg("problem"), py::arg("A"), py::arg("B"), py::arg("C"), py::arg("lr").noconvert(),
        py::arg("losses").noconvert(),
        "Parameter bounds (A, B, C) after the steps lr whose starting losses are `losses`.");
}

}  // namespace wideflow::bind
