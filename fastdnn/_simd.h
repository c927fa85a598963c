/* How fastdnn's hand-vectorised C loops are compiled (fastdnn/_kernels.pyx and the
   kernels of fastdnn/_core/*.pxd include this):

   FD_CLONES   the function is compiled for AVX-512, AVX2 and baseline x86-64 and the
               loader picks the best the processor has (GCC's target_clones, on x86-64
               Linux; plain C elsewhere);
   FD_INLINE   a helper is inlined even at -O0 (the debug build): a 64-byte vector passed
               to or returned from a function compiled for baseline x86-64 goes in memory,
               from one compiled for AVX-512 in a register, so a call between a clone and
               such a helper would not agree on where the vector is (and GCC's -Wpsabi
               note about it then concerns no call). */
#ifndef FASTDNN_SIMD_H
#define FASTDNN_SIMD_H
#include <string.h>
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#  define FD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#  define FD_CLONES
#endif
#if defined(__GNUC__)
#  define FD_INLINE __attribute__((always_inline))
#else
#  define FD_INLINE
#endif
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wpsabi"
#endif
/* 8 doubles (GCC's vector extension; one AVX-512 register, two AVX2 ones), and their sum
   as the small products' and the thin step's lanes are added: pairwise */
typedef double fd_v8d __attribute__((vector_size(64)));
/* whether the processor has AVX-512F: the one test behind every hand-written AVX-512 path
   (each also compiled only where its own guard allows) */
static inline int fd_avx512f(void) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}
static inline FD_INLINE double fd_hsum8(fd_v8d v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
#endif
