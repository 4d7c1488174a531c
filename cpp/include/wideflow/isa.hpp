// Instruction sets of the hot kernels and how one extension carries several of them.
//
// Design (runtime CPU dispatch). The shallow GD kernels are compiled three times into one extension:
// baseline x86-64 (SSE2), AVX2 (x86-64-v3: AVX2, FMA, BMI2) and AVX-512 (x86-64-v4: F, CD, BW, DQ, VL,
// 512-bit vectors preferred). The best set the CPU supports is chosen once, at import; the environment
// variable WIDEFLOW_ISA=baseline|avx2|avx512 forces a lower one.
//
// How: one source file (cpp/src/isa/shallow_kernels.cpp) is compiled once per instruction set. Each copy
// includes the standard library and parallel.hpp FIRST, with the build's global flags, and only then
// raises the instruction set for the kernel headers with a target pragma region (WIDEFLOW_ISA_REGION_BEGIN
// below) and puts them in their own inline namespace (WIDEFLOW_ISA_NAMESPACE_BEGIN). So
//  - every kernel function, lambda and template instantiation of the ISA exists only in its own namespace
//    (no two copies share a mangled name: no ODR clash between the copies);
//  - the inline functions that the copies do share (std::vector members, std::fill, the OpenMP
//    parallel_for) are defined before the region, so every copy of them is compiled for the global
//    (baseline, in a portable wheel) flags, whichever copy the linker keeps. With plain per-file -march
//    flags the linker could keep an AVX-512 copy of such a shared function and call it on an AVX2 CPU.
// Why not GCC's target_clones: it clones one function, while the kernels are templates with inlined
// helpers and lambdas run by OpenMP; an outlined OpenMP body or a helper not inlined would run the
// baseline code. Why not a SIMD library (Highway): the kernels are plain loops that GCC and Clang
// vectorize, and another build dependency buys nothing here.
//
// Results across instruction sets: the kernels are built without FP contraction (-ffp-contract=off) and
// without reassociation, and every reduction has a lane structure written in the source (kLanes partial
// sums, per-neuron sums over the samples in sample order), so vectorizing for another width only changes
// which lanes one instruction holds, not what is added to what. Every instruction set therefore gives
// the same bits (tests/core/test_isa.py checks it).
//
// Non-x86 targets (or compilers without target pragmas) build the baseline copy only.
#pragma once

// CMake defines WIDEFLOW_ISA_DISPATCH=1 when it compiles the three copies (x86-64 with GCC or Clang);
// otherwise only the baseline copy exists.
#ifndef WIDEFLOW_ISA_DISPATCH
#define WIDEFLOW_ISA_DISPATCH 0
#endif
#if WIDEFLOW_ISA_DISPATCH && !((defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)))
#error "WIDEFLOW_ISA_DISPATCH needs x86-64 and GCC or Clang"
#endif

// Inside the per-ISA source WIDEFLOW_ISA_VARIANT is 0 (baseline), 1 (avx2) or 2 (avx512); everywhere
// else (bindings, flow, other families) it is undefined and the kernel headers use the plain namespace.
#if defined(WIDEFLOW_ISA_VARIANT)
#if WIDEFLOW_ISA_VARIANT == 0
#define WIDEFLOW_ISA_NAMESPACE_BEGIN inline namespace isa_baseline {
#elif WIDEFLOW_ISA_VARIANT == 1
#define WIDEFLOW_ISA_NAMESPACE_BEGIN inline namespace isa_avx2 {
#else
#define WIDEFLOW_ISA_NAMESPACE_BEGIN inline namespace isa_avx512 {
#endif
#define WIDEFLOW_ISA_NAMESPACE_END }
#else
#define WIDEFLOW_ISA_NAMESPACE_BEGIN
#define WIDEFLOW_ISA_NAMESPACE_END
#endif

// Target region for the kernel headers of one variant (x86 GCC/Clang only; a no-op for the baseline).
#if defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_DISPATCH && WIDEFLOW_ISA_VARIANT > 0
#if defined(__clang__)
// (_Pragma takes one string literal: these lines stay unsplit.)
#if WIDEFLOW_ISA_VARIANT == 1
#define WIDEFLOW_ISA_REGION_BEGIN \
    _Pragma(                      \
        "clang attribute push(__attribute__((target(\"avx2,fma,bmi,bmi2,f16c,movbe,popcnt\"))), apply_to = function)")
#else
#define WIDEFLOW_ISA_REGION_BEGIN                                                                                \
    _Pragma(                                                                                                     \
        "clang attribute "                                                                                       \
        "push(__attribute__((target(\"avx512f,avx512cd,avx512bw,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,movbe," \
        "popcnt\"))), apply_to = function)")
#endif
#define WIDEFLOW_ISA_REGION_END _Pragma("clang attribute pop")
#else
#if WIDEFLOW_ISA_VARIANT == 1
#define WIDEFLOW_ISA_REGION_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"arch=x86-64-v3\")")
#else
#define WIDEFLOW_ISA_REGION_BEGIN \
    _Pragma("GCC push_options") _Pragma("GCC target(\"arch=x86-64-v4,prefer-vector-width=512\")")
#endif
#define WIDEFLOW_ISA_REGION_END _Pragma("GCC pop_options")
#endif
#else
#define WIDEFLOW_ISA_REGION_BEGIN
#define WIDEFLOW_ISA_REGION_END
#endif

// Vector width (bytes) the variant's register tiles are sized for. It only sets tile sizes, never the
// order of a sum, so results do not depend on it.
#if defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT == 2
#define WIDEFLOW_VECTOR_BYTES 64
#elif defined(WIDEFLOW_ISA_VARIANT) && WIDEFLOW_ISA_VARIANT == 1
#define WIDEFLOW_VECTOR_BYTES 32
#elif defined(__AVX512F__)
#define WIDEFLOW_VECTOR_BYTES 64
#elif defined(__AVX2__)
#define WIDEFLOW_VECTOR_BYTES 32
#else
#define WIDEFLOW_VECTOR_BYTES 16
#endif

namespace wideflow::isa {

enum Level : int { baseline = 0, avx2 = 1, avx512 = 2 };

inline const char* name_of(int level) {
    switch (level) {
        case avx2: return "avx2";
        case avx512: return "avx512";
        default: return "baseline";
    }
}

// Highest level this CPU (and OS: the compiler's cpu checks include the XSAVE state) supports.
inline int cpu_level() {
#if WIDEFLOW_ISA_DISPATCH
    __builtin_cpu_init();
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                    __builtin_cpu_supports("avx512cd");
    return v4 ? avx512 : (v3 ? avx2 : baseline);
#else
    return baseline;
#endif
}

// Highest level compiled into this extension.
inline int compiled_level() {
#if WIDEFLOW_ISA_DISPATCH
    return avx512;
#else
    return baseline;
#endif
}

}  // namespace wideflow::isa
