// wideflow._core: the compiled kernels, one submodule per model family (the way boost-histogram registers
// its families). Conversion only; the math lives in cpp/include/wideflow/.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
    namespace bind = wideflow::bind;
    m.doc() = "wideflow compiled kernels: fused gradient-descent steps, gradient-flow systems, evaluation";
    bind::bind_build(m);
    bind::bind_shallow(m.def_submodule("shallow", "Shallow univariate ReLU net: evaluation, fused GD, flow."));
    bind::bind_guard(m.def_submodule("guard", "Divergence-safety bounds of the shallow net's GD steps."));
    bind::bind_deep(m.def_submodule("deep", "Deep fully-connected net: evaluation, gradients, GD runs, flow."));
    bind::bind_factorization(
        m.def_submodule("factorization", "Two-layer linear factorization Y ~ U V^T: GD, batched GD, flow."));
    bind::bind_one_layer(m.def_submodule("one_layer", "The one-layer baseline X trained on 1/2 ||Y - X||^2."));
    bind::bind_random_features(
        m.def_submodule("random_features", "Streamed Gram sums of random ReLU features, counter-based draws."));
}
