// Bindings of the exact (event-aware) shallow ReLU flow (conversion only): one Python object per run holds
// the class system (with the neurons' state [a; b; c] in double), its integrator and the integration state
// between bounded calls. The math is in wideflow/shallow_events.hpp and wideflow/shallow_event_flow.hpp.
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "flow_run.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/shallow_event_flow.hpp"

namespace wideflow::bind {
namespace {

template <class T>
struct EventRun {
    std::vector<py::object> keep_alive;  // x, y (the system points into them)
    std::unique_ptr<shallow::EventSystem> sys;
    std::unique_ptr<shallow::EventIntegrator> integ;
    shallow::EventFlowState st;
    shallow::EventOptions opt;

    py::tuple integrate(double t_stop, double rtol, double atol, index_t max_steps, carray<double> rec_t, index_t rec_k,
                        carray<double> rec_loss, carray<long long> rec_steps) {
        return integrate_with_records(rec_t, rec_k, rec_loss, rec_steps, [&](flow::RecordCursor& rc) {
            return integ->integrate(st, t_stop, rtol, atol, max_steps, rc, opt);
        });
    }

    // Per neuron: the sample (index into the run's ascending x) it slides on, or -1, and its lambda
    // (NaN for free neurons), at the current state.
    py::tuple sliding() {
        const index_t m = sys->width();
        py::array_t<long long> js(m);
        py::array_t<double> lam(m);
        auto J = js.mutable_unchecked<1>();
        auto L = lam.mutable_unchecked<1>();
        for (index_t i = 0; i < m; ++i) J(i) = -1, L(i) = NAN;
        if (st.started) {
            const std::vector<double> lams = integ->lambdas();
            const index_t nb = sys->free_bins();
            for (index_t i = 0; i < m; ++i) {
                const index_t k = sys->cls(i);
                if (k < nb) continue;
                J(sys->id(i)) = sys->slide_group(k - nb);
                L(sys->id(i)) = lams[static_cast<std::size_t>(k - nb)];
            }
        }
        return py::make_tuple(js, lam);
    }
};

template <class T>
void def_event_flow(py::module_& m, const char* name) {
    using R = EventRun<T>;
    py::class_<R> cls(m, name);
    cls.def(py::init([](carray<T> a, carray<T> b, carray<T> c, double inv_alpha, carray<double> x, carray<double> y,
                        double scale_inner, double scale_outer, const std::string& tableau, int threads,
                        long long zeno_events, double zeno_window) {
                auto run = std::make_unique<R>();
                const py::ssize_t mm = a.shape(0), n = x.shape(0);
                const T* ap = data_of(a, mm, "a");
                const T* bp = data_of(b, mm, "b");
                const T* cp = data_of(c, mm, "c");
                if (n < 1) throw std::invalid_argument("x: at least one sample expected");
                run->keep_alive = {x, y};
                (void)resolve_threads(threads);  // the class system is serial: any thread count, the same bits
                run->sys = std::make_unique<shallow::EventSystem>(mm, inv_alpha, data_of(x, n, "x"), data_of(y, n, "y"),
                                                                  n, scale_inner, scale_outer);
                double* w = run->sys->state();
                for (py::ssize_t i = 0; i < mm; ++i) w[i] = ap[i], w[mm + i] = bp[i], w[2 * mm + i] = cp[i];
                run->integ = std::make_unique<shallow::EventIntegrator>(*run->sys, tableau_of(tableau));
                run->opt.zeno_events = zeno_events;
                run->opt.zeno_window = zeno_window;
                return run;
            }),
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(), py::arg("inv_alpha"),
            py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("scale_inner"), py::arg("scale_outer"),
            py::arg("tableau"), py::arg("threads") = 0, py::arg("zeno_events") = 1000, py::arg("zeno_window") = 1e-12)
        .def("integrate", &R::integrate, py::arg("t_stop"), py::arg("rtol"), py::arg("atol"), py::arg("max_steps"),
             py::arg("rec_t").noconvert(), py::arg("rec_k"), py::arg("rec_loss").noconvert(),
             py::arg("rec_steps").noconvert())
        .def(
            "write_back",
            [](R& r, carray<T> a, carray<T> b, carray<T> c) {
                const py::ssize_t mm = static_cast<py::ssize_t>(r.sys->width());
                T* ap = data_of(a, mm, "a");
                T* bp = data_of(b, mm, "b");
                T* cp = data_of(c, mm, "c");
                const double* w = r.sys->state();
                for (py::ssize_t i = 0; i < mm; ++i) {  // storage position i -> the neuron's own index
                    const index_t j = r.sys->id(i);
                    ap[j] = T(w[i]), bp[j] = T(w[mm + i]), cp[j] = T(w[2 * mm + i]);
                }
            },
            py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert())
        .def("loss", [](R& r) { return r.st.have_rhs ? r.st.loss : r.integ->loss(); })
        .def("sliding", &R::sliding)
        .def_property_readonly("t", [](const R& r) { return r.st.t; })
        .def_property_readonly("h", [](const R& r) { return r.st.h; })
        .def_property_readonly("accepted", [](const R& r) { return r.st.accepted; })
        .def_property_readonly("rejected", [](const R& r) { return r.st.rejected; })
        .def_property_readonly("evals", [](const R& r) { return r.st.evals; })
        .def_property_readonly("events", [](const R& r) { return r.st.events; })
        .def_property_readonly("crossings", [](const R& r) { return r.st.crossings; })
        .def_property_readonly("sliding_entries", [](const R& r) { return r.st.entries; })
        .def_property_readonly("sliding_exits", [](const R& r) { return r.st.exits; })
        .def_property_readonly("sliding_now",
                               [](const R& r) {
                                   long long k = 0;
                                   for (index_t i = 0; i < r.sys->width(); ++i)
                                       k += r.sys->cls(i) >= r.sys->free_bins();
                                   return k;
                               })
        .def_property_readonly("zeno", [](const R& r) { return r.st.zeno; })
        .def_property_readonly("inside_steps", [](const R& r) { return r.st.inside; })
        .def_property_readonly("cut_steps", [](const R& r) { return r.st.cut_steps; })
        .def_property_readonly("failure", [](const R& r) { return r.st.failure; });
}

}  // namespace

void bind_shallow_events(py::module_& m) {
    def_event_flow<double>(m, "EventFlow64");
    def_event_flow<float>(m, "EventFlow32");
}

}  // namespace wideflow::bind
