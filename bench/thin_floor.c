/* What bounds the thin step of course 2's full-batch runs (issue 11's 20x): compiled and run
   by bench/thin_floor.py, which extracts fastdnn/_core/thin.pxd's C block into thin_kernel.h.
   Prints, per net: the step's vector multiply-adds and their time at this core's measured
   peak rate; fd_thin_step_d alone (its output function a linear stand-in); and two OpenMP
   threads each taking half of the examples (split as the engine splits them) with the least
   exchange a team could have (one barrier a step, each thread updating its own copy of the
   parameters from both threads' gradient shares, double-buffered), and that exchange alone
   (no kernel). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include "thin_kernel.h"
#ifndef FD_THIN_SPLIT
#define FD_THIN_SPLIT 32    /* the kernel of a version before 07c1b24: teams split at blocks */
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* zmm multiply-adds per ns: 12 independent chains in registers */
__attribute__((target("avx512f,fma"))) static double fma_rate(void) {
    /* distinct starting values: equal chains would be computed once */
#define S(k) _mm512_set1_pd(1.0 + (k) * 1e-9)
    __m512d a0 = S(0), a1 = S(1), a2 = S(2), a3 = S(3), a4 = S(4), a5 = S(5), a6 = S(6),
            a7 = S(7), a8 = S(8), a9 = S(9), a10 = S(10), a11 = S(11);
    const __m512d x = _mm512_set1_pd(0.9999999), y = _mm512_set1_pd(1e-9);
    const long n = 50000000;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = now();
        for (long i = 0; i < n; i++) {
#define F(v) v = _mm512_fmadd_pd(v, x, y);
            F(a0) F(a1) F(a2) F(a3) F(a4) F(a5) F(a6) F(a7) F(a8) F(a9) F(a10) F(a11)
            __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5),
                             "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
        }
        t = now() - t;
        if (t < best) best = t;
    }
    volatile double sink = _mm512_reduce_add_pd(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 +
                                                a9 + a10 + a11);
    (void)sink;
    return n * 12 / best / 1e9;
}

/* the output layer's function: a linear stand-in (the products and passes are what is
   timed; the engine's vectorised sigmoid is not part of this harness) */
static void out_linear(double *Z, const double *b, double *A, int rows, int cnt, long ld) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cnt; j++) A[i * ld + j] = 0.5 + 0.25 * (Z[i * ld + j] + b[i]);
}

static double urand(unsigned *s) { *s = *s * 1103515245u + 12345u; return (*s >> 8) / 16777216.0 * 2 - 1; }

/* course 2's three full-batch configurations: initialization's net, then regularization's
   without dropout and with */
static const struct { int n[4]; int m; double kp; } CONFIGS[3] = {
    {{2, 10, 5, 1}, 300, 1.0}, {{2, 20, 3, 1}, 211, 1.0}, {{2, 20, 3, 1}, 211, 0.86}};
#define NCONFIGS ((int)(sizeof CONFIGS / sizeof CONFIGS[0]))
#define CONFIG_L 3      /* their layers: n[0..3] */

/* the sum of thread 0's parameters after the last round of run() (the same steps from the
   same start each round): a check that two builds of the kernel compute the same values */
static double params_sum;

/* µs per step: threads nt, each its share of the examples; kernel 0: the exchange alone;
   kp < 1: dropout with fixed masks (regularization's run) */
