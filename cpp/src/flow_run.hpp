// The Python-facing object of a gradient-flow run (shared by the family binding files): it owns the state
// vector, the system, the integrator and the integration state between bounded calls. How the model's
// arrays are laid out in the state vector is the System's business (its pack / unpack), not the binding's.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "wideflow/flow.hpp"

namespace wideflow::bind {

inline const flow::Tableau& tableau_of(const std::string& name) {
    if (name == "dopri5") return flow::dopri5();
    if (name == "bs32") return flow::bs32();
    throw std::invalid_argument("tableau: unknown Runge-Kutta pair '" + name + "' (dopri5, bs32)");
}

template <class T, class System>
struct FlowRun {
    std::vector<py::object> keep_alive;  // the data arrays the system points into
    std::unique_ptr<System> sys;
    std::vector<T> state;  // sys->size() values; the caller packs the model into it
    std::unique_ptr<flow::Integrator<T, System>> integ;
    flow::FlowState st;

    FlowRun(std::vector<py::object> data, std::unique_ptr<System> system, const std::string& tableau, int threads)
        : keep_alive(std::move(data)),
          sys(std::move(system)),
          state(static_cast<std::size_t>(sys->size())),
          integ(std::make_unique<flow::Integrator<T, System>>(*sys, tableau_of(tableau), threads)) {}

    py::tuple integrate(double t_stop, double rtol, double atol, index_t max_steps, carray<double> t_out,
                        carray<double> loss_out) {
        double* tp = data_of(t_out, max_steps, "t_out");
        double* lp = data_of(loss_out, max_steps, "loss_out");
        flow::FlowResult r;
        {
            py::gil_scoped_release release;
            r = integ->integrate(state.data(), st, t_stop, rtol, atol, max_steps, tp, lp);
        }
        return py::make_tuple(r.steps, r.reached, r.failed);
    }

    double current_loss() {
        if (!st.have_rhs) {
            std::vector<T> scratch(state.size());
            return sys->rhs(state.data(), scratch.data());
        }
        return st.loss;
    }
};

// One bounded integrate() call of an event-aware run, which writes the records it reaches into the arrays the
// Python engine holds (rec_k: written so far): step(cursor) runs the integrator without the GIL. Returns
// (steps, reached, failed, records written).
template <class Step>
py::tuple integrate_with_records(carray<double>& rec_t, index_t rec_k, carray<double>& rec_loss,
                                 carray<long long>& rec_steps, Step&& step) {
    const py::ssize_t n = rec_t.shape(0);
    if (rec_t.ndim() != 1 || rec_k < 0 || rec_k > n) throw std::invalid_argument("rec_k: out of range");
    flow::RecordCursor rc;
    rc.t = data_of(rec_t, n, "rec_t");
    rc.loss = data_of(rec_loss, n, "rec_loss");
    rc.steps = data_of(rec_steps, n, "rec_steps");
    rc.n = n;
    rc.k = rec_k;
    flow::FlowResult r;
    {
        py::gil_scoped_release release;
        r = step(rc);
    }
    return py::make_tuple(r.steps, r.reached, r.failed, rc.k);
}

// The common part of every flow-run class: integrate, counters, loss.
template <class R, class Cls>
void def_run_methods(Cls& cls) {
    cls.def("integrate", &R::integrate, py::arg("t_stop"), py::arg("rtol"), py::arg("atol"), py::arg("max_steps"),
            py::arg("t_out").noconvert(), py::arg("loss_out").noconvert(),
            "Integrate towards t_stop within the call's budget; t_out / loss_out receive the accepted steps. "
            "Returns (steps, reached, failed).")
        .def("loss", &R::current_loss, "Loss at the current state.")
        .def_property_readonly("t", [](const R& r) { return r.st.t; })
        .def_property_readonly("h", [](const R& r) { return r.st.h; })
        .def_property_readonly("accepted", [](const R& r) { return r.st.accepted; })
        .def_property_readonly("rejected", [](const R& r) { return r.st.rejected; })
        .def_property_readonly("evals", [](const R& r) { return r.st.evals; })
        .def_property_readonly("failure", [](const R& r) { return std::string(r.st.failure); });
}

}  // namespace wideflow::bind
