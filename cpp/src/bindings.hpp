// Shared declarations of the binding layer. Each model family binds itself into its own submodule of
// wideflow._core (module.cpp creates them): conversion between NumPy arrays and the header kernels only.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "wideflow/chunk.hpp"

namespace wideflow::bind {

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

// Checked raw access to a C-contiguous NumPy array of exactly `n` elements (conversion only; the Python
// layer has already validated shapes and dtypes with messages that name the user's argument).
template <class T>
T* data_of(carray<T>& arr, py::ssize_t n, const char* name) {
    if (arr.ndim() != 1 || arr.shape(0) != n)
        throw std::invalid_argument(std::string(name) + ": expected a 1-d array of length " + std::to_string(n));
    return arr.mutable_data();
}

// The instruction set the shallow kernels run with (bind_build.cpp: chosen once at import, WIDEFLOW_ISA
// may force a lower one; _core._set_isa switches it).
int isa_level();

// Top level of _core: threads, build and instruction-set information, and the ChunkResult type.
void bind_build(py::module_& m);
// One submodule per family (the argument is the submodule).
void bind_shallow(py::module_ m);          // _core.shallow
void bind_guard(py::module_ m);            // _core.guard: divergence-safety bounds of the shallow net
void bind_shallow_events(py::module_& m);  // the exact ReLU flow (bind_shallow_events.cpp), in _core.shallow
void bind_deep(py::module_ m);             // _core.deep
void bind_factorization(py::module_ m);    // _core.factorization
void bind_one_layer(py::module_ m);        // _core.one_layer
void bind_random_features(py::module_ m);  // _core.random_features

}  // namespace wideflow::bind
