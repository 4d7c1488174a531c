// Fixed-width vectors for the hot loops (GCC/Clang vector extensions).
//
// native<T> is one hardware register of the instruction set being compiled (16, 32 or 64 bytes); a group
// of 64 bytes of lanes is an array of 64 / WIDEFLOW_VECTOR_BYTES of them. Lanes are written in the
// source, so a sum over lanes has the same order, and the same bits, in every instruction set. The
// auto-vectorizer is not trusted with the register tiles of the shallow kernels (it kept them in memory,
// or turned the ReLU selects into branches), nor are vectors wider than a register (GCC 12 splits their
// selects into scalar code). Compiled once per instruction set like the kernels (isa.hpp). The fixed
// 64-byte pack with explicit intrinsics (the factorization's tiny path) is simd_pack.hpp.
#pragma once

#include <cstdint>
#include <cstring>

#include "wideflow/isa.hpp"

namespace wideflow::simd {
WIDEFLOW_ISA_NAMESPACE_BEGIN

// For the register-tiled inner loops: compiled on their own, their accumulators get the registers (inlined
// into a large chunk body, GCC 12 kept some of them on the stack).
#if defined(__GNUC__)
#define WIDEFLOW_NOINLINE __attribute__((noinline))
#else
#define WIDEFLOW_NOINLINE
#endif

template <class T, int N>
struct vec {
    typedef T type __attribute__((vector_size(N * sizeof(T))));
};

template <class T>
using native = typename vec<T, WIDEFLOW_VECTOR_BYTES / int(sizeof(T))>::type;
template <class T>
constexpr int kNative = WIDEFLOW_VECTOR_BYTES / int(sizeof(T));  // lanes of native<T>

// Unaligned load / store of a whole vector.
template <class V, class T>
inline V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}

template <class V, class T>
inline void store(T* p, const V& v) {
    std::memcpy(p, &v, sizeof(V));
}

// Whether two integer vectors differ in some lane (their bytes OR-ed as 64-bit words).
template <class V>
inline bool differ(const V& x, const V& y) {
    constexpr int kWords = int(sizeof(V) / 8);
    std::uint64_t w[kWords], u[kWords];
    std::memcpy(w, &x, sizeof(V));
    std::memcpy(u, &y, sizeof(V));
    std::uint64_t d = 0;
    for (int k = 0; k < kWords; ++k) d |= w[k] ^ u[k];
    return d != 0;
}

// Keeps loaded vectors in registers: without it GCC folds every use into a memory operand, so a register
// tile of J samples loads each parameter vector J times (a load per use; on Zen 5 two 64-byte loads per
// cycle bound the tile before the arithmetic does). The empty asm makes the values opaque to it.
template <class V>
inline void in_register_one(V& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm("" : "+v"(v));
#else
    (void)v;
#endif
}

template <class... V>
inline void in_register(V&... v) {
    (in_register_one(v), ...);
}

// max(z, 0) with the scalar kernels' convention (z > 0 ? z : 0; NaN -> 0).
template <class V>
inline V relu(const V& z) {
    const V zero = {};
    return z > zero ? z : zero;
}

WIDEFLOW_ISA_NAMESPACE_END
}  // namespace wideflow::simd
