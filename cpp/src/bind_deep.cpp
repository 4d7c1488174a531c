// _core.deep: the deep fully-connected net (conversion only): evaluation, loss and gradients, a GD run that
// keeps its workspaces (Trainer), the flow run over deep::FlowSystem (state [W_1..W_L; b_1..b_L]) and the
// event-aware flow of ReLU / leaky-ReLU nets (deep_event_flow.hpp; its state in double).
#include <pybind11/stl.h>

#include <memory>
#include <vector>

#include "bindings.hpp"
#include "flow_run.hpp"
#include "wideflow/deep.hpp"
#include "wideflow/deep_event_flow.hpp"
#include "wideflow/deep_flow.hpp"

namespace wideflow::bind {
namespace {

template <class T>
using array_list = std::vector<carray<T>>;

// A Net view over the NumPy buffers; checks that the shapes chain (the Python layer has already given
// messages naming the user's argument).
template <class T>
deep::Net<T> net_of(array_list<T>& weights, array_list<T>& biases, deep::Activation activation, double slope) {
    deep::Net<T> net;
    if (weights.empty()) throw std::invalid_argument("weights: at least one layer is required");
    net.act = activation;
    net.slope = T(slope);
    for (std::size_t h = 0; h < weights.size(); ++h) {
        auto& w = weights[h];
        if (w.ndim() != 2) throw std::invalid_argument("weights[" + std::to_string(h) + "]: expected a 2-d array");
        if (h == 0) net.dims.push_back(w.shape(1));
        if (w.shape(1) != net.dims.back())
            throw std::invalid_argument("weights[" + std::to_string(h) + "]: input size does not chain");
        net.dims.push_back(w.shape(0));
        net.W.push_back(w.mutable_data());
    }
    if (!biases.empty()) {
        if (biases.size() != weights.size()) throw std::invalid_argument("biases: expected one bias vector per layer");
        for (std::size_t h = 0; h < biases.size(); ++h)
            net.b.push_back(data_of(biases[h], net.dims[h + 1], "biases[h]"));
    }
    return net;
}

template <class T>
const T* matrix_of(carray<T>& arr, py::ssize_t rows, py::ssize_t cols, const char* name) {
    if (arr.ndim() != 2 || arr.shape(1) != cols || (rows >= 0 && arr.shape(0) != rows))
        throw std::invalid_argument(std::string(name) + ": shape does not match the network");
    return arr.data();
}

template <class T>
void def_family(py::module_& m) {
    m.def(
        "evaluate",
        [](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope, carray<T> X,
           carray<T> out, int threads) {
            auto net = net_of(weights, biases, activation, slope);
            const index_t L = net.depth();
            const py::ssize_t N = X.shape(0);
            const T* xp = matrix_of(X, -1, net.dims[0], "X");
            matrix_of(out, N, net.dims[L], "out");
            T* op = out.mutable_data();
            py::gil_scoped_release release;
            deep::evaluate(net, xp, N, op, resolve_threads(threads));
        },
        py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
        py::arg("X").noconvert(), py::arg("out").noconvert(), py::arg("threads") = 0,
        "out = f(X) for the net given by its weight (and bias) arrays.");

    m.def(
        "loss",
        [](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope, carray<T> X,
           carray<T> Y, double offset, int threads) {
            auto net = net_of(weights, biases, activation, slope);
            const py::ssize_t N = X.shape(0);
            const T* xp = matrix_of(X, -1, net.dims[0], "X");
            const T* yp = matrix_of(Y, N, net.dims[net.depth()], "Y");
            py::gil_scoped_release release;
            return deep::loss(net, xp, yp, N, offset, resolve_threads(threads));
        },
        py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("offset") = 0.0, py::arg("threads") = 0,
        "offset + 1/2 sum (f(X) - Y)^2, computed exactly as the GD kernel does.");

    m.def(
        "gradients",
        [](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope, carray<T> X,
           carray<T> Y, array_list<T> grad_w, array_list<T> grad_b, double offset, int threads) {
            auto net = net_of(weights, biases, activation, slope);
            const py::ssize_t N = X.shape(0);
            const T* xp = matrix_of(X, -1, net.dims[0], "X");
            const T* yp = matrix_of(Y, N, net.dims[net.depth()], "Y");
            if (grad_w.size() != weights.size() || grad_b.size() != biases.size())
                throw std::invalid_argument("grad_w, grad_b: expected one array per weight / bias");
            std::vector<T*> gw, gb;
            for (std::size_t h = 0; h < grad_w.size(); ++h) {
                matrix_of(grad_w[h], net.dims[h + 1], net.dims[h], "grad_w[h]");
                gw.push_back(grad_w[h].mutable_data());
            }
            for (std::size_t h = 0; h < grad_b.size(); ++h)
                gb.push_back(data_of(grad_b[h], net.dims[h + 1], "grad_b[h]"));
            py::gil_scoped_release release;
            return deep::gradients(net, xp, yp, N, offset, gw.data(), gb.empty() ? nullptr : gb.data(),
                                   resolve_threads(threads));
        },
        py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("grad_w").noconvert(),
        py::arg("grad_b").noconvert(), py::arg("offset") = 0.0, py::arg("threads") = 0,
        "Loss and gradients (written into grad_w / grad_b).");
}

// A training run holding its NumPy arrays (weights and biases are updated in place; X, Y are read).
template <class T>
struct PyTrainer {
    array_list<T> weights, biases;
    carray<T> X, Y;
    std::unique_ptr<deep::Trainer<T>> trainer;

