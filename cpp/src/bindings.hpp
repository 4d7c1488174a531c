// Shared declarations for the binding layer: each model family binds itself into the module.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

namespace wideflow::bind {

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

// Checked raw access to a C-contiguous NumPy array of exactly `n` elements (conversion only; the Python
// layer has already validated shapes and dtypes with messages that name the user's argument).
template <class T>
T* data_of(carray<T>& arr, py::ssize_t n, const char* name) {
    if (arr.ndim() != 1 || arr.shape(0) != n)
        throw std::invalid_argument(std::string(name) + ": expected a 1-d array of length " +
                                    std::to_string(n));
    return arr.mutable_data();
}

void bind_shallow(py::module_& m);
void bind_flow(py::module_& m);
void bind_factorization(py::module_& m);
void bind_deep(py::module_& m);
void bind_gram(py::module_& m);
void bind_shallow_events(py::module_& m);  // the exact ReLU flow (bind_shallow_events.cpp)
void bind_guard(py::module_& m);  // divergence-safety bounds (bind_guard.cpp), registered by bind_shallow

}  // namespace wideflow::bind
