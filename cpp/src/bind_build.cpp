// Top level of wideflow._core: threads, how the extension was built, the instruction set the shallow
// kernels run with, and the ChunkResult every GD kernel returns (conversion only).
#include <cstdlib>
#include <string>

#include "bindings.hpp"
#include "wideflow/parallel.hpp"
#include "wideflow/shallow_dispatch.hpp"
#include "wideflow_build_config.hpp"

namespace wideflow::bind {
namespace {

// Instruction set the kernels run with: chosen once at import (WIDEFLOW_ISA may force a lower one).
struct IsaState {
    int level = isa::baseline;
    std::string requested;
    std::string note;
};

IsaState& isa_state() {
    static IsaState st = [] {
        IsaState s;
        const char* env = std::getenv("WIDEFLOW_ISA");
        s.requested = env ? env : "";
        s.level = shallow::choose_level(env, s.note);
        return s;
    }();
    return st;
}

// How this extension was built (compiler, flags, OpenMP); the instruction sets come from isa_info().
py::dict build_config() {
    py::dict d;
    d["compiler"] = WIDEFLOW_BUILD_COMPILER;
    d["flags"] = WIDEFLOW_BUILD_FLAGS;
    d["kernel_flags"] = WIDEFLOW_BUILD_ISA_FLAGS;
    d["native"] = bool(WIDEFLOW_BUILD_NATIVE);
    d["build_type"] = WIDEFLOW_BUILD_TYPE;
    d["target"] = WIDEFLOW_BUILD_SYSTEM_PROCESSOR;
    // the commit built from (None outside a git checkout) and whether it had uncommitted changes
    const std::string rev = WIDEFLOW_BUILD_GIT_REVISION;
    d["git_revision"] = rev.empty() ? py::object(py::none()) : py::object(py::str(rev));
    d["git_dirty"] =
        WIDEFLOW_BUILD_GIT_DIRTY < 0 ? py::object(py::none()) : py::object(py::bool_(WIDEFLOW_BUILD_GIT_DIRTY > 0));
#ifdef WIDEFLOW_HAVE_OPENMP
    d["openmp"] = true;
    d["openmp_version"] = int(_OPENMP);
#else
    d["openmp"] = false;
    d["openmp_version"] = py::none();
#endif
    return d;
}

py::dict isa_info() {
    const IsaState& st = isa_state();
    py::list compiled;
    for (int l = isa::baseline; l <= isa::compiled_level(); ++l) compiled.append(isa::name_of(l));
    py::dict d;
    d["in_use"] = isa::name_of(st.level);
    d["compiled"] = compiled;
    d["cpu_best"] = isa::name_of(isa::cpu_level());
    d["requested"] = st.requested;
    d["note"] = st.note;
    return d;
}

std::string set_isa(const std::string& name) {
    std::string note;
    const int level = shallow::choose_level(name.c_str(), note);
    if (!note.empty()) throw std::invalid_argument(note);
    isa_state().level = level;
    return isa::name_of(level);
}

}  // namespace

int isa_level() { return isa_state().level; }

void bind_build(py::module_& m) {
    m.def("threads_available", &threads_available, "Number of threads the kernels use by default (1 without OpenMP).");
    m.def("openmp_enabled", &openmp_enabled, "Whether the extension was built with OpenMP.");
    m.def("build_config", &build_config, "Compiler, flags, native or portable, OpenMP of this build.");
    m.def(
        "isa", [] { return std::string(isa::name_of(isa_state().level)); },
        "Instruction set the shallow kernels run with: 'baseline', 'avx2' or 'avx512'.");
    m.def("isa_info", &isa_info,
          "Instruction sets: in use, compiled, the best the CPU runs, the WIDEFLOW_ISA request and a note.");
    m.def("_set_isa", &set_isa, py::arg("name"),
          "Switch the instruction set of the shallow kernels (tests and benchmarks; not thread-safe with "
          "running kernels). Raises ValueError for a set the CPU or the build lacks.");
    py::class_<ChunkResult>(m, "ChunkResult",
                            "What one bounded call of a GD kernel reports: steps_done, diverged and loss (the "
                            "loss of the state handed back where the kernel evaluates it, NaN otherwise).")
        .def_readonly("steps_done", &ChunkResult::steps_done)
        .def_readonly("diverged", &ChunkResult::diverged)
        .def_readonly("loss", &ChunkResult::loss)
        .def("__repr__", [](const ChunkResult& r) {
            return "ChunkResult(steps_done=" + std::to_string(r.steps_done) +
                   ", diverged=" + (r.diverged ? "True" : "False") +
                   ", loss=" + py::repr(py::float_(r.loss)).cast<std::string>() + ")";
        });
}

}  // namespace wideflow::bind
