// _core.random_features: the streamed random-feature Gram pass and the counter-based draws (conversion only;
// the math is in wideflow/gram.hpp).
#include <cstdint>

#include "bindings.hpp"
#include "wideflow/gram.hpp"

namespace wideflow::bind {
namespace {

void check_range(index_t begin, index_t end) {
    if (begin < 0 || end < begin) throw std::invalid_argument("begin/end: need 0 <= begin <= end");
    if (begin % (gram::kGramBlock * gram::kGramWave) != 0)
        throw std::invalid_argument("begin: must be a multiple of gram_wave_neurons()");
}

template <class T>
void def_arrays(py::module_& m) {
    m.def(
        "accumulate_arrays",
        [](carray<T> a, carray<T> b, index_t begin, index_t end, carray<double> x, carray<double> t, carray<double> acc,
           int threads) {
            const py::ssize_t mm = a.shape(0);
            const py::ssize_t n = x.shape(0), P = t.shape(0);
            const T* ap = data_of(a, mm, "a");
            const T* bp = data_of(b, mm, "b");
            const double* xp = data_of(x, n, "x");
            const double* tp = data_of(t, P, "t");
            double* out = data_of(acc, gram::acc_size(n, P), "acc");
            check_range(begin, end);
            if (end > mm) throw std::invalid_argument("end: beyond the length of a");
            py::gil_scoped_release release;
            gram::accumulate(gram::ArraySource<T>{ap, bp}, begin, end, xp, n, tp, P, out, resolve_threads(threads));
        },
        py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("begin"), py::arg("end"), py::arg("x").noconvert(),
        py::arg("t").noconvert(), py::arg("acc").noconvert(), py::arg("threads") = 0,
        "Add the Gram / histogram sums of neurons [begin, end) of the arrays a, b to acc (t ascending).");
}

}  // namespace

void bind_random_features(py::module_ m) {
    py::enum_<gram::Scheme>(m, "Scheme", "How the first-layer weights (a, b) are drawn (see wideflow/gram.hpp).")
        .value("gaussian", gram::Scheme::gaussian)
        .value("uniform_knots", gram::Scheme::uniform_knots)
        .value("box", gram::Scheme::box);
    m.def(
        "wave_neurons", [] { return gram::kGramBlock * gram::kGramWave; },
        "Neurons per wave of the Gram pass (calls must start on a wave boundary).");
    m.def(
        "accumulate_draws",
        [](gram::Scheme scheme, std::uint64_t seed, double scale, double L, std::uint64_t offset, index_t begin,
           index_t end, carray<double> x, carray<double> t, carray<double> acc, int threads) {
            const py::ssize_t n = x.shape(0), P = t.shape(0);
            const double* xp = data_of(x, n, "x");
            const double* tp = data_of(t, P, "t");
            double* out = data_of(acc, gram::acc_size(n, P), "acc");
            check_range(begin, end);
            gram::DrawSource src(scheme, seed, scale, L, offset);
            py::gil_scoped_release release;
            gram::accumulate(src, begin, end, xp, n, tp, P, out, resolve_threads(threads));
        },
        py::arg("scheme"), py::arg("seed"), py::arg("scale"), py::arg("L"), py::arg("offset"), py::arg("begin"),
        py::arg("end"), py::arg("x").noconvert(), py::arg("t").noconvert(), py::arg("acc").noconvert(),
        py::arg("threads") = 0,
        "Add the Gram / histogram sums of drawn neurons [begin, end) (counter-based draws) to acc.");
    m.def(
        "draw",
        [](gram::Scheme scheme, std::uint64_t seed, double scale, double L, std::uint64_t offset, index_t count) {
            if (count < 0) throw std::invalid_argument("count: must be >= 0");
            carray<double> a(count), b(count);
            gram::DrawSource src(scheme, seed, scale, L, offset);
            src.fill(0, count, a.mutable_data(), b.mutable_data());
            return py::make_tuple(a, b);
        },
        py::arg("scheme"), py::arg("seed"), py::arg("scale"), py::arg("L"), py::arg("offset"), py::arg("count"),
        "The (a, b) of drawn neurons offset .. offset + count - 1.");
    def_arrays<double>(m);
    def_arrays<float>(m);
}

}  // namespace wideflow::bind
