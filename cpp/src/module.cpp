// wideflow._core: the compiled kernels. Conversion only; the math lives in cpp/include/wideflow/.
#include "bindings.hpp"
#include "wideflow/parallel.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "wideflow compiled kernels (fused gradient-descent steps, evaluation)";
    m.def("threads_available", &wideflow::threads_available,
          "Number of threads the kernels use by default (1 without OpenMP).");
    m.def("openmp_enabled", &wideflow::openmp_enabled, "Whether the extension was built with OpenMP.");
    wideflow::bind::bind_shallow(m);
    wideflow::bind::bind_flow(m);
    wideflow::bind::bind_factorization(m);
    wideflow::bind::bind_deep(m);
    wideflow::bind::bind_gram(m);
}
