// Bindings of the gradient-flow integrators (conversion only): one Python object per run holds the
// integrator, its state vector and its FlowState between bounded calls.
#include <memory>
#include <string>

#include "bindings.hpp"
#include "flow_run.hpp"
#include "wideflow/factorization_flow.hpp"
#include "wideflow/flow.hpp"
#include "wideflow/shallow_flow.hpp"

namespace wideflow::bind {
namespace {

template <class T>
using ShallowRun = FlowRun<T, shallow::FlowSystem<T>>;

template <class T>
void def_shallow_flow(py::module_& m, const char* name) {
    using R = ShallowRun<T>;
    py::class_<R> cls(m, name);
    cls.def(py::init([](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x,
                         carray<double> y, double scale_inner, double scale_outer, const std::string& tableau,
                         int threads) {
                 auto run = std::make_unique<R>();
                 const py::ssize_t mm = a.shape(0), n = x.shape(0);
                 const T* ap = data_of(a, mm, "a");
                 const T* bp = data_of(b, mm, "b");
                 const T* cp = data_of(c, mm, "c");
                 run->keep_alive = {x, y};
                 run->state.resize(static_cast<std::size_t>(3 * mm));
                 std::copy(ap, ap + mm, run->state.begin());
                 std::copy(bp, bp + mm, run->state.begin() + mm);
                 std::copy(cp, cp + mm, run->state.begin() + 2 * mm);
                 run->sys = std::make_unique<shallow::FlowSystem<T>>(mm, inv_alpha, data_of(x, n, "x"),
                                                                     data_of(y, n, "y"), n, scale_inner,
                                                                     scale_outer, resolve_threads(threads));
                 run->integ = std::make_unique<flow::Integrator<T, shallow::FlowSystem<T>>>(
                     *run->sys, tableau_of(tableau), resolve_threads(threads));
                 return run;
             }),
             py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
             py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
             py::arg("tableau"), py::arg("threads") = 0)
        .def("write_back", [](R& r, carray<T> a, carray<T> b, carray<T> c) {
            const py::ssize_t mm = static_cast<py::ssize_t>(r.state.size() / 3);
            data_of(a, mm, "a");
            data_of(b, mm, "b");
            data_of(c, mm, "c");
            std::copy(r.state.begin(), r.state.begin() + mm, data_of(a, mm, "a"));
            std::copy(r.state.begin() + mm, r.state.begin() + 2 * mm, data_of(b, mm, "b"));
            std::copy(r.state.begin() + 2 * mm, r.state.begin() + 3 * mm, data_of(c, mm, "c"));
        });
    def_run_methods<R>(cls);
}

template <class T>
struct FactorizationRun : FlowRun<T, factorization::FlowSystem<T>> {
    py::ssize_t mk = 0;  // size of U in the state vector
};

template <class T>
void def_factorization_flow(py::module_& m, const char* name) {
    using R = FactorizationRun<T>;
    using Arr2 = py::array_t<T, py::array::c_style>;
    py::class_<R> cls(m, name);
    cls.def(py::init([](Arr2 U, Arr2 V, py::array_t<double, py::array::c_style> Y, const std::string& tableau) {
                if (U.ndim() != 2 || V.ndim() != 2 || Y.ndim() != 2 || U.shape(1) != V.shape(1) ||
                    Y.shape(0) != U.shape(0) || Y.shape(1) != V.shape(0))
                    throw std::invalid_argument("U, V, Y: shapes (m, k), (n, k), (m, n) expected");
                auto run = std::make_unique<R>();
                const index_t mm = U.shape(0), n = V.shape(0), k = U.shape(1);
                run->keep_alive = {Y};
                run->mk = mm * k;
                run->state.resize(static_cast<std::size_t>((mm + n) * k));
                std::copy(U.data(), U.data() + mm * k, run->state.begin());
                std::copy(V.data(), V.data() + n * k, run->state.begin() + mm * k);
                run->sys = std::make_unique<factorization::FlowSystem<T>>(mm, n, k, Y.data());
                run->integ = std::make_unique<flow::Integrator<T, factorization::FlowSystem<T>>>(
                    *run->sys, tableau_of(tableau), 1);
                return run;
            }),
            py::arg("U").noconvert(), py::arg("V").noconvert(), py::arg("Y").noconvert(), py::arg("tableau"))
        .def("write_back", [](R& r, Arr2 U, Arr2 V) {
            const py::ssize_t mk = U.shape(0) * U.shape(1), nk = V.shape(0) * V.shape(1);
            if (U.ndim() != 2 || V.ndim() != 2 || mk != r.mk || static_cast<std::size_t>(mk + nk) != r.state.size())
                throw std::invalid_argument("U, V: shapes differ from the run's");
            std::copy(r.state.begin(), r.state.begin() + mk, U.mutable_data());
            std::copy(r.state.begin() + mk, r.state.end(), V.mutable_data());
        });
    def_run_methods<R>(cls);
}

}  // namespace

void bind_flow(py::module_& m) {
    def_shallow_flow<double>(m, "ShallowFlow64");
    def_shallow_flow<float>(m, "ShallowFlow32");
    def_factorization_flow<double>(m, "FactorizationFlow64");
    def_factorization_flow<float>(m, "FactorizationFlow32");
}

}  // namespace wideflow::bind
