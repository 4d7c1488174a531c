// _core.one_layer: the one-layer baseline X trained directly on 1/2 ||Y - X||^2 (conversion only).
#include "bindings.hpp"
#include "wideflow/one_layer.hpp"

namespace wideflow::bind {
namespace {

template <class T>
void def_gd(py::module_& m) {
    m.def(
        "gd",
        [](carray<T> X, carray<T> Y, carray<double> lr, carray<double> losses) {
            const py::ssize_t size = X.size();
            if (Y.size() != size) throw std::invalid_argument("Y: expected as many entries as X");
            const py::ssize_t steps = lr.shape(0);
            const double* lp = data_of(lr, steps, "lr");
            double* lo = data_of(losses, steps, "losses");
            py::gil_scoped_release release;
            return one_layer::run<T>(X.mutable_data(), Y.data(), size, lp, steps, lo);
        },
        py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("lr").noconvert(), py::arg("losses").noconvert(),
        "Run len(lr) GD steps X <- X + lr (Y - X) in place; losses[s] = loss at the start of step s, result.loss\n"
        "the loss of the final state.");
}

}  // namespace

void bind_one_layer(py::module_ m) {
    def_gd<double>(m);
    def_gd<float>(m);
}

}  // namespace wideflow::bind