    PyTrainer(array_list<T> w, array_list<T> b, deep::Activation activation, double slope, carray<T> x, carray<T> y,
              double offset, int threads)
        : weights(std::move(w)), biases(std::move(b)), X(std::move(x)), Y(std::move(y)) {
        auto net = net_of(weights, biases, activation, slope);
        const py::ssize_t N = X.shape(0);
        const T* xp = matrix_of(X, -1, net.dims[0], "X");
        const T* yp = matrix_of(Y, N, net.dims[net.depth()], "Y");
        trainer = std::make_unique<deep::Trainer<T>>(std::move(net), xp, yp, N, offset, resolve_threads(threads));
    }
};

template <class T>
void def_trainer(py::module_& m, const char* name) {
    py::class_<PyTrainer<T>>(m, name, "A deep-net GD run: workspaces and packed X live as long as the object.")
        .def(
            "run",
            [](PyTrainer<T>& self, carray<double> lr, carray<double> losses) {
                const py::ssize_t steps = lr.shape(0);
                const double* lp = data_of(lr, steps, "lr");
                double* lo = data_of(losses, steps, "losses");
                py::gil_scoped_release release;
                return self.trainer->run(lp, steps, lo);
            },
            py::arg("lr").noconvert(), py::arg("losses").noconvert(),
            "Run len(lr) fused GD steps in place; losses[s] = loss at the start of step s.")
        .def(
            "loss",
            [](PyTrainer<T>& self) {
                py::gil_scoped_release release;
                return self.trainer->loss();
            },
            "offset + 1/2 sum (f(X) - Y)^2 at the current weights (the arithmetic of the steps).");
    m.def(
        "trainer",
        [](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope, carray<T> X,
           carray<T> Y, double offset, int threads) {
            return std::make_unique<PyTrainer<T>>(std::move(weights), std::move(biases), activation, slope,
                                                  std::move(X), std::move(Y), offset, threads);
        },
        py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("offset"), py::arg("threads") = 0,
        "A GD run over the given arrays (Trainer64 / Trainer32 by dtype; see its run and loss).");
}

template <class T>
using DeepFlowRun = FlowRun<T, deep::FlowSystem<T>>;

template <class T>
void def_flow(py::module_& m, const char* name) {
    using R = DeepFlowRun<T>;
    py::class_<R> cls(m, name, "A gradient-flow run of the deep net; the state is [W_1..W_L; b_1..b_L].");
    cls.def(py::init([](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope,
                        carray<T> X, carray<T> Y, double offset, const std::string& tableau, int threads) {
                const auto net = net_of(weights, biases, activation, slope);
                const py::ssize_t N = X.shape(0);
                const T* Xp = matrix_of(X, -1, net.dims.front(), "X");
                const T* Yp = matrix_of(Y, N, net.dims.back(), "Y");
                const int th = resolve_threads(threads);
                auto sys = std::make_unique<deep::FlowSystem<T>>(net, Xp, Yp, N, offset, th);
                auto run = std::make_unique<R>(std::vector<py::object>{X, Y}, std::move(sys), tableau, th);
                run->sys->pack(net, run->state.data());
                return run;
            }),
            py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("offset"), py::arg("tableau"),
            py::arg("threads") = 0)
        .def(
            "write_back",
            [](R& r, array_list<T> weights, array_list<T> biases) {
                const auto net = net_of(weights, biases, r.sys->activation(), 0.0);
                r.sys->unpack(r.state.data(), net);
            },
            py::arg("weights").noconvert(), py::arg("biases").noconvert(),
            "Copy the run's state into the weight (and bias) arrays.");
    def_run_methods<R>(cls);
}

// An event-aware flow run (ReLU / leaky ReLU): the pattern net with double copies of X and Y, the state
// [W_1..W_L; b_1..b_L] in double, the integrator and its state between bounded calls.
template <class T>
struct DeepEventRun {
    std::vector<index_t> dims;
    bool bias = false;
    std::unique_ptr<deep::PatternNet> net;
    std::unique_ptr<deep::DeepEventIntegrator> integ;
    std::vector<double> state;
    deep::DeepEventState st;
    flow::ZenoOptions opt;