static double run(int L, const int *n, int m, double kp, int nt, int kernel, int steps) {
    int P = 0, off[8];
    for (int l = 1; l <= L; l++) { off[l] = P; P += n[l] * n[l - 1] + n[l]; }
    const int Pp = (P + 7) / 8 * 8;
    unsigned s = 1;
    double *X = malloc(sizeof(double) * n[0] * m), *Y = malloc(sizeof(double) * m);
    for (int i = 0; i < n[0] * m; i++) X[i] = urand(&s);
    for (int j = 0; j < m; j++) Y[j] = urand(&s) > 0;
    double *D[8] = {0};
    for (int l = 1; l < L && kp < 1; l++) {
        D[l] = malloc(sizeof(double) * n[l] * m);
        for (int i = 0; i < n[l] * m; i++) D[l][i] = (urand(&s) + 1) / 2 < kp;
    }
    double *init = malloc(sizeof(double) * P);
    for (int i = 0; i < P; i++) init[i] = 0.5 * urand(&s);
    double *ZL = aligned_alloc(64, 64 * ((m + 7) / 8 + 1)), *AL = aligned_alloc(64, 64 * ((m + 7) / 8 + 1));
    double *share = aligned_alloc(64, sizeof(double) * 2 * nt * Pp);
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = 0, t1 = 0;
        #pragma omp parallel num_threads(nt)
        {
            const int tid = omp_get_thread_num();
            double *prm = aligned_alloc(64, sizeof(double) * Pp);
            memcpy(prm, init, sizeof(double) * P);
            double *W[8], *b[8];
            for (int l = 1; l <= L; l++) { W[l] = prm + off[l]; b[l] = prm + off[l] + n[l] * n[l - 1]; }
            fd_v8d *act = aligned_alloc(64, 64 * 4096), *acc = aligned_alloc(64, 64 * 4096);
            /* the engine's split: multiples of FD_THIN_SPLIT examples, as even as they allow */
            const int nb = (m + FD_THIN_SPLIT - 1) / FD_THIN_SPLIT;
            const int c0 = tid * nb / nt * FD_THIN_SPLIT;
            int c1 = (tid + 1) * nb / nt * FD_THIN_SPLIT;
            if (c1 > m) c1 = m;
            #pragma omp barrier
            if (tid == 0) t0 = now();
            for (int r = 0; r < steps; r++) {
                const int par = r & 1;
                double *sh = share + (par * nt + tid) * Pp;
                if (kernel)
                    fd_thin_step_d(L, n, c1 - c0, m, X + c0, m, W, b, ZL + c0, AL + c0,
                                   kp < 1 ? D : NULL, c0, kp, Y + c0, m, NULL, act, acc, NULL,
                                   NULL, sh, 1.0 / m, m, out_linear);
                else
                    for (int i = 0; i < P; i++) sh[i] = 1e-3 * i;
                if (nt > 1) {
                    #pragma omp barrier
                }
                for (int i = 0; i < P; i++) {
                    double g = share[par * nt * Pp + i];
                    for (int t = 1; t < nt; t++) g += share[(par * nt + t) * Pp + i];
                    prm[i] -= 1e-3 * g;
                }
            }
            #pragma omp barrier
            if (tid == 0) {
                t1 = now();
                params_sum = 0;
                for (int i = 0; i < P; i++) params_sum += prm[i];
            }
            free(prm); free(act); free(acc);
        }
        if ((t1 - t0) / steps * 1e6 < best) best = (t1 - t0) / steps * 1e6;
    }
    for (int l = 1; l < L; l++) free(D[l]);
    free(X); free(Y); free(init); free(ZL); free(AL); free(share);
    return best;
}

/* --alone M...: the kernel alone on M examples, each of the three configurations' nets and
   keep_prob, with the parameters' sum after the steps (to compare two builds, bit for bit,
   and their times) */
static int alone_widths(int argc, char **argv) {
    printf("%-12s %5s %5s %9s  %s\n", "net", "m", "kp", "alone us", "parameters' sum");
    for (int a = 0; a < argc; a++) {
        const int m = atoi(argv[a]);
        if (m < 1) {
            fprintf(stderr, "--alone: widths are integers >= 1, got %s\n", argv[a]);
            return 2;
        }
        for (int k = 0; k < NCONFIGS; k++) {
            const int *n = CONFIGS[k].n;
            const double kp = CONFIGS[k].kp, t = run(CONFIG_L, n, m, kp, 1, 1, 50000);
            printf("%d,%d,%d,%d %7d %5.2f %9.3f  %.17g\n", n[0], n[1], n[2], n[3], m, kp, t,
                   params_sum);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--alone") == 0)
        return alone_widths(argc - 2, argv + 2);
    const double rate = fma_rate();
    printf("this core: %.2f zmm multiply-adds per ns (8 doubles each)\n\n", rate);
    printf("%-12s %5s %5s %9s %9s %9s %9s %9s %7s\n", "net", "m", "kp", "fma/step", "floor us",
           "alone us", "2 thr us", "exch. us", "alone/2");
    for (int k = 0; k < NCONFIGS; k++) {
        const int *n = CONFIGS[k].n, m = CONFIGS[k].m, L = CONFIG_L;
        const double kp = CONFIGS[k].kp;
        const int vectors = (m + 7) / 8;     /* the vectors of 8 examples the kernel runs */
        long fw = 0, bk = 0;
        for (int l = 1; l <= L; l++) fw += n[l] * n[l - 1];
        for (int l = 2; l <= L; l++) bk += n[l] * n[l - 1];
        const long vf = (2 * fw + bk) * (long)vectors;    /* forward, gradients, deltas */
        const double alone = run(L, n, m, kp, 1, 1, 20000),
                     two = run(L, n, m, kp, 2, 1, 20000), ex = run(L, n, m, kp, 2, 0, 20000);
        printf("%d,%d,%d,%d %7d %5.2f %9ld %9.2f %9.2f %9.2f %9.2f %7.2f\n", n[0], n[1], n[2],
               n[3], m, kp, vf, vf / rate / 1e3, alone, two, ex, alone / two);
    }
    return 0;
}
