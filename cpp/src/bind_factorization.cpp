// _core.factorization: the two-layer linear factorization Y ~ U V^T (conversion only): GD on one problem, GD
// on a batch of problems, and the flow run over factorization::FlowSystem (state [U; V]).
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "flow_run.hpp"
#include "wideflow/factorization.hpp"
#include "wideflow/factorization_batch.hpp"
#include "wideflow/factorization_flow.hpp"

namespace wideflow::bind {
namespace {

namespace fac = wideflow::factorization;

// Checked raw access to a C-contiguous array of an exact shape.
template <class T>
T* shaped(carray<T>& arr, std::initializer_list<py::ssize_t> shape, const char* name) {
    bool ok = arr.ndim() == py::ssize_t(shape.size());
    py::ssize_t d = 0;
    for (auto it = shape.begin(); ok && it != shape.end(); ++it, ++d) ok = arr.shape(d) == *it;
    if (!ok) {
        std::string want = "(";
        for (auto it = shape.begin(); it != shape.end(); ++it)
            want += std::to_string(*it) + (std::next(it) == shape.end() ? "" : ", ");
        throw std::invalid_argument(std::string(name) + ": expected shape " + want + ")");
    }
    return arr.mutable_data();
}

template <class T>
void def_family(py::module_& m) {
    m.def(
        "gd",
        [](carray<T> U, carray<T> V, carray<T> Y, carray<double> lr, carray<double> losses, bool keep_finite,
           int threads) {
            if (U.ndim() != 2 || V.ndim() != 2) throw std::invalid_argument("U, V: expected 2-d arrays");
            const fac::Shape s{U.shape(0), V.shape(0), U.shape(1)};
            T* Up = shaped(U, {s.m, s.k}, "U");
            T* Vp = shaped(V, {s.n, s.k}, "V");
            const T* Yp = shaped(Y, {s.m, s.n}, "Y");
            const py::ssize_t steps = lr.shape(0);
            const double* lp = data_of(lr, steps, "lr");
            double* lo = data_of(losses, steps, "losses");
            fac::Recorder rec;
            rec.losses = lo;
            py::gil_scoped_release release;
            return fac::run<T>(Up, Vp, Yp, s, lp, 1.0, steps, rec, keep_finite, resolve_threads(threads));
        },
        py::arg("U").noconvert(), py::arg("V").noconvert(), py::arg("Y").noconvert(), py::arg("lr").noconvert(),
        py::arg("losses").noconvert(), py::arg("keep_finite") = false, py::arg("threads") = 0,
        "Run len(lr) GD steps on 1/2||Y - U V^T||^2 in place; losses[s] = loss at the start of step s.\n"
        "result.loss is the loss of the state handed back. The final state is evaluated\n"
        "too (a non-finite one gives steps_done = len(lr), diverged). On divergence U, V hold the first\n"
        "non-finite state, or the last finite one if keep_finite.");

    m.def(
        "gd_batch",
        [](carray<T> Us, carray<T> Vs, carray<T> Ys, carray<double> run_lr, carray<double> step_lr,
           carray<std::int64_t> rec, carray<double> rec_loss, carray<double> rec_x, bool keep_finite,
           carray<std::int64_t> steps_done, carray<std::uint8_t> diverged, int threads) {
            if (Us.ndim() != 3 || Vs.ndim() != 3) throw std::invalid_argument("Us, Vs: expected 3-d arrays");
            const py::ssize_t B = Us.shape(0);
            const fac::Shape s{Us.shape(1), Vs.shape(1), Us.shape(2)};
            T* Up = shaped(Us, {B, s.m, s.k}, "Us");
            T* Vp = shaped(Vs, {B, s.n, s.k}, "Vs");
            const T* Yp;
            index_t y_stride;
            if (Ys.ndim() == 2) {
                Yp = shaped(Ys, {s.m, s.n}, "Ys");
                y_stride = 0;
            } else {
                Yp = shaped(Ys, {B, s.m, s.n}, "Ys");
                y_stride = s.m * s.n;
            }
            const double* rl = data_of(run_lr, B, "run_lr");
            const py::ssize_t steps = step_lr.shape(0);
            const double* sl = data_of(step_lr, steps, "step_lr");
            const py::ssize_t nrec = rec.shape(0);
            const std::int64_t* rp = data_of(rec, nrec, "rec");
            double* rlo = shaped(rec_loss, {B, nrec}, "rec_loss");
            double* rx = rec_x.size() == 0 ? nullptr : shaped(rec_x, {B, nrec, s.m, s.n}, "rec_x");
            std::int64_t* sd = data_of(steps_done, B, "steps_done");
            std::uint8_t* dv = data_of(diverged, B, "diverged");
            py::gil_scoped_release release;
            fac::run_batch<T>(Up, Vp, Yp, y_stride, B, s, rl, sl, steps, rp, nrec, rlo, rx, keep_finite, sd, dv,
                              resolve_threads(threads));
        },
        py::arg("Us").noconvert(), py::arg("Vs").noconvert(), py::arg("Ys").noconvert(), py::arg("run_lr").noconvert(),
        py::arg("step_lr").noconvert(), py::arg("rec").noconvert(), py::arg("rec_loss").noconvert(),
        py::arg("rec_x").noconvert(), py::arg("keep_finite"), py::arg("steps_done").noconvert(),
        py::arg("diverged").noconvert(), py::arg("threads") = 0,
        "Run len(step_lr) GD steps on B independent problems in place (run b: step t has size\n"
        "run_lr[b] * step_lr[t]). rec: sorted state indices in [0, len(step_lr)] whose loss (and product\n"
        "U V^T, if rec_x is not empty) are recorded. Runs with diverged[b] set are skipped; steps_done[b]\n"
        "and diverged[b] report each run. Bitwise equal to gd run by run, for any thread count.");
}

template <class T>
using FactorizationRun = FlowRun<T, fac::FlowSystem<T>>;

template <class T>
void def_flow(py::module_& m, const char* name) {
    using R = FactorizationRun<T>;
    py::class_<R> cls(m, name, "A gradient-flow run of U V^T on 1/2 ||Y - U V^T||^2; the state is [U; V].");
    cls.def(py::init([](carray<T> U, carray<T> V, carray<double> Y, const std::string& tableau, int threads) {
                if (U.ndim() != 2 || V.ndim() != 2) throw std::invalid_argument("U, V: expected 2-d arrays");
                const fac::Shape s{U.shape(0), V.shape(0), U.shape(1)};
                const T* Up = shaped(U, {s.m, s.k}, "U");
                const T* Vp = shaped(V, {s.n, s.k}, "V");
                const double* Yp = shaped(Y, {s.m, s.n}, "Y");
                const int th = resolve_threads(threads);
                auto sys = std::make_unique<fac::FlowSystem<T>>(s.m, s.n, s.k, Yp);
                auto run = std::make_unique<R>(std::vector<py::object>{Y}, std::move(sys), tableau, th);
                run->sys->pack(Up, Vp, run->state.data());
                return run;
            }),
            py::arg("U").noconvert(), py::arg("V").noconvert(), py::arg("Y").noconvert(), py::arg("tableau"),
            py::arg("threads") = 0,
            "threads: the integrator's vector operations run over fixed chunks of the state on that many\n"
            "threads (the right-hand side, small single-threaded Eigen products, does not use them); the\n"
            "result does not depend on it.")
        .def(
            "write_back",
            [](R& r, carray<T> U, carray<T> V) {
                const fac::Shape& s = r.sys->shape();
                r.sys->unpack(r.state.data(), shaped(U, {s.m, s.k}, "U"), shaped(V, {s.n, s.k}, "V"));
            },
            py::arg("U").noconvert(), py::arg("V").noconvert(), "Copy the run's state into U and V.");
    def_run_methods<R>(cls);
}

}  // namespace

void bind_factorization(py::module_ m) {
    def_family<double>(m);
    def_family<float>(m);
    def_flow<double>(m, "Flow64");
    def_flow<float>(m, "Flow32");
    m.def(
        "tiny_path",
        [](py::ssize_t rows_u, py::ssize_t rows_v, py::ssize_t k, int itemsize) {
            const fac::Shape s{rows_u, rows_v, k};
            return itemsize == 4 ? fac::tiny_path<float>(s) : fac::tiny_path<double>(s);
        },
        py::arg("m"), py::arg("n"), py::arg("k"), py::arg("itemsize") = 8,
        "Whether the fixed-size (tiny) kernel path serves this shape (itemsize 8: float64, 4: float32).");
}

}  // namespace wideflow::bind
