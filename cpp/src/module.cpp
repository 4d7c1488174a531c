// wideflow._core: the compiled kernels. Conversion only; the math lives in cpp/include/wideflow/.
#include <string>

#include "bindings.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow_build_config.hpp"

namespace {

// How this extension was built (compiler, flags, OpenMP); the instruction sets come from isa_info().
pybind11::dict build_config() {
    pybind11::dict d;
    d["compiler"] = WIDEFLOW_BUILD_COMPILER;
    d["flags"] = WIDEFLOW_BUILD_FLAGS;
    d["kernel_flags"] = WIDEFLOW_BUILD_ISA_FLAGS;
    d["native"] = bool(WIDEFLOW_BUILD_NATIVE);
    d["build_type"] = WIDEFLOW_BUILD_TYPE;
    d["target"] = WIDEFLOW_BUILD_SYSTEM_PROCESSOR;
    // the commit built from (None outside a git checkout) and whether it had uncommitted changes
    const std::string rev = WIDEFLOW_BUILD_GIT_REVISION;
    d["git_revision"] = rev.empty() ? pybind11::object(pybind11::none()) : pybind11::object(pybind11::str(rev));
    d["git_dirty"] = WIDEFLOW_BUILD_GIT_DIRTY < 0 ? pybind11::object(pybind11::none())
                                                  : pybind11::object(pybind11::bool_(WIDEFLOW_BUILD_GIT_DIRTY > 0));
#ifdef WIDEFLOW_HAVE_OPENMP
    d["openmp"] = true;
    d["openmp_version"] = int(_OPENMP);
#else
    d["openmp"] = false;
    d["openmp_version"] = pybind11::none();
#endif
    return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "wideflow compiled kernels (fused gradient-descent steps, evaluation)";
    m.def("threads_available", &wideflow::threads_available,
          "Number of threads the kernels use by default (1 without OpenMP).");
    m.def("openmp_enabled", &wideflow::openmp_enabled, "Whether the extension was built with OpenMP.");
    m.def("build_config", &build_config, "Compiler, flags, native or portable, OpenMP of this build.");
    wideflow::bind::bind_shallow(m);
    wideflow::bind::bind_flow(m);
    wideflow::bind::bind_factorization(m);
    wideflow::bind::bind_deep(m);
    wideflow::bind::bind_gram(m);
    wideflow::bind::bind_shallow_events(m);
}