    py::tuple integrate(double t_stop, double rtol, double atol, index_t max_steps, carray<double> rec_t, index_t rec_k,
                        carray<double> rec_loss, carray<long long> rec_steps) {
        return integrate_with_records(rec_t, rec_k, rec_loss, rec_steps, [&](flow::RecordCursor& rc) {
            return integ->integrate(state.data(), st, t_stop, rtol, atol, max_steps, rc, opt);
        });
    }

    // Copy between the state and the weight / bias arrays (to_state: arrays -> state).
    void transfer(array_list<T>& weights, array_list<T>& biases, bool to_state) {
        const auto shape = net_of(weights, biases, deep::Activation::relu, 0.0);
        if (shape.dims != dims || shape.has_bias() != bias)
            throw std::invalid_argument("weights, biases: shapes differ from the flow run's");
        std::size_t off = 0;
        auto layer = [&](T* p, index_t len) {
            for (index_t i = 0; i < len; ++i, ++off)
                if (to_state)
                    state[off] = double(p[i]);
                else
                    p[i] = T(state[off]);
        };
        for (std::size_t h = 0; h < weights.size(); ++h) layer(shape.W[h], dims[h + 1] * dims[h]);
        for (std::size_t h = 0; h < shape.b.size(); ++h) layer(shape.b[h], dims[h + 1]);
    }
};

template <class T>
void def_event_flow(py::module_& m, const char* name) {
    using R = DeepEventRun<T>;
    py::class_<R> cls(m, name,
                      "An event-aware gradient-flow run of a ReLU / leaky-ReLU deep net (kinks located, sliding "
                      "pre-activations held by their coupled controls); the state is [W_1..W_L; b_1..b_L] in double.");
    cls.def(py::init([](array_list<T> weights, array_list<T> biases, deep::Activation activation, double slope,
                        carray<T> X, carray<T> Y, double offset, const std::string& tableau, long long zeno_events,
                        double zeno_window) {
                if (activation == deep::Activation::linear)
                    throw std::invalid_argument("activation: the event-aware flow is for relu and leaky_relu nets");
                const auto shape = net_of(weights, biases, activation, slope);
                const py::ssize_t N = X.shape(0);
                const T* Xp = matrix_of(X, -1, shape.dims.front(), "X");
                const T* Yp = matrix_of(Y, N, shape.dims.back(), "Y");
                std::vector<double> Xd(Xp, Xp + N * shape.dims.front()), Yd(Yp, Yp + N * shape.dims.back());
                auto run = std::make_unique<R>();
                run->dims = shape.dims;
                run->bias = shape.has_bias();
                run->net = std::make_unique<deep::PatternNet>(shape.dims, shape.has_bias(),
                                                              activation == deep::Activation::relu ? 0.0 : slope,
                                                              Xd.data(), Yd.data(), N, offset);
                run->state.assign(static_cast<std::size_t>(run->net->size()), 0.0);
                run->transfer(weights, biases, true);
                run->integ = std::make_unique<deep::DeepEventIntegrator>(*run->net, tableau_of(tableau));
                run->opt.zeno_events = zeno_events;
                run->opt.zeno_window = zeno_window;
                return run;
            }),
            py::arg("weights").noconvert(), py::arg("biases").noconvert(), py::arg("activation"), py::arg("slope"),
            py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("offset"), py::arg("tableau"),
            py::arg("zeno_events") = 1000, py::arg("zeno_window") = 1e-12)
        .def("integrate", &R::integrate, py::arg("t_stop"), py::arg("rtol"), py::arg("atol"), py::arg("max_steps"),
             py::arg("rec_t").noconvert(), py::arg("rec_k"), py::arg("rec_loss").noconvert(),
             py::arg("rec_steps").noconvert(),
             "Integrate towards t_stop within the call's budget, writing the records it reaches. Returns (steps, "
             "reached, failed, records written).")
        .def(
            "write_back", [](R& r, array_list<T> weights, array_list<T> biases) { r.transfer(weights, biases, false); },
            py::arg("weights").noconvert(), py::arg("biases").noconvert(),
            "Copy the run's state into the weight (and bias) arrays.")
        .def("loss", [](R& r) { return r.st.have_rhs ? r.st.loss : r.integ->loss(r.state.data()); })
        .def_property_readonly("t", [](const R& r) { return r.st.t; })
        .def_property_readonly("h", [](const R& r) { return r.st.h; })
        .def_property_readonly("accepted", [](const R& r) { return r.st.accepted; })
        .def_property_readonly("rejected", [](const R& r) { return r.st.rejected; })
        .def_property_readonly("evals", [](const R& r) { return r.st.evals; })
        .def_property_readonly("forward_evals", [](const R& r) { return r.st.forward_evals; })
        .def_property_readonly("events", [](const R& r) { return r.st.events; })
        .def_property_readonly("cut_steps", [](const R& r) { return r.st.cut_steps; })
        .def_property_readonly("zeno", [](const R& r) { return r.st.zeno; })
        .def_property_readonly("crossings", [](const R& r) { return r.st.crossings; })
        .def_property_readonly("sliding_entries", [](const R& r) { return r.st.entries; })
        .def_property_readonly("sliding_exits", [](const R& r) { return r.st.exits; })
        .def(
            "sliding",
            [](const R& r) {
                py::list out;
                for (std::size_t q = 0; q < r.integ->sliding_count(); ++q) {
                    const auto e = r.integ->sliding_entry(q);
                    out.append(py::make_tuple(e.h, e.j, e.u, r.integ->sliding_lambda(q)));
                }
                return out;
            },
            "The entries sliding now: (hidden layer, sample, unit, lambda).")
        .def_property_readonly("failure", [](const R& r) { return r.st.failure; });
}

}  // namespace

void bind_deep(py::module_ m) {
    py::enum_<deep::Activation>(m, "Activation", "phi of the hidden layers (leaky_relu: slope `slope` for z < 0).")
        .value("linear", deep::Activation::linear)
        .value("relu", deep::Activation::relu)
        .value("leaky_relu", deep::Activation::leaky_relu);
    def_family<double>(m);
    def_family<float>(m);
    def_trainer<double>(m, "Trainer64");
    def_trainer<float>(m, "Trainer32");
    def_flow<double>(m, "Flow64");
    def_flow<float>(m, "Flow32");
    def_event_flow<double>(m, "EventFlow64");
    def_event_flow<float>(m, "EventFlow32");
}

}  // namespace wideflow::bind
