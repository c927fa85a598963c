"""The general training loop: whole epochs in compiled code, without the GIL.

One step on a batch B of m_s columns (A_0 = X_B), for layers l = 1..L:

    forward     Z_l = W_l A_{l-1} + b_l;  A_l = g(Z_l) (l < L), A_L = out(Z_L)
    dropout     D_l = [u < keep_prob], u drawn (n_l, m_s) in C order per hidden layer;
                A_l <- A_l * D_l / keep_prob (hidden layers only; g' uses A_l before it)
    output      dZ_L = (A_L - Y_B) * w                   (fastdnn._core.losses)
    backward    for l = L..1:
                  G_W = (1/N) dZ_l A_{l-1}^T,  G_b = (1/N) sum_j dZ_l  (float64 sums)
                  dZ_{l-1} = (W_l^T dZ_l) * D_{l-1} / keep_prob * g'(A_{l-1})   (old W_l)
                  W_l, b_l updated by the optimiser with G (+ (lambd/N) W_l)
    N = m_s, or the sum of the batch's sample weights

Every gradient of the step is taken at the parameters before the step (dZ_{l-1} is formed
with W_l before W_l is updated).  The step's cost, when asked for, is
(sum_j w_j loss_j + lambd/2 sum_l ||W_l||^2) / N, of the forward pass the gradient uses.

Batches: the full batch in data order (X read in place, any memory order); or consecutive
slices of a permutation of the columns, gathered into a buffer allocated once (columns of
a Fortran-ordered X are contiguous: one memcpy each) or, where that buffer would pass 2
MB (wide inputs, Fortran order), never gathered whole: layer 1 gathers a chunk of features
of the batch's columns into a small scratch just before each product reads it; or
consecutive slices in data order (read in place).

Layer 1's gradient (a large W_1) is computed a chunk at a time and each chunk applied by
the optimiser at once (no dZ_0 reads the old W_1), so G_W1 never leaves the cache.

Threads: a large step runs on a team (see "the team's share of each stage" below).  Permutations: course 2's (``RandomState(seed + 1 + epoch)``, computed
here by ``fastdnn._core.rng``) or given by the caller (scikit-learn's stream).

Products: BLAS, except below SMALL_WORK multiply-adds with row-major operands, where the
loops of ``fastdnn._core.small`` avoid a BLAS call's fixed cost.  In float32, up to
TRANSPOSE_WORK multiply-adds, an operand whose inner index is contiguous (Z_1 = W_1 X_B^T
with an example-major batch, G_W = dZ A^T of a hidden layer) is first copied transposed:
OpenBLAS's small products take that form at half speed (``bench/bench_transpose.py``).
A thin net (float64, relu, sigmoid output, at most THIN_WEIGHTS weights a layer: course 2's) runs the whole step as one
pass over blocks of 32 examples (``fastdnn._core.thin``'s fd_thin_step_d: forward, output,
deltas and the gradients' sums), alone or on a data-parallel team (each thread its blocks).

Gram solver (``spec["gram"]``; linear optimisers only: gd, momentum, sgd): their update
is linear in (p, v, g), and the data part of layer 1's gradient, (1/N) dZ_1 X_B^T, is
(S X^T) with S the (n_1, m) matrix holding dZ_1 / N in the batch's columns.  So W_1 and
its velocity stay of the form

    W_1 = a W_0 + b V_0 + K_W X^T,     V_1 = c W_0 + d V_0 + K_V X^T

(W_0, V_0: the arrays when the representation was based; K: (n_1, m)), and a step is the
optimiser's own update applied to (K_W, K_V) with gradient S and to the coefficients
((a, b), (c, d)) with gradient 0.  The forward product is W_1 X_B = a P0_B + b Q0_B +
K_W G[:, B] with G = X^T X, P0 = W_0 X, Q0 = V_0 X computed at the base: n_1 m |B|
multiply-adds per step instead of 2 n_1 n_0 |B|, and X is not read again.  W_1 and V_1 are
formed (``gram_sync``) only when they are read.  The L2 term of the cost uses
||W_1||^2 = ||a W_0 + b V_0||^2 + 2 <a P0 + b Q0, K_W> + <K_W G, K_W>.

Dispatch: the activation, output, loss and optimiser are small enums switched on once per
layer per step (inside each kernel: once per row), never per element.

Everything here trusts ``fastdnn.training.trainer`` to have validated shapes and values;
``Engine`` checks only dtypes, contiguity and the shapes it was told.
"""
from libc.math cimport pow, sqrt
from libc.stdint cimport int32_t, int64_t, uint32_t, uintptr_t
from libc.string cimport memcpy, memset
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pycapsule cimport PyCapsule_GetPointer

import os

import numpy as np
cimport numpy as cnp
from numpy.random cimport bitgen_t

from fastdnn._blas cimport floating, gemm
from fastdnn._validation cimport need_buffer as _need
from fastdnn._kernels cimport row_sums_ptr
from fastdnn._core.gemm cimport (EPI_BIAS_RELU, EPI_RELU_BACK, EPI_STORE, EPI_STORE_SUM,
                                 GEMM_EPI_WORK, fd_gemm_avx512, gemm_epi)
from fastdnn._core.small cimport SMALL_WORK, TRANSPOSE_WORK, mm_nn, mm_nt_acc, mm_tn, transpose
from fastdnn._core.thin cimport (THIN_MAX, THIN_SPLIT, THIN_V, THIN_WEIGHTS, fd_thin_div_array,
                                 fd_thin_step_d)
from fastdnn._core.activations cimport ACT_RELU, act_forward, act_backward
from fastdnn._core.losses cimport (out_forward, loss_sum, output_delta, fd_log_512,
                                   fd_log_array_512)
from fastdnn._core.optimizers cimport (Hyper, opt_update, opt_has_v, opt_has_s,
                                       opt_is_linear, OPT_ADAM, OPT_ADAM_SKLEARN, _adam,
                                       fd_adam_d_on, fd_adam_f_on, fd_adam_default_path)
from fastdnn._core.rng cimport (MT19937, MTLanes, MT_LANES, lanes_permutation,
                                legacy_permutation, next_double, bitgen_shuffle)

cnp.import_array()

# Denormals flushed to zero while the loop runs (x86: MXCSR's FTZ and DAZ bits, set on
# entry and restored on exit; elsewhere nothing changes).  Optimiser moments of rarely
# active inputs decay geometrically into the denormal range (below 1.2e-38 in float32,
# 2.2e-308 in float64), where each arithmetic operation takes a microcode assist of
# ~100 cycles: on scikit-learn's digits with Adam that made an epoch 4x slower after a
# few epochs (bench/denormals.py).  XLA runs its CPU code the same way.  Only values below
# the smallest normal number change (to 0).  FASTDNN_FLUSH_DENORMALS=0 (read when an
# engine is made) keeps IEEE denormals.
cdef extern from *:
    """
    #if defined(__x86_64__) || defined(_M_X64) || defined(__SSE2__)
    #include <xmmintrin.h>
    static unsigned int fd_flush_denormals(void) {
        unsigned int old = _mm_getcsr();
        _mm_setcsr(old | 0x8040u);          /* FTZ (bit 15) | DAZ (bit 6) */
        return old;
    }
    static void fd_restore_fp(unsigned int old) { _mm_setcsr(old); }
    #else
    static unsigned int fd_flush_denormals(void) { return 0u; }
    static void fd_restore_fp(unsigned int old) { (void)old; }
    #endif
    """
    unsigned int fd_flush_denormals() noexcept nogil
    void fd_restore_fp(unsigned int old) noexcept nogil

# A team of threads for one run (OpenMP where the module was compiled with it, else the
# calling thread alone): fd_team(nt, fn, arg) runs fn(arg, tid, team size) on every thread
# of a team of up to nt; fd_barrier() waits for the whole team (a no-op outside a team).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void fd_team(int nt, void (*fn)(void *, int, int), void *arg) {
        if (nt <= 1) { fn(arg, 0, 1); return; }
        #pragma omp parallel num_threads(nt)
        { fn(arg, omp_get_thread_num(), omp_get_num_threads()); }
    }
    static void fd_barrier(void) {
        #pragma omp barrier
    }
    static int fd_have_openmp(void) { return 1; }
    #else
    static void fd_team(int nt, void (*fn)(void *, int, int), void *arg) {
        (void)nt; fn(arg, 0, 1);
    }
    static void fd_barrier(void) {}
    static int fd_have_openmp(void) { return 0; }
    #endif
    """
    void fd_team(int nt, void (*fn)(void *, int, int) noexcept nogil, void *arg) noexcept nogil
    void fd_barrier() noexcept nogil
    int fd_have_openmp() noexcept nogil

# shuffle modes (fastdnn.training.registry.SHUFFLES)
cdef enum Shuffle:
    SHUF_NONE = 0          # data order (full batch: X in place; mini-batches: slices in place)
    SHUF_COURSE = 1        # RandomState(seed + 1 + epoch).permutation(m)
    SHUF_EXTERNAL = 2      # the caller's permutation


cdef struct Spec:
    int L
    int64_t m               # examples
    int mb                  # batch size (m for the full batch)
    int hidden, output, loss_conv, optimizer, shuffle
    double lambd, keep_prob, clip_eps
    long long seed
    bint dropout, fixed_masks, weighted
    bint no_update          # gradients only (loss_and_gradients): no optimiser step
    bint gram               # layer 1 through the gram representation (see above)
    bint ftz                # denormals flushed to zero while the loop runs
    int workers             # threads of the team that runs the epochs (see _step)
    bint dp                 # the team splits the batch, not the layers (see _step_dp)
    bint us                 # a team of two splits the hidden units (see _step_us)
    bint thin               # a thin net (fastdnn/_core/thin.pxd): a step alone runs its passes
    bint perm_helper        # course shuffle, one worker: a second thread draws the next
                            # epochs' permutations meanwhile (_epochs_helped)
    bint perm_given         # _epoch: B.perm already holds the epoch's permutation
    Hyper h
    long long t             # optimiser steps done


# a counter one thread raises and another waits on (the permutation helper's, the unit-split
# team's)
cdef extern from *:
    """
    #if defined(__x86_64__) || defined(_M_X64)
    #include <immintrin.h>
    #define FD_PAUSE() _mm_pause()
    #else
    #define FD_PAUSE() ((void)0)
    #endif
    #if defined(__linux__)
    #include <linux/futex.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #endif
    /* a counter one thread raises and the other waits on; `sleeping`: the waiter may be
       blocked in the kernel until the value reaches `wanted` (then the raiser wakes it) */
    typedef struct { int value; int sleeping; int wanted; } fd_counter;
    /* a pause of `us` microseconds (a test's way to make one thread of a team the slower:
       Engine._unit_split_lag); Linux only, elsewhere none */
    static void fd_lag(int us) {
    #if defined(__linux__)
        if (us > 0) usleep((useconds_t)us);
    #else
        (void)us;
    #endif
    }
    static int fd_counter_value(fd_counter *c) {
        return __atomic_load_n(&c->value, __ATOMIC_ACQUIRE);
    }
    static void fd_raise(fd_counter *c, int v) {
        __atomic_store_n(&c->value, v, __ATOMIC_SEQ_CST);
    #if defined(__linux__)
        if (__atomic_load_n(&c->sleeping, __ATOMIC_SEQ_CST)
                && v >= __atomic_load_n(&c->wanted, __ATOMIC_SEQ_CST))
            syscall(SYS_futex, &c->value, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    #endif
    }
    /* waits until the counter is at least v: spinning `spin` times (the other thread may
       be about to raise it), then, on Linux, blocked in the kernel until it is (a waiter
       that would otherwise hold a core); elsewhere spinning */
    static void fd_wait_for(fd_counter *c, int v, int spin) {
        for (int spins = 0; spins < spin; spins++) {
            if (__atomic_load_n(&c->value, __ATOMIC_ACQUIRE) >= v) return;
            FD_PAUSE();
        }
        for (;;) {
            int seen = __atomic_load_n(&c->value, __ATOMIC_SEQ_CST);
            if (seen >= v) return;
    #if defined(__linux__)
            __atomic_store_n(&c->wanted, v, __ATOMIC_SEQ_CST);
            __atomic_store_n(&c->sleeping, 1, __ATOMIC_SEQ_CST);
            seen = __atomic_load_n(&c->value, __ATOMIC_SEQ_CST);
            if (seen < v)
                syscall(SYS_futex, &c->value, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
            __atomic_store_n(&c->sleeping, 0, __ATOMIC_SEQ_CST);
    #else
            FD_PAUSE();
    #endif
        }
    }
    """
    ctypedef struct fd_counter:
        int value
        int sleeping
        int wanted
    void fd_lag(int us) noexcept nogil
    int fd_counter_value(fd_counter *c) noexcept nogil
    void fd_raise(fd_counter *c, int v) noexcept nogil
    void fd_wait_for(fd_counter *c, int v, int spin) noexcept nogil


cdef struct USide:
    # one thread's own buffers in a unit-split step (_step_us); thread 0's are the engine's
    void *Xb                # (n0 * mb) the gathered batch, in X's order
    void *Yb                # (n_L * mb)
    void *wb                # (mb)
    void *tr                # (n0 * mb) the batch in the other order
    void *trA               # (h * mb) its hidden units' activations, transposed
    void *trT               # (mb * max n_(l-1), l >= 3) the tail's activations, transposed
    # the tail: layers 2..L after the exchange, which both threads run on their own copies
    # (thread 0's are the engine's arrays), indexed by layer: W, GW and their state for
    # l >= 3 (W_2 is split, below), b, Gb and their state, A and dZ for l >= 2
    void **W
    void **GW
    void **VW
    void **SW
    void **b
    void **Gb
    void **Vb
    void **Sb
    void **A
    void **dZ
    void *Z                 # (n_L, mb) the output layer's pre-activation
    double *colmax          # (mb) softmax scratch
    double *colsum
    long long t             # optimiser steps done (Spec.t's, kept here during a run: no line
                            # the other thread reads is written in a step)
    long long epi           # thread 0's: fused products run (Bufs.epi_runs, added after)
    int h0, h1              # its hidden units h0..h1-1
    # its own copies of its units' parameters, gradients, optimiser state (copied in before
    # a run and out after it) and activations, each 64-byte aligned: no cache line of one
    # thread's is written by the other
    void *W1                # (h, n0) rows h0..h1-1 of W_1
    void *b1                # (h)
    void *GW1
    void *Gb1
    void *VW1
    void *SW1
    void *Vb1
    void *Sb1
    void *A1                # (h, mb)
    void *dZ1
    void *W2                # (n_2, h) columns h0..h1-1 of W_2
    void *GW2
    void *VW2
    void *SW2


cdef struct USplit:
    USide side[2]
    void *P                 # (2 parities x 2 threads, n_2 * mb): the partial sums of Z_2
    fd_counter shared[2]    # thread t raises shared[t] to s once its share of step s is in P
    int lag[2]              # tests: thread t pauses lag[t] microseconds after each exchange
    # the course shuffle: epoch e's permutation in perm[e & 1] (perm[0] is B.perm); at the
    # start of an epoch whose permutation is not drawn yet thread 0 draws it and thread 1,
    # meanwhile, the next epoch's (with its own generators, lanes1): drawn is that next
    # epoch (-1: none; reset before each run)
    int64_t *perm[2]
    MTLanes lanes1
    long long drawn


cdef struct Bufs:
    int *n                  # n[0..L]
    void **W                # W[l] (n_l, n_{l-1}) C order
    void **b                # b[l] (n_l,)
    void **VW
    void **Vb
    void **SW
    void **Sb
    void **GW
    void **Gb
    void **Z                # scratch (n_l, mb): pre-activation
    void **A                # (n_l, mb): activations (before dropout)
    void **Ad               # (n_l, mb): after dropout (= A without dropout)
    void **D                # (n_l, mb) masks 0/1 (fixed masks: (n_l, m))
    void **dZ               # (n_l, mb)
    const void *X           # (n0, m), C or F order
    bint x_rm
    const void *Y           # (n_L, m) C order
    const void *Yt          # (m, n_L) C order: Y's transpose for the batch gathers (n_L > 1), or NULL
    const int32_t *ylab     # (m,): Y's one-hot columns as class indices for the batch
                            # gathers (n_L > 1, every column one 1 and zeros), or NULL
    const void *w           # (m,) or NULL
    void *Xb                # gather buffers: (n0, mb) in X's order, (n_L, mb), (mb,)
    void *Yb
    void *wb
    int64_t *perm           # (m,)
    int64_t *perm2          # (perm_slots, m): the permutation helper's ring, or NULL
    int perm_slots
    MTLanes lanes           # course shuffle: the generators of the next epochs' seeds
    double *l2part          # (threads,) each team member's share of the L2 term (of the loss
                            # with a data-parallel team)
    void *gpart             # data-parallel team: threads 1.. each a block of gpart_size, its
    Py_ssize_t gpart_size   # shares of every G_W_l then G_b_l, layer by layer
    double *colmax          # (mb,) softmax scratch
    double *colsum
    bitgen_t *bitgen
    # gram solver (NULL otherwise)
    const void *G           # (m, m) X^T X
    const void *P0          # (n1, m) W_0 X
    const void *Q0          # (n1, m) V_0 X, or NULL when V_0 = 0
    void *KW                # (n1, m)
    void *KV                # (n1, m), NULL for gd
    void *cW                # (2,) a, b
    void *cV                # (2,) c, d
    void *S                 # (n1, m) zero outside the step's columns
    void *GB                # (mb, m) rows of G of the batch
    void *GK                # (n1, m) scratch: K_W G
    const void *zero2       # (2,) zeros
    double gn[3]            # ||W_0||^2, <W_0, V_0>, ||V_0||^2
    # layer 1's gradient a chunk of columns at a time (NULL: G_W1 whole, then the update)
    void *chunk             # (threads, chunk_size) scratch, one block per thread
    Py_ssize_t chunk_size
    bint chunk_by_rows      # chunks of whole rows (else of columns)
    # a permuted batch of a wide Fortran-ordered X, never gathered whole: layer 1 reads
    # it chunk_cols features at a time, each chunk gathered into the thread's scratch
    # (NULL: the batch is gathered whole into Xb)
    void *xc                # (threads, xc_size)
    Py_ssize_t xc_size      # chunk_cols * mb
    int chunk_cols
    # a thin net (sp.thin): fd_thin_step_d's scratches (thread 0's; thread t's thin_stride *
    # t bytes further), of thin_act_size and thin_acc_size bytes
    void *thin_act
    void *thin_acc
    # float32: a product's operand copied transposed (max_l n_(l-1) x mb values, capped at
    # what a copy taken there can hold), so that BLAS's small products run in their fast
    # form (see _transposed); with epi, float64 too (for the relu layers' products of
    # gemm.pxd, which need X_B^T row-major); NULL: never
    void *tr
    # the relu layers' products with their relu in the same pass (fastdnn/_core/gemm.pxd:
    # AVX-512; FASTDNN_GEMM=0 turns them off), see _epi; epi_runs counts them (a test's
    # way to see that they ran: only a whole product, one thread's, runs there)
    bint epi
    long long epi_runs
    Py_ssize_t thin_act_size
    Py_ssize_t thin_acc_size
    Py_ssize_t thin_stride
    USplit *us              # a unit-split team's buffers (_step_us), or NULL
    # a thin net's full-batch team (_epochs_tp): the threads' gradient shares by step
    # parity (share (parity, t) at tp_share + (parity * threads + t) * tp_stride bytes,
    # Bufs.gpart's layout), each thread's counter (64 bytes apart), and thread t >= 1's
    # own copies: TP_ARRAYS tables of L + 1 pointers (W, b, VW, Vb, SW, Sb, GW, Gb) each
    char *tp_share
    Py_ssize_t tp_stride
    char *tp_cnt
    void **tp_tab
    int tp_lag[2]           # tests: thread t pauses tp_lag[t] microseconds after each wait


cdef inline double _normaliser(const floating *wp, int ms) noexcept nogil:
    """A batch's normaliser N: the sum of its sample weights (in float64, in order), or
    its size without them."""
    cdef double N = 0
    cdef int k
    if wp == NULL:
        return ms
    for k in range(ms):
        N += wp[k]
    return N


cdef inline double _sum_sq(const floating *P, Py_ssize_t n) noexcept nogil:
    """sum P_i^2 in float64, over four interleaved partial sums: one running sum is a chain
    of dependent additions (4 cycles each), a tenth of a small step's time when the L2
    term of every step's cost is asked for (scikit-learn's alpha)."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += <double>P[i] * <double>P[i]
        s1 += <double>P[i + 1] * <double>P[i + 1]
        s2 += <double>P[i + 2] * <double>P[i + 2]
        s3 += <double>P[i + 3] * <double>P[i + 3]
        i += 4
    while i < n:
        s0 += <double>P[i] * <double>P[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline void _row_means(const floating *dZ, floating *g, int rows, int m,
                            double N) noexcept nogil:
    """g_i = sum_j dZ_ij / N, summed in float64 (row_sum_f64's sums, 64 rows at a time by
    the vectorised loop)."""
    cdef double sums[64]
    cdef int i0, i, nr
    for i0 in range(0, rows, 64):
        nr = min(64, rows - i0)
        row_sums_ptr(dZ + <Py_ssize_t>i0 * m, nr, m, m, sums)
        for i in range(nr):
            g[i0 + i] = <floating>(sums[i] / N)


cdef inline double _dot(const floating *x, const floating *y, Py_ssize_t n) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t i
    for i in range(n):
        s += <double>x[i] * <double>y[i]
    return s


cdef inline int64_t _col(int64_t first, const int64_t *idx, int k) noexcept nogil:
    return first + k if idx == NULL else idx[k]


cdef const floating *_gram_rows(Bufs *B, int64_t m, int ms, int64_t first,
                                const int64_t *idx, floating dummy) noexcept nogil:
    """The rows of G of the batch's columns (G is symmetric): in place when consecutive."""
    cdef const floating *G = <const floating *>B.G
    cdef floating *GB = <floating *>B.GB
    cdef int k
    if idx == NULL:
        return G + first * m
    for k in range(ms):
        memcpy(GB + k * m, G + idx[k] * m, <size_t>m * sizeof(floating))
    return GB


cdef void _gram_z1(Bufs *B, floating *Z1, int n1, int64_t m, int ms, int64_t first,
                   const int64_t *idx) noexcept nogil:
    """Z1 = a P0[:, B] + b Q0[:, B] + K_W G[:, B] (before the bias)."""
    cdef const floating *rows = _gram_rows(B, m, ms, first, idx, Z1[0])
    cdef const floating *P0 = <const floating *>B.P0
    cdef const floating *Q0 = <const floating *>B.Q0
    cdef const floating *cW = <const floating *>B.cW
    cdef floating a = cW[0], b = cW[1]
    cdef int i, k
    cdef int64_t j
    gemm(n1, ms, <int>m, <floating>1, <const floating *>B.KW, <int>m, True, rows, <int>m,
         False, <floating>0, Z1, ms)
    for i in range(n1):
        for k in range(ms):
            j = _col(first, idx, k)
            if Q0 == NULL:
                Z1[i * ms + k] += a * P0[i * m + j]
            else:
                Z1[i * ms + k] += a * P0[i * m + j] + b * Q0[i * m + j]


cdef double _gram_norm2(Bufs *B, int n1, int64_t m, floating dummy) noexcept nogil:
    """||W_1||^2 from the representation (one n1 m^2 product)."""
    cdef const floating *KW = <const floating *>B.KW
    cdef const floating *cW = <const floating *>B.cW
    cdef floating *GK = <floating *>B.GK
    cdef double a = cW[0], b = cW[1], s
    cdef Py_ssize_t n = <Py_ssize_t>n1 * m
    gemm(n1, <int>m, <int>m, <floating>1, KW, <int>m, True, <const floating *>B.G, <int>m,
         True, <floating>0, GK, <int>m)
    s = a * a * B.gn[0] + 2 * a * b * B.gn[1] + b * b * B.gn[2] + _dot(GK, KW, n)
    s += 2 * a * _dot(<const floating *>B.P0, KW, n)
    if B.Q0 != NULL:
        s += 2 * b * _dot(<const floating *>B.Q0, KW, n)
    return s


cdef void _gram_update(Spec *sp, Bufs *B, const floating *dZ1, int n1, int64_t m, int ms,
                       int64_t first, const int64_t *idx, double N) noexcept nogil:
    """The optimiser's step on the representation: gradient S (dZ1 / N in the batch's
    columns) for (K_W, K_V), 0 for the coefficients; the L2 term folded as for any W."""
    cdef floating *S = <floating *>B.S
    cdef floating inv = <floating>(1.0 / N)
    cdef int i, k
    cdef int64_t j
    for i in range(n1):
        for k in range(ms):
            S[i * m + _col(first, idx, k)] = dZ1[i * ms + k] * inv
    opt_update(sp.optimizer, &sp.h, <floating *>B.KW, S, <floating *>B.KV, <floating *>NULL,
               <Py_ssize_t>n1 * m, sp.lambd / N)
    opt_update(sp.optimizer, &sp.h, <floating *>B.cW, <const floating *>B.zero2,
               <floating *>B.cV, <floating *>NULL, 2, sp.lambd / N)
    for i in range(n1):
        for k in range(ms):
            S[i * m + _col(first, idx, k)] = 0


# ---- the team's share of each stage
#
# With a team of nt > 1 threads (Spec.workers; BLAS single-threaded meanwhile), every
# thread runs the same epochs and steps and takes its part of each large stage: a block of
# rows or columns of each product's output (the larger dimension is split, so that the
# operand each thread packs again in full is the smaller one) with the elementwise work
# on that block, and a slice of each optimiser pass.  Stages smaller than PAR_WORK
# multiply-adds, the output layer, the masks, the permutation and the costs are thread
# 0's.  fd_barrier() separates stages that read what others wrote.  Every element is
# computed by one thread with the same operations as alone; only BLAS may sum a block of a
# product in another order than the whole, so a team's run equals the lone thread's to
# rounding (tests/test_team.py).

cdef enum:
    PAR_WORK = 65536        # multiply-adds of a product below which thread 0 does it alone
    PAR_ELEMS = 4096        # elements of an optimiser pass below which thread 0 does it
    FUSE_ELEMS = 16384      # W_1 from this size: its gradient and update chunk by chunk
    CHUNK_ELEMS = 8192      # gradient values per chunk (32 KB in float32: the L1 cache)
    CHUNK_MIN_COLS = 256    # the narrowest chunk of columns (one optimiser call per row)
    CHUNK_INPUT_BYTES = 524288   # batch inputs up to this size: chunks of whole rows
    LAZY_INPUT_BYTES = 2097152   # batch inputs over this size: gathered chunk by chunk
    CHUNK_GATHER_ELEMS = 1048576 # the most values of a chunk gathered from the batch


cdef struct Part:
    int r0, r1, c0, c1      # rows r0..r1-1, columns c0..c1-1 of a (R x C) block


cdef inline void _span(int n, int tid, int nt, int block, int *lo, int *hi) noexcept nogil:
    """Thread tid's share of 0..n-1: whole blocks of ``block`` (16 where threads write the
    same rows side by side: their shares then meet at a cache line's edge), as even as
    whole blocks allow."""
    cdef long long nb = (n + block - 1) // block
    lo[0] = min(n, <int>(nb * tid // nt) * block)
    hi[0] = min(n, <int>(nb * (tid + 1) // nt) * block)


cdef inline Part _part(int R, int C, long work, int tid, int nt) noexcept nogil:
    """Thread tid's block of an (R x C) output: all of it for thread 0 (nothing for the
    others) below PAR_WORK, else a share of the rows or of the columns, whichever are more."""
    cdef Part p
    p.r0 = 0
    p.r1 = R
    p.c0 = 0
    p.c1 = C
    if nt == 1:
        return p
    if work < PAR_WORK:
        if tid != 0:
            p.r1 = 0
        return p
    if R >= C:
        _span(R, tid, nt, 1, &p.r0, &p.r1)
    else:
        _span(C, tid, nt, 16, &p.c0, &p.c1)
    return p


cdef inline bint _whole(Part p, int R, int C) noexcept nogil:
    return p.r0 == 0 and p.r1 == R and p.c0 == 0 and p.c1 == C


cdef inline bint _empty(Part p) noexcept nogil:
    return p.r1 <= p.r0 or p.c1 <= p.c0


cdef inline const floating *_rows_of(const floating *M, int ld, bint rm, int r0) noexcept nogil:
    """Row r0 onwards of a matrix stored row-major (rm) or column-major with ld."""
    return M + <Py_ssize_t>r0 * ld if rm else M + r0


cdef inline const floating *_cols_of(const floating *M, int ld, bint rm, int c0) noexcept nogil:
    return M + c0 if rm else M + <Py_ssize_t>c0 * ld


cdef inline void _sync(int nt) noexcept nogil:
    if nt > 1:
        fd_barrier()


cdef void _act_part(int act, floating *Z, const floating *b, floating *A, Part p,
                    int ld) noexcept nogil:
    """A = g(Z + b) on block p of (. x ld) row-major Z, A."""
    cdef int i
    if p.c0 == 0 and p.c1 == ld:
        act_forward(act, Z + <Py_ssize_t>p.r0 * ld, b + p.r0, A + <Py_ssize_t>p.r0 * ld,
                    p.r1 - p.r0, ld)
    else:
        for i in range(p.r0, p.r1):
            act_forward(act, Z + <Py_ssize_t>i * ld + p.c0, b + i, A + <Py_ssize_t>i * ld + p.c0,
                        1, p.c1 - p.c0)


cdef void _mask_part(floating *out, const floating *a, const floating *d, floating fkp,
                     Part p, int ld) noexcept nogil:
    """out = a * d / keep_prob on block p (out may be a)."""
    cdef int i
    cdef Py_ssize_t k, o
    for i in range(p.r0, p.r1):
        o = <Py_ssize_t>i * ld
        for k in range(o + p.c0, o + p.c1):
            out[k] = (a[k] * d[k]) / fkp


cdef void _act_back_part(int act, floating *dA, const floating *A, Part p, int ld) noexcept nogil:
    cdef int i
    if p.c0 == 0 and p.c1 == ld:
        act_backward(act, dA + <Py_ssize_t>p.r0 * ld, A + <Py_ssize_t>p.r0 * ld,
                     <Py_ssize_t>(p.r1 - p.r0) * ld)
    else:
        for i in range(p.r0, p.r1):
            act_backward(act, dA + <Py_ssize_t>i * ld + p.c0, A + <Py_ssize_t>i * ld + p.c0,
                         p.c1 - p.c0)


cdef inline floating *_at(floating *M, Py_ssize_t off) noexcept nogil:
    """M + off, NULL staying NULL (optimiser state an optimiser does not keep)."""
    return NULL if M == NULL else M + off


cdef inline void _gather_rows(const floating *X, int64_t n0, const int64_t *idx, int k0,
                              int k1, int a, int e, floating *out) noexcept nogil:
    """out (e - a, k1 - k0) column-major = X[a:e, idx[k0:k1]] of a Fortran-ordered X.
    (Asking for the lines of the column after next ahead of its copy, 2 us of 7.9 saved in
    a C loop alone, measured no faster in a unit-split team's MNIST-5k epoch.)"""
    cdef int k
    for k in range(k0, k1):
        memcpy(out + <Py_ssize_t>(k - k0) * (e - a), X + idx[k] * n0 + a,
               <size_t>(e - a) * sizeof(floating))


cdef void _z1_lazy(Bufs *B, Part p, int ms, const int64_t *idx, int tid,
                   floating *Z1) noexcept nogil:
    """Block p of Z_1 = W_1 X_B (before the bias) from the batch's columns of X, a chunk of
    features at a time (products summed over the chunks)."""
    cdef int n0 = B.n[0], ck = B.chunk_cols, a = 0, e
    cdef const floating *X = <const floating *>B.X
    cdef floating *Xc = <floating *>B.xc + tid * B.xc_size
    cdef floating *W1 = (<floating **>B.W)[1]
    while a < n0:
        e = min(a + ck, n0)
        _gather_rows(X, n0, idx, p.c0, p.c1, a, e, Xc)
        gemm(p.r1 - p.r0, p.c1 - p.c0, e - a, <floating>1, W1 + <Py_ssize_t>p.r0 * n0 + a, n0,
             True, Xc, e - a, False, <floating>(0 if a == 0 else 1),
             Z1 + <Py_ssize_t>p.r0 * ms + p.c0, ms)
        a = e


cdef void _grad_update_1(Spec *sp, Bufs *B, const floating *dZ1, const floating *A0, int ld0,
                         bint a0_rm, int ms, const int64_t *idx, double N, int tid,
                         int nt) noexcept nogil:
    """Layer 1's gradient a chunk at a time into the thread's scratch, each chunk applied at
    once by the optimiser: no dZ_0 reads the old W_1, so the update need not wait for the
    whole gradient, which then never leaves the cache (a memory-bound pass over n1 n0
    values saved per step: W_1 of the cat model is 1 MB).

    The team splits W_1's rows where the batch's inputs (mb x n0) are small enough to be
    read again from the cache for every chunk of rows (chunks are then whole rows, one
    optimiser call each), else its columns (chunks of columns, one call per row; with B.xc
    each chunk's rows of the batch gathered from X first: idx)."""
    cdef int n0 = B.n[0], n1 = B.n[1], r0 = 0, r1 = n1, c0 = 0, c1 = n0, a, e, i, w
    cdef floating *G = <floating *>B.chunk + <Py_ssize_t>tid * B.chunk_size
    cdef floating *W1 = (<floating **>B.W)[1]
    cdef floating *V1 = (<floating **>B.VW)[1]
    cdef floating *S1 = (<floating **>B.SW)[1]
    cdef const floating *dZ
    cdef Py_ssize_t off
    cdef double l2 = sp.lambd / N
    cdef bint by_rows = B.chunk_by_rows
    cdef bint lazy = B.xc != NULL and idx != NULL
    cdef floating *Xc = <floating *>B.xc + tid * B.xc_size if lazy else NULL
    cdef const floating *rows_a
    cdef int ldr
    if nt > 1:
        if by_rows:
            _span(n1, tid, nt, 1, &r0, &r1)
        else:
            _span(n0, tid, nt, 16, &c0, &c1)
    if r1 <= r0 or c1 <= c0:
        return
    if by_rows:
        # rows per chunk: CHUNK_ELEMS values, in multiples of 16 rows (BLAS's kernels
        # work on blocks of 8-24 rows: 10 rows would waste a third of each)
        w = CHUNK_ELEMS // n0
        w = w // 16 * 16 if w >= 16 else 16
        a = r0
        while a < r1:
            e = min(a + w, r1)
            gemm(e - a, n0, ms, <floating>(1.0 / N), dZ1 + <Py_ssize_t>a * ms, ms, True,
                 A0, ld0, not a0_rm, <floating>0, G, n0)
            off = <Py_ssize_t>a * n0
            opt_update(sp.optimizer, &sp.h, W1 + off, G, _at(V1, off), _at(S1, off),
                       <Py_ssize_t>(e - a) * n0, l2)
            a = e
    else:
        w = B.chunk_cols
        dZ = dZ1 + <Py_ssize_t>r0 * ms
        a = c0
        while a < c1:
            e = min(a + w, c1)
            if lazy:
                _gather_rows(<const floating *>B.X, n0, idx, 0, ms, a, e, Xc)
                rows_a, ldr = Xc, e - a              # X_B[a:e, :] column-major
            else:
                rows_a, ldr = _rows_of(A0, ld0, a0_rm, a), ld0
            gemm(r1 - r0, e - a, ms, <floating>(1.0 / N), dZ, ms, True,
                 rows_a, ldr, not (a0_rm and not lazy), <floating>0, G, e - a)
            for i in range(r1 - r0):
                off = <Py_ssize_t>(r0 + i) * n0 + a
                opt_update(sp.optimizer, &sp.h, W1 + off, G + <Py_ssize_t>i * (e - a),
                           _at(V1, off), _at(S1, off), e - a, l2)
            a = e


cdef inline bint _transposed(Bufs *B, Part p, int rows, int cols, int inner) noexcept nogil:
    """Whether a (rows x cols) product over `inner` of the whole step (part p), whose
    operand has the inner index contiguous, goes through a transposed copy (B.tr: float32,
    more than 4 rows, at most TRANSPOSE_WORK multiply-adds; with 1 to 4 rows, as an output
    layer's few units, BLAS's form as it is was the faster: bench/bench_transpose.py)."""
    return (B.tr != NULL and rows > 4 and _whole(p, rows, cols)
            and <long>rows * cols * inner <= TRANSPOSE_WORK)


cdef inline void _wxt_on_copy(int n, int m, int k, floating alpha, const floating *W,
                              const floating *X, int ldx, floating *T,
                              floating *Z) noexcept nogil:
    """Z (n x m) = alpha W X^T, W (n x k) and X (m x k, leading dimension ldx) row-major,
    by BLAS on T = X^T (k x m), copied first (the engine's float32 small products whose
    operand has the inner index contiguous; product_wxt's transposed form)."""
    transpose(m, k, X, ldx, T, m)
    gemm(n, m, k, alpha, W, k, True, <const floating *>T, m, True, <floating>0, Z, m)


cdef inline bint _epi(Bufs *B, Part p, int rows, int cols, int inner) noexcept nogil:
    """Whether a (rows x cols) product over `inner` of the whole step (part p) runs on
    gemm.pxd's kernel (a relu layer's forward and back-propagated products with relu in
    the same pass, the weight gradient of an example-major batch): AVX-512, at least 8
    rows (a block's), above SMALL_WORK (the small loops' range) and at most GEMM_EPI_WORK
    multiply-adds (bench/bench_gemm_epi.py)."""
    cdef long work = <long>rows * cols * inner
    return (B.epi and rows >= 8 and _whole(p, rows, cols) and work > SMALL_WORK
            and work <= GEMM_EPI_WORK)


cdef inline const floating *_layer_input(int l, const floating *A0, int ld0, bint a0_rm,
                                         floating **Act, int ms, int *ldp,
                                         bint *prm) noexcept nogil:
    """Layer l's input: the batch's inputs A0 (leading dimension ld0, row-major where a0_rm)
    for l = 1, else Act[l - 1] (row-major, leading dimension ms)."""
    if l == 1:
        ldp[0] = ld0
        prm[0] = a0_rm
        return A0
    ldp[0] = ms
    prm[0] = True
    return Act[l - 1]


cdef inline void _adam_corrections(Hyper *h, int optimizer, long long t) noexcept nogil:
    """Adam's bias corrections of step t (1 - beta1^t, 1 - beta2^t) into h; other
    optimisers leave h as it is."""
    if optimizer == OPT_ADAM or optimizer == OPT_ADAM_SKLEARN:
        h.c1 = 1 - pow(h.beta1, <double>t)
        h.c2 = 1 - pow(h.beta2, <double>t)


cdef inline double _l2_term(Spec *sp, Bufs *B, floating **W) noexcept nogil:
    """The cost's L2 term before its division by N: lambd / 2 * sum_l ||W_l||^2."""
    cdef double c = 0
    cdef int l
    for l in range(1, sp.L + 1):
        c += 0.5 * sp.lambd * _sum_sq(W[l], <Py_ssize_t>B.n[l] * B.n[l - 1])
    return c


cdef double _thin_share(Spec *sp, Bufs *B, double **W, double **b, const double *A0, int ld0,
                        const double *Yp, int ldy, const double *wp, int ms, int c0, int c1,
                        int tid, double **GW, double **Gb, double *share, double N,
                        bint want_cost) noexcept nogil:
    """A team thread's part of a thin net's step: fd_thin_step_d on columns c0..c1 - 1
    of the batch (parameters W, b) into its share of every gradient (GW, Gb; or, share
    given, there in Bufs.gpart's layout); returns the loss summed over those columns
    where want_cost (else 0)."""
    cdef int L = sp.L
    fd_thin_step_d(L, B.n, c1 - c0, ms, A0 + c0, ld0, W, b, <double *>B.Z[L] + c0,
                   <double *>B.A[L] + c0, <double **>B.D if sp.dropout else NULL, c0,
                   sp.keep_prob, Yp + c0, ldy, NULL if wp == NULL else wp + c0,
                   <char *>B.thin_act + tid * B.thin_stride,
                   <char *>B.thin_acc + tid * B.thin_stride, GW, Gb, share, 1.0 / N, N,
                   _thin_out)
    if not want_cost or c1 <= c0:
        return 0
    return loss_sum(sp.output, sp.loss_conv, <double *>B.A[L] + c0, Yp + c0, ldy,
                    NULL if wp == NULL else wp + c0, B.n[L], c1 - c0, sp.clip_eps, ms)


cdef inline floating *_share(Bufs *B, int l, int t, floating dummy) noexcept nogil:
    """Thread t's (>= 1) share of G_W_l in Bufs.gpart (n_l x n_(l-1)), its share of G_b_l
    right after it: thread t's block holds every layer's pair in order."""
    cdef Py_ssize_t off = (t - 1) * B.gpart_size
    cdef int i
    for i in range(1, l):
        off += <Py_ssize_t>B.n[i] * B.n[i - 1] + B.n[i]
    return <floating *>B.gpart + off


cdef double _step_dp(Spec *sp, Bufs *B, const floating *A0, int ld0, bint a0_rm,
                     const floating *Yp, int ldy, const floating *wp, int ms, bint want_cost,
                     int tid, int nt) noexcept nogil:
    """One step of a data-parallel team (Spec.dp, nt > 1; no gram solver or lazy gather, and
    no dropout but for a thin net: see Engine.data_parallel).  Every thread takes a block of
    the batch's columns (16 at a time; a thin net's fd_thin_step_d, 32) through the forward
    and backward passes, with its own columns of every activation and delta (no other
    thread's), and computes its share of every gradient (the block's sum) into its own
    buffer, thread 0's into G_W, G_b; after one barrier each thread adds the shares up over
    a slice of every layer's parameters and updates that slice (thread 0 all of them where
    they are few).  What a team of layer splits exchanges (each other's halves of the activations
    and deltas, for every product) is here the gradients' shares and the updated
    parameters: the cheaper where a layer is small and the batch large.  Each gradient
    element is the sum of the blocks' sums, thread by thread: a team's run equals the lone
    thread's to rounding (tests/test_team.py)."""
    cdef int L = sp.L, l, nl, npv, c0, c1, cols, lo, hi, t, i, i0, nr
    cdef int *n = B.n
    cdef floating **W = <floating **>B.W
    cdef floating **b = <floating **>B.b
    cdef floating **Z = <floating **>B.Z
    cdef floating **A = <floating **>B.A
    cdef floating **dZ = <floating **>B.dZ
    cdef floating **GW = <floating **>B.GW
    cdef floating **Gb = <floating **>B.Gb
    cdef floating **VW = <floating **>B.VW
    cdef floating **Vb = <floating **>B.Vb
    cdef floating **SW = <floating **>B.SW
    cdef floating **Sb = <floating **>B.Sb
    cdef floating *gw
    cdef floating *gb
    cdef floating *other
    cdef const floating *prev
    cdef int ldp
    cdef bint prm
    cdef Py_ssize_t k, size
    cdef double N, cost = 0, part = 0
    cdef double sums[64]
    cdef Part p
    cdef Hyper h
    cdef long long t_next
    cdef bint thin, small

    if tid == 0:
        _draw_masks(sp, B, ms, Z[1])
    _sync(nt)           # the masks, the batch and the last step's parameters are complete
    h = sp.h            # this step's hyperparameters, read by every thread before thread 0
    t_next = sp.t + 1   # moves sp.t on (after the update phase; the next step's barrier)
    _adam_corrections(&h, sp.optimizer, t_next)
    N = _normaliser(wp, ms)
    thin = floating is double and sp.thin and a0_rm
    _span(ms, tid, nt, THIN_SPLIT if thin else 16, &c0, &c1)
    cols = c1 - c0
    if tid == 0 and want_cost and sp.lambd != 0:
        cost = _l2_term(sp, B, W)

    if thin:
        # a thin net: fd_thin_step_d on this thread's columns, its share of every gradient
        # into its own buffer (thread 0's into G_W, G_b)
        B.l2part[tid] = _thin_share(sp, B, <double **>W, <double **>b, <const double *>A0,
                                    ld0, <const double *>Yp, ldy, <const double *>wp, ms,
                                    c0, c1, tid, <double **>GW, <double **>Gb,
                                    NULL if tid == 0
                                    else <double *>_share(B, 1, tid, W[1][0]), N, want_cost)
    # ---- forward and the output deltas, on this thread's columns
    elif cols > 0:
        for l in range(1, L + 1):
            nl = n[l]
            npv = n[l - 1]
            prev = _layer_input(l, A0, ld0, a0_rm, A, ms, &ldp, &prm)
            gemm(nl, cols, npv, <floating>1, W[l], npv, True, _cols_of(prev, ldp, prm, c0),
                 ldp, prm, <floating>0, Z[l] + c0, ms)
            if l < L:
                p.r0 = 0
                p.r1 = nl
                p.c0 = c0
                p.c1 = c1
                _act_part(sp.hidden, Z[l], b[l], A[l], p, ms)
            else:
                out_forward(sp.output, Z[l] + c0, b[l], A[l] + c0, nl, cols, B.colmax + c0,
                            B.colsum + c0, ms)
        if want_cost:
            part = loss_sum(sp.output, sp.loss_conv, A[L] + c0, Yp + c0, ldy,
                            NULL if wp == NULL else wp + c0, n[L], cols, sp.clip_eps, ms)
        output_delta(dZ[L] + c0, A[L] + c0, Yp + c0, ldy, NULL if wp == NULL else wp + c0,
                     n[L], cols, ms)
    if not thin:
        B.l2part[tid] = part
        # ---- backward: this thread's share of every gradient, its columns of every delta
        for l in range(L, 0, -1):
            nl = n[l]
            npv = n[l - 1]
            prev = _layer_input(l, A0, ld0, a0_rm, A, ms, &ldp, &prm)
            if tid == 0:
                gw = GW[l]
                gb = Gb[l]
            else:
                gw = _share(B, l, tid, W[1][0])
                gb = gw + <Py_ssize_t>nl * npv
            if cols == 0:
                memset(gw, 0, <size_t>nl * npv * sizeof(floating))
                memset(gb, 0, <size_t>nl * sizeof(floating))
                continue
            gemm(nl, npv, cols, <floating>(1.0 / N), dZ[l] + c0, ms, True,
                 _cols_of(prev, ldp, prm, c0), ldp, not prm, <floating>0, gw, npv)
            for i0 in range(0, nl, 64):
                nr = min(64, nl - i0)
                row_sums_ptr(dZ[l] + <Py_ssize_t>i0 * ms + c0, nr, cols, ms, sums)
                for i in range(nr):
                    gb[i0 + i] = <floating>(sums[i] / N)
            if l > 1:
                # dZ_{l-1} = W_l^T dZ_l on these columns, with the old W_l
                gemm(npv, cols, nl, <floating>1, W[l], npv, False, dZ[l] + c0, ms, True,
                     <floating>0, dZ[l - 1] + c0, ms)
                p.r0 = 0
                p.r1 = npv
                p.c0 = c0
                p.c1 = c1
                _act_back_part(sp.hidden, dZ[l - 1], A[l - 1], p, ms)
    _sync(nt)           # every share is complete; every W_l has been read

    # ---- the shares added up and the update, a slice of each layer per thread (all of
    # it on thread 0 where the parameters are few: slices of them would share cache lines)
    small = B.gpart_size < PAR_ELEMS
    for l in range(1, L + 1):
        nl = n[l]
        npv = n[l - 1]
        size = <Py_ssize_t>nl * npv
        _span(<int>size, 0 if small else tid, 1 if small else nt, 16, &lo, &hi)
        if small and tid != 0:
            hi = lo
        for t in range(1, nt):
            other = _share(B, l, t, W[1][0])
            for k in range(lo, hi):
                GW[l][k] = GW[l][k] + other[k]
        if hi > lo and not sp.no_update:
            opt_update(sp.optimizer, &h, W[l] + lo, GW[l] + lo, _at(VW[l], lo),
                       _at(SW[l], lo), hi - lo, sp.lambd / N)
        _span(nl, 0 if small else tid, 1 if small else nt, 16, &lo, &hi)
        if small and tid != 0:
            hi = lo
        for t in range(1, nt):
            other = _share(B, l, t, W[1][0]) + size
            for k in range(lo, hi):
                Gb[l][k] = Gb[l][k] + other[k]
        if hi > lo and not sp.no_update:
            opt_update(sp.optimizer, &h, b[l] + lo, Gb[l] + lo, _at(Vb[l], lo),
                       _at(Sb[l], lo), hi - lo, 0.0)
    if tid == 0:
        if want_cost:
            for t in range(nt):
                cost += B.l2part[t]
            cost /= N
        if not sp.no_update:
            sp.t = t_next
        sp.h.c1 = h.c1
        sp.h.c2 = h.c2
    return cost


cdef void _draw_masks(Spec *sp, Bufs *B, int ms, floating *dummy) noexcept nogil:
    """This step's dropout masks (random dropout only): u < keep_prob, drawn per hidden
    layer in order."""
    cdef int l
    cdef Py_ssize_t k, size
    cdef floating *d
    if not sp.dropout or sp.fixed_masks:
        return
    for l in range(1, sp.L):
        size = <Py_ssize_t>B.n[l] * ms
        d = <floating *>B.D[l]
        for k in range(size):
            d[k] = 1 if next_double(B.bitgen) < sp.keep_prob else 0


cdef void _thin_out(double *Z, const double *b, double *A, int rows, int cnt,
                    long ld) noexcept nogil:
    """The output layer of fd_thin_step_d's blocks: the engine's sigmoid output."""
    out_forward(OUT_SIGMOID, Z, b, A, rows, cnt, NULL, NULL, ld)


cdef inline bint _grad_w(int rows, int cols, int ms, double N, const floating *dZ,
                         const floating *prev, long ldp, floating *GW,
                         floating *Gb) noexcept nogil:
    """G_W = dZ prev / N (rows x cols) on gemm.pxd's kernel, prev the layer's input
    example-major (ms x cols, leading dimension ldp), and G_b = dZ's row means in the
    same pass where they fit in a spare lane (EPI_STORE_SUM; Gb NULL: not asked for).
    Returns whether G_b was taken (else the caller takes it)."""
    cdef floating alpha = <floating>(1.0 / N)
    if Gb != NULL and gemm_epi(rows, cols, ms, alpha, dZ, ms, 1, prev, ldp, GW, cols,
                               EPI_STORE_SUM, NULL, NULL, 0, Gb):
        return True
    gemm_epi(rows, cols, ms, alpha, dZ, ms, 1, prev, ldp, GW, cols, EPI_STORE, NULL, NULL, 0)
    return False


cdef double _step_us(Spec *sp, Bufs *B, const floating *Xr, long ldr, const floating *Xe,
                     long lde, const floating *Yp, int ldy, const floating *wp, int ms,
                     bint want_cost, int tid) noexcept nogil:
    """One step of a unit-split team (Spec.us: two threads, relu hidden layers, AVX-512's
    fused products; see Engine.unit_split).  Thread t owns hidden units h0..h1-1 of layer 1:
    their rows of W_1, b_1, A_1, dZ_1, G_W1, G_b1 and their columns of W_2, G_W2, with the
    optimiser's state of each, as its own copies (USide, copied in before the run and out
    after it), which the other thread never touches.  Each thread takes the whole batch
    (its own gather: X is read by both, written by none) in both orders, Xr (n0 x ms,
    row-major) and Xe (ms x n0), computes its units' activations and their share of layer
    2's pre-activation, P_t = W_2[:, h] A_1[h], and raises its counter; once the other's share is in, each adds P_0 + P_1 and runs the tail (layer 2's
    bias and activation, layers 3..L, the loss's delta, back-propagation down to dZ_2, and
    the tail's updates: b_2..b_L, W_3..W_L) on its own copy (the same values on both: the
    same inputs through the same code), then back-propagates to its own units and updates
    them.  The tail is what both threads do: fastdnn.threads.unit_split takes the split
    only where it is a small part of the step.  What the two exchange in a step is P
    (n_2 x mb values) and a counter each; P_t alternates between two buffers by the step's
    parity, so a thread writing the next step's share (which it does only once the other
    has finished reading this step's: the other's share of the next step is not in before
    then, and a thread waits for it before its own third write) never overwrites one being
    read.  Z_2 is the sum of two partial sums (each a multiply-add chain over its units):
    the lone thread's to rounding (tests/test_unit_split.py)."""
    cdef USide *S = &B.us.side[tid]
    cdef int L = sp.L, l
    cdef int *n = B.n
    cdef int n0 = n[0], n2 = n[2], nL = n[L], hh = S.h1 - S.h0
    cdef floating *W1 = <floating *>S.W1
    cdef floating *b1 = <floating *>S.b1
    cdef floating *A1 = <floating *>S.A1
    cdef floating *dZ1 = <floating *>S.dZ1
    cdef floating *GW1 = <floating *>S.GW1
    cdef floating *Gb1 = <floating *>S.Gb1
    cdef floating *W2 = <floating *>S.W2
    cdef floating *GW2 = <floating *>S.GW2
    cdef floating **W = <floating **>S.W
    cdef floating **GW = <floating **>S.GW
    cdef floating **b = <floating **>S.b
    cdef floating **Gb = <floating **>S.Gb
    cdef floating **A = <floating **>S.A
    cdef floating **dZ = <floating **>S.dZ
    cdef floating *Z = <floating *>S.Z
    cdef floating *trA = <floating *>S.trA
    cdef floating *trT = <floating *>S.trT
    cdef floating *Z2
    cdef long long t = S.t
    cdef Py_ssize_t part = <Py_ssize_t>n2 * ms
    # the four buffers at fixed places, each of a full batch's size (a shorter last batch's
    # shares at the same places: placed by its own size they would overlap the last step's)
    cdef Py_ssize_t slot = <Py_ssize_t>n2 * sp.mb
    cdef floating *P = <floating *>B.us.P + ((t & 1) * 2) * slot
    cdef floating *Pt = P + tid * slot
    cdef Py_ssize_t k
    cdef double N, cost = 0, l2
    cdef Hyper h
    cdef int step = B.us.shared[tid].value + 1
    cdef long long epi = 0

    N = _normaliser(wp, ms)
    if want_cost and sp.lambd != 0:
        # the L2 term over the thread's own parameters (read before it updates them), and
        # thread 0's over the tail's (by the step's parity, as P: the other may still read
        # the last step's)
        l2 = _sum_sq(W1, <Py_ssize_t>hh * n0) + _sum_sq(W2, <Py_ssize_t>n2 * hh)
        if tid == 0:
            for l in range(3, L + 1):
                l2 += _sum_sq(W[l], <Py_ssize_t>n[l] * n[l - 1])
        B.l2part[(t & 1) * 2 + tid] = l2

    # the thread's units: A_1[h] = relu(W_1[h] X + b_1[h]); its share of Z_2
    gemm_epi(hh, ms, n0, <floating>1, W1, n0, 1, Xr, ldr, A1, ms, EPI_BIAS_RELU, b1, NULL, 0)
    gemm_epi(n2, ms, hh, <floating>1, W2, hh, 1, A1, ms, Pt, ms, EPI_STORE, NULL, NULL, 0)
    fd_raise(&B.us.shared[tid], step)
    # (while the other's share may still be on its way: the thread's own activations
    # transposed, for G_W2 below)
    transpose(hh, ms, A1, ms, trA, hh)
    fd_wait_for(&B.us.shared[1 - tid], step, 20000)
    if B.us.lag[tid]:
        fd_lag(B.us.lag[tid])

    # the tail, each thread on its own copy: Z_2 from the two shares (into Z, the output's,
    # or trT's scratch, free until the back-propagation), then layers 2..L
    Z2 = Z if L == 2 else trT
    for k in range(part):
        Z2[k] = P[k] + P[slot + k]
    if L > 2:
        act_forward(sp.hidden, Z2, b[2], A[2], n2, ms)
        for l in range(3, L):
            gemm_epi(n[l], ms, n[l - 1], <floating>1, W[l], n[l - 1], 1, A[l - 1], ms,
                     A[l], ms, EPI_BIAS_RELU, b[l], NULL, 0)
        gemm_epi(nL, ms, n[L - 1], <floating>1, W[L], n[L - 1], 1, A[L - 1], ms, Z, ms,
                 EPI_STORE, NULL, NULL, 0)
        epi += L - 2
    out_forward(sp.output, Z, b[L], A[L], nL, ms, S.colmax, S.colsum, ms)
    if tid == 0 and want_cost:
        if sp.lambd != 0:
            cost = 0.5 * sp.lambd * (B.l2part[(t & 1) * 2] + B.l2part[(t & 1) * 2 + 1])
        cost += loss_sum(sp.output, sp.loss_conv, A[L], Yp, ldy, wp, nL, ms, sp.clip_eps, ms)
        cost /= N
    t += 1
    S.t = t
    h = sp.h
    _adam_corrections(&h, sp.optimizer, t)
    output_delta(dZ[L], A[L], Yp, ldy, wp, nL, ms, ms)
    # the tail's gradients, down to dZ_2 and G_b2
    for l in range(L, 2, -1):
        transpose(n[l - 1], ms, A[l - 1], ms, trT, n[l - 1])
        if not _grad_w(n[l], n[l - 1], ms, N, dZ[l], trT, n[l - 1], GW[l], Gb[l]):
            _row_means(dZ[l], Gb[l], n[l], ms, N)
        gemm_epi(n[l - 1], ms, n[l], <floating>1, W[l], 1, n[l - 1], dZ[l], ms, dZ[l - 1], ms,
                 EPI_RELU_BACK, NULL, A[l - 1], ms)
        epi += 2
    _row_means(dZ[2], Gb[2], n2, ms, N)

    # back to the thread's units: G_W2[:, h] = dZ_2 A_1[h]^T / N, dZ_1[h] = W_2[:, h]^T dZ_2
    # where A_1[h] > 0, G_W1[h] = dZ_1[h] X^T / N and G_b1[h]
    _grad_w(n2, hh, ms, N, dZ[2], trA, hh, GW2, NULL)
    gemm_epi(hh, ms, n2, <floating>1, W2, 1, hh, dZ[2], ms, dZ1, ms, EPI_RELU_BACK, NULL,
             A1, ms)
    if not _grad_w(hh, n0, ms, N, dZ1, Xe, lde, GW1, Gb1):
        _row_means(dZ1, Gb1, hh, ms, N)

    if tid == 0:
        # thread 0's fused products (Engine.fused_products)
        S.epi += epi + 5
    # the updates: the thread's own parameters, and its own copy of the tail's
    opt_update(sp.optimizer, &h, W1, GW1, <floating *>S.VW1, <floating *>S.SW1,
               <Py_ssize_t>hh * n0, sp.lambd / N)
    opt_update(sp.optimizer, &h, b1, Gb1, <floating *>S.Vb1, <floating *>S.Sb1, hh, 0.0)
    opt_update(sp.optimizer, &h, W2, GW2, <floating *>S.VW2, <floating *>S.SW2,
               <Py_ssize_t>n2 * hh, sp.lambd / N)
    for l in range(2, L + 1):
        if l > 2:
            opt_update(sp.optimizer, &h, W[l], GW[l], <floating *>S.VW[l],
                       <floating *>S.SW[l], <Py_ssize_t>n[l] * n[l - 1], sp.lambd / N)
        opt_update(sp.optimizer, &h, b[l], Gb[l], <floating *>S.Vb[l], <floating *>S.Sb[l],
                   n[l], 0.0)
    return cost


cdef double _step(Spec *sp, Bufs *B, const floating *A0, int ld0, bint a0_rm,
                  const floating *Yp, int ldy, const floating *wp, int ms, bint want_cost,
                  int64_t first, const int64_t *idx, int tid, int nt) noexcept nogil:
    """One optimisation step on a batch of ms columns; returns its cost (0 if not wanted;
    thread 0's value).

    A0: the batch's inputs (n0 x ms) with leading dimension ld0 in row- or column-major
    order; Yp: targets (n_L x ms) row-major with leading dimension ldy; wp: weights or NULL.
    The batch is columns first..first+ms-1 (idx NULL) or idx[0..ms-1] of the data (read by
    the gram solver only).  Run by every thread of a team (tid of nt; see above).
    """
    cdef int L = sp.L, l, nl, npv, i
    cdef int *n = B.n
    cdef floating **W = <floating **>B.W
    cdef floating **b = <floating **>B.b
    cdef floating **Z = <floating **>B.Z
    cdef floating **A = <floating **>B.A
    cdef floating **Ad = <floating **>B.Ad
    cdef floating **D = <floating **>B.D
    cdef floating **dZ = <floating **>B.dZ
    cdef floating **GW = <floating **>B.GW
    cdef floating **Gb = <floating **>B.Gb
    cdef floating **VW = <floating **>B.VW
    cdef floating **Vb = <floating **>B.Vb
    cdef floating **SW = <floating **>B.SW
    cdef floating **Sb = <floating **>B.Sb
    cdef const floating *prev
    cdef int ldp, lo, hi
    cdef bint prm
    cdef Py_ssize_t k, size
    cdef double N, cost = 0, kp = sp.keep_prob
    cdef floating fkp = <floating>sp.keep_prob
    cdef Part p
    cdef bint fused, l2_shared, thin, act_done, sums_done
    cdef double l2

    if nt > 1 and sp.dp:
        return _step_dp(sp, B, A0, ld0, a0_rm, Yp, ldy, wp, ms, want_cost, tid, nt)
    if nt == 2 and sp.us:
        return _in_place_us(sp, B, A0, ld0, a0_rm, Yp, ldy, wp, ms, want_cost, tid)
    if tid == 0:
        _draw_masks(sp, B, ms, D[1])
    _sync(nt)           # the masks, the batch and the last step's parameters are complete

    # normaliser
    N = _normaliser(wp, ms)

    # the L2 term: on a team (more than one layer: a barrier comes before thread 0's loss)
    # each thread sums its share of every large W_l, thread 0 adds the shares up
    l2_shared = want_cost and sp.lambd != 0 and nt > 1 and L > 1
    if l2_shared:
        l2 = 0
        for l in range(1, L + 1):
            size = <Py_ssize_t>n[l] * n[l - 1]
            if size < PAR_ELEMS:
                if tid == 0:
                    l2 += _sum_sq(W[l], size)
            else:
                _span(<int>size, tid, nt, 16, &lo, &hi)
                if hi > lo:
                    l2 += _sum_sq(W[l] + lo, hi - lo)
        B.l2part[tid] = l2
    elif tid == 0 and want_cost and sp.lambd != 0:
        for l in range(1, L + 1):
            if l == 1 and sp.gram:
                cost += 0.5 * sp.lambd * _gram_norm2(B, n[1], sp.m, W[1][0])
            else:
                cost += 0.5 * sp.lambd * _sum_sq(W[l], <Py_ssize_t>n[l] * n[l - 1])

    # ---- forward (a thin net alone: the whole step's passes, fd_thin_step_d, up to the
    # gradients; the update below)
    thin = floating is double and sp.thin and nt == 1 and a0_rm
    if thin:
        fd_thin_step_d(L, n, ms, ms, <const double *>A0, ld0, <double **>W, <double **>b,
                       <double *>Z[L], <double *>A[L], <double **>D if sp.dropout else NULL, 0,
                       kp, <const double *>Yp, ldy, <const double *>wp, B.thin_act,
                       B.thin_acc, <double **>GW, <double **>Gb, NULL,
                       <double>(<floating>(1.0 / N)), N, _thin_out)
    for l in range(1, 0 if thin else L + 1):
        nl = n[l]
        npv = n[l - 1]
        act_done = False
        prev = _layer_input(l, A0, ld0, a0_rm, Ad, ms, &ldp, &prm)
        if l == L:
            if tid != 0:
                break
            p = _part(nl, ms, 0, 0, 1)
        else:
            p = _part(nl, ms, <long>nl * ms * npv, tid, nt)
        if _empty(p):
            pass
        elif l == 1 and sp.gram:
            _gram_z1(B, Z[1], nl, sp.m, ms, first, idx)
        elif l == 1 and B.xc != NULL and idx != NULL:
            _z1_lazy(B, p, ms, idx, tid, Z[1])
        elif _whole(p, nl, ms) and prm and ldp == ms and <long>nl * ms * npv <= SMALL_WORK:
            mm_nn(nl, ms, npv, W[l], prev, Z[l])
        elif (l < L and sp.hidden == ACT_RELU and (prm or B.tr != NULL)
              and _epi(B, p, nl, ms, npv)):
            # A_l = relu(W_l prev + b_l) in the product's pass (prev row-major: X_B^T
            # copied first); Z_l is not written
            if not prm:
                transpose(ms, npv, prev, ldp, <floating *>B.tr, ms)
                prev = <const floating *>B.tr
                ldp = ms
            gemm_epi(nl, ms, npv, <floating>1, W[l], npv, 1, prev, ldp, A[l], ms,
                     EPI_BIAS_RELU, b[l], NULL, 0)
            act_done = True
            B.epi_runs += 1
        elif floating is float and not prm and _transposed(B, p, nl, ms, npv):
            # on X_B^T (npv x ms): the product in BLAS's fast form
            _wxt_on_copy(nl, ms, npv, <floating>1, W[l], prev, ldp, <floating *>B.tr, Z[l])
        else:
            gemm(p.r1 - p.r0, p.c1 - p.c0, npv, <floating>1, W[l] + <Py_ssize_t>p.r0 * npv,
                 npv, True, _cols_of(prev, ldp, prm, p.c0), ldp, prm,
                 <floating>0, Z[l] + <Py_ssize_t>p.r0 * ms + p.c0, ms)
        if l < L:
            if not _empty(p):
                if not act_done:
                    _act_part(sp.hidden, Z[l], b[l], A[l], p, ms)
                if sp.dropout:
                    _mask_part(Ad[l], A[l], D[l], fkp, p, ms)
            _sync(nt)
        else:
            out_forward(sp.output, Z[l], b[l], A[l], nl, ms, B.colmax, B.colsum, ms)

    if tid == 0:
        if l2_shared:
            for i in range(nt):
                cost += 0.5 * sp.lambd * B.l2part[i]
        if want_cost:
            cost += loss_sum(sp.output, sp.loss_conv, A[L], Yp, ldy, wp, n[L], ms, sp.clip_eps,
                             ms)
            cost /= N
        if not sp.no_update:
            sp.t += 1
        if sp.optimizer == OPT_ADAM or sp.optimizer == OPT_ADAM_SKLEARN:
            # Adam: bias corrections of step t
            sp.h.c1 = 1 - pow(sp.h.beta1, <double>sp.t)
            sp.h.c2 = 1 - pow(sp.h.beta2, <double>sp.t)
        if not thin:
            output_delta(dZ[L], A[L], Yp, ldy, wp, n[L], ms, ms)
    _sync(nt)

    # ---- backward
    for l in range(L, 0, -1):
        nl = n[l]
        npv = n[l - 1]
        act_done = False
        sums_done = False
        prev = _layer_input(l, A0, ld0, a0_rm, Ad, ms, &ldp, &prm)
        # G_W = (1/N) dZ_l A_{l-1}^T  (A^T: the same memory in the other storage order)
        p = _part(nl, npv, <long>nl * ms * npv, tid, nt)
        fused = l == 1 and B.chunk != NULL
        if thin:
            pass                    # G_W_l, G_b_l: fd_thin_step_d
        elif fused:
            _grad_update_1(sp, B, dZ[1], A0, ld0, a0_rm, ms, idx, N, tid, nt)
        elif (l == 1 and sp.gram) or _empty(p):
            pass                    # the gram representation takes dZ_1 itself
        elif _whole(p, nl, npv) and prm and ldp == ms and <long>nl * ms * npv <= SMALL_WORK:
            memset(GW[l], 0, <size_t>nl * npv * sizeof(floating))
            mm_nt_acc(nl, npv, ms, <floating>(1.0 / N), dZ[l], prev, GW[l])
        elif not prm and _epi(B, p, nl, npv, ms):
            # X_B example-major: its rows are the product's rows (gemm.pxd); alone, G_b with
            # it where the row sums fit in a spare lane (EPI_STORE_SUM)
            sums_done = _grad_w(nl, npv, ms, N, dZ[l], prev, ldp, GW[l],
                                Gb[l] if nt == 1 else NULL)
            B.epi_runs += 1
        elif floating is float and prm and _transposed(B, p, nl, npv, ms):
            # on A_(l-1)^T (ms x npv): the product in BLAS's fast form
            _wxt_on_copy(nl, npv, ms, <floating>(1.0 / N), dZ[l], prev, ldp,
                         <floating *>B.tr, GW[l])
        else:
            gemm(p.r1 - p.r0, p.c1 - p.c0, ms, <floating>(1.0 / N),
                 dZ[l] + <Py_ssize_t>p.r0 * ms, ms, True,
                 _rows_of(prev, ldp, prm, p.c0), ldp, not prm,
                 <floating>0, GW[l] + <Py_ssize_t>p.r0 * npv + p.c0, npv)
        _span(nl, tid, nt, 1, &lo, &hi)
        if hi > lo and not thin and not sums_done:
            _row_means(dZ[l] + <Py_ssize_t>lo * ms, Gb[l] + lo, hi - lo, ms, N)
        if l > 1 and not thin:
            # dZ_{l-1} = W_l^T dZ_l with the old W_l
            p = _part(npv, ms, <long>nl * ms * npv, tid, nt)
            if _empty(p):
                pass
            elif _whole(p, npv, ms) and <long>nl * ms * npv <= SMALL_WORK:
                mm_tn(npv, ms, nl, W[l], dZ[l], dZ[l - 1])
            elif sp.hidden == ACT_RELU and not sp.dropout and _epi(B, p, npv, ms, nl):
                # relu's derivative (0 where A_(l-1) <= 0) in the product's pass
                gemm_epi(npv, ms, nl, <floating>1, W[l], 1, npv, dZ[l], ms, dZ[l - 1], ms,
                         EPI_RELU_BACK, NULL, A[l - 1], ms)
                act_done = True
                B.epi_runs += 1
            else:
                gemm(p.r1 - p.r0, p.c1 - p.c0, nl, <floating>1, W[l] + p.r0, npv, False,
                     dZ[l] + p.c0, ms, True,
                     <floating>0, dZ[l - 1] + <Py_ssize_t>p.r0 * ms + p.c0, ms)
            if not _empty(p) and not act_done:
                if sp.dropout:
                    _mask_part(dZ[l - 1], dZ[l - 1], D[l - 1], fkp, p, ms)
                _act_back_part(sp.hidden, dZ[l - 1], A[l - 1], p, ms)
        _sync(nt)           # W_l read by all; G_W, G_b, dZ_{l-1} complete
        if sp.no_update or fused:
            pass
        elif l == 1 and sp.gram:
            if tid == 0:
                _gram_update(sp, B, dZ[1], nl, sp.m, ms, first, idx, N)
        else:
            size = <Py_ssize_t>nl * npv
            if nt == 1 or size < PAR_ELEMS:
                lo = 0
                hi = <int>size if tid == 0 else 0
            else:
                _span(<int>size, tid, nt, 16, &lo, &hi)
            if hi > lo:
                opt_update(sp.optimizer, &sp.h, W[l] + lo, GW[l] + lo, _at(VW[l], lo),
                           _at(SW[l], lo), hi - lo, sp.lambd / N)
        if tid == 0 and not sp.no_update:
            opt_update(sp.optimizer, &sp.h, b[l], Gb[l], Vb[l], Sb[l], nl, 0.0)
    return cost


cdef void _gather_targets(Bufs *B, int64_t m, int nL, const int64_t *perm, int ms,
                          floating *Yb, floating *wb) noexcept nogil:
    """The batch perm[0..ms-1]'s targets into Yb (n_L x ms, row-major) and its weights into
    wb (where there are any)."""
    cdef const floating *Y = <const floating *>B.Y
    cdef const floating *Yt = <const floating *>B.Yt
    cdef const floating *w = <const floating *>B.w
    cdef const floating *yk
    cdef int i, k
    if B.ylab != NULL:
        # one-hot targets: zeros, then each example's 1 at its class
        memset(Yb, 0, <size_t>nL * ms * sizeof(floating))
        for k in range(ms):
            Yb[<Py_ssize_t>B.ylab[perm[k]] * ms + k] = 1
    elif Yt != NULL:
        # an example's n_L targets are contiguous in Yt: one line read per example
        # instead of n_L scattered reads
        for k in range(ms):
            yk = Yt + perm[k] * nL
            for i in range(nL):
                Yb[i * ms + k] = yk[i]
    else:
        for i in range(nL):
            for k in range(ms):
                Yb[i * ms + k] = Y[i * m + perm[k]]
    if w != NULL:
        for k in range(ms):
            wb[k] = w[perm[k]]


cdef double _in_place_us(Spec *sp, Bufs *B, const floating *A0, int ld0, bint a0_rm,
                         const floating *Yp, int ldy, const floating *wp, int ms,
                         bint want_cost, int tid) noexcept nogil:
    """A unit-split team's step on a batch (in place, columns of X, Y, w themselves, or
    the thread's own gather): each thread copies it into its own buffer in the other
    order, then _step_us."""
    cdef floating *tr = <floating *>B.us.side[tid].tr
    cdef int n0 = B.n[0]
    if a0_rm:
        transpose(n0, ms, A0, ld0, tr, n0)
        return _step_us(sp, B, A0, ld0, tr, n0, Yp, ldy, wp, ms, want_cost, tid)
    transpose(ms, n0, A0, ld0, tr, ms)
    return _step_us(sp, B, tr, ms, A0, ld0, Yp, ldy, wp, ms, want_cost, tid)


cdef double _gather_own(Spec *sp, Bufs *B, const int64_t *order, int64_t start, int ms,
                        bint want_cost, int tid, floating dummy) noexcept nogil:
    """A unit-split team's step on the shuffled batch at start..start+ms-1 of ``order`` (the
    epoch's permutation): the thread's own gather of the batch (its inputs, targets,
    weights) into its own buffers (USide), then _in_place_us; returns the step's cost (thread 0's).  (Each thread
    gathering half of the batch into buffers both read, with a second exchange a step,
    measured no faster: 1% on issue 12's MNIST-5k.)"""
    cdef USide *S = &B.us.side[tid]
    cdef int64_t m = sp.m
    cdef int n0 = B.n[0], i, k
    cdef const int64_t *perm = order + start
    cdef const floating *X = <const floating *>B.X
    cdef floating *Xb = <floating *>S.Xb
    if B.x_rm:
        for i in range(n0):
            for k in range(ms):
                Xb[i * ms + k] = X[i * m + perm[k]]
    else:
        _gather_rows(X, n0, perm, 0, ms, 0, n0, Xb)
    _gather_targets(B, m, B.n[sp.L], perm, ms, <floating *>S.Yb, <floating *>S.wb)
    return _in_place_us(sp, B, Xb, ms if B.x_rm else n0, B.x_rm, <floating *>S.Yb, ms,
                        NULL if B.w == NULL else <floating *>S.wb, ms, want_cost, tid)


cdef void _us_copy(const int64_t *d, Py_ssize_t n, bint back) noexcept nogil:
    """A unit-split team's copies (Engine._us_copy_table's rows: own buffer, engine's
    array, rows, bytes a row, the engine's array's row stride in bytes, kind): before a run
    (back False) into the threads' own buffers, kinds 0 (their own parts) and 1 (thread
    1's copy of the tail); after it (back True) into the engine's arrays, kinds 0 and 2
    (the last step's gradients)."""
    cdef Py_ssize_t i, r, rows, rb, fs
    cdef char *own
    cdef char *full
    for i in range(n):
        if d[6 * i + 5] == (1 if back else 2):
            continue
        own = <char *><uintptr_t>d[6 * i]
        full = <char *><uintptr_t>d[6 * i + 1]
        rows = <Py_ssize_t>d[6 * i + 2]
        rb = <Py_ssize_t>d[6 * i + 3]
        fs = <Py_ssize_t>d[6 * i + 4]
        for r in range(rows):
            if back:
                memcpy(full + r * fs, own + r * rb, <size_t>rb)
            else:
                memcpy(own + r * rb, full + r * fs, <size_t>rb)


cdef double _epoch(Spec *sp, Bufs *B, long long epoch, bint want_cost, int tid, int nt,
                   floating dummy) noexcept nogil:
    """One epoch; returns the epoch's cost (sum of step cost * m_s / m), 0 if not wanted
    (thread 0's value)."""
    cdef int64_t m = sp.m, start, k, j
    cdef int ms, i, n0 = B.n[0], nL = B.n[sp.L], lo, hi
    cdef double total = 0, c
    cdef const floating *X = <const floating *>B.X
    cdef const floating *Y = <const floating *>B.Y
    cdef const floating *xk
    cdef bint xb_rm
    cdef const floating *w = <const floating *>B.w
    cdef floating *Xb = <floating *>B.Xb
    cdef floating *Yb = <floating *>B.Yb
    cdef floating *wb = <floating *>B.wb
    cdef MT19937 mt
    cdef int64_t *perm = B.perm
    if sp.shuffle == SHUF_NONE and sp.mb >= m:
        # full batch, data order: X, Y, w in place
        return _step(sp, B, X, <int>m if B.x_rm else n0, B.x_rm, Y, <int>m, w, <int>m,
                     want_cost, 0, NULL, tid, nt)
    if sp.shuffle == SHUF_COURSE and not sp.perm_given:
        if sp.us and nt == 2:
            # a unit-split team: the two threads draw two epochs' permutations at once
            # (USplit.perm); the barrier at the start of each epoch (_epochs) orders the
            # draws after the last epoch's gathers, and B.us.drawn's write before its read
            perm = B.us.perm[epoch & 1]
            if B.us.drawn != epoch:
                if tid == 0:
                    lanes_permutation(&B.lanes, &mt, <uint32_t>(sp.seed + 1 + epoch), perm, m)
                else:
                    lanes_permutation(&B.us.lanes1, &mt, <uint32_t>(sp.seed + 2 + epoch),
                                      B.us.perm[(epoch + 1) & 1], m)
                _sync(nt)
                if tid == 0:
                    B.us.drawn = epoch + 1
        else:
            if tid == 0:
                lanes_permutation(&B.lanes, &mt, <uint32_t>(sp.seed + 1 + epoch), perm, m)
            _sync(nt)
    start = 0
    while start < m:
        ms = <int>(sp.mb if m - start > sp.mb else m - start)
        if sp.shuffle == SHUF_NONE:
            if B.x_rm:
                c = _step(sp, B, X + start, <int>m, True, Y + start, <int>m,
                          NULL if w == NULL else w + start, ms, want_cost, start, NULL,
                          tid, nt)
            else:
                c = _step(sp, B, X + start * n0, n0, False, Y + start, <int>m,
                          NULL if w == NULL else w + start, ms, want_cost, start, NULL,
                          tid, nt)
        elif sp.us and nt == 2:
            # a unit-split team: each thread gathers the whole batch into its own buffers
            c = _gather_own(sp, B, perm, start, ms, want_cost, tid, dummy)
        else:
            # gather the batch's columns (the gram solver does not read X); the step
            # starts with a barrier
            xb_rm = B.x_rm or (not sp.gram and B.xc == NULL
                               and <long>B.n[1] * ms * n0 <= SMALL_WORK)
            if sp.gram or B.xc != NULL:
                pass                # layer 1 reads X itself
            elif B.x_rm:
                _span(n0, tid, nt, 1, &lo, &hi)
                for i in range(lo, hi):
                    for k in range(ms):
                        Xb[i * ms + k] = X[i * m + perm[start + k]]
            elif xb_rm:
                # a small first layer multiplies by loops, which take row-major operands
                # only: the batch of a Fortran-ordered X is gathered transposed
                _span(ms, tid, nt, 16 if sp.dp else 1, &lo, &hi)
                for k in range(lo, hi):
                    xk = X + perm[start + k] * n0
                    for i in range(n0):
                        Xb[i * ms + k] = xk[i]
            else:
                # (a data-parallel team: each thread its own columns, those of its step)
                _span(ms, tid, nt, 16 if sp.dp else 1, &lo, &hi)
                _gather_rows(X, n0, perm + start, lo, hi, 0, n0, Xb + <Py_ssize_t>lo * n0)
            if tid == 0:
                _gather_targets(B, m, nL, perm + start, ms, Yb, wb)
            c = _step(sp, B, Xb, ms if xb_rm else n0, xb_rm, Yb, ms,
                      NULL if w == NULL else wb, ms, want_cost, 0, perm + start, tid, nt)
        total += c * ms
        start += ms
    return total / m


cdef bint _is_permutation(const int64_t *p, int64_t m, unsigned char *seen) noexcept nogil:
    """Whether p[0..m-1] holds each of 0..m-1 once (seen: m bytes of scratch)."""
    cdef int64_t k, v
    memset(seen, 0, <size_t>m)
    for k in range(m):
        v = p[k]
        if v < 0 or v >= m or seen[v]:
            return False
        seen[v] = 1
    return True


cdef struct Run:
    Spec *sp
    Bufs *B
    bint is_double
    long long first
    const double *lrs
    const unsigned char *want
    double *costs
    Py_ssize_t count
    # scikit-learn's epoch loop (Engine.run_plateau): the order shuffled before each epoch
    # from shuffle_bg (NULL: kept), and its stopping rule on the epochs' costs
    bitgen_t *shuffle_bg
    bint plateau
    double tol, patience, best, bad
    Py_ssize_t done
    bint stop
    # the permutation helper's counters (_epochs_helped), or NULL
    void *helped
    # a unit-split team ran the epochs (two threads came: OpenMP may give fewer)
    bint us_ran
    # a thin net's full-batch team runs the epochs (_epochs_tp)
    bint tp


cdef void _epochs(void *arg, int tid, int nt) noexcept nogil:
    """The run's epochs first .. first + count - 1 on one thread of the team: epoch i at
    rate lrs[i], its cost into costs[i] where want[i]; denormals flushed meanwhile (sp.ftz;
    the mode is per thread) and the thread's mode restored."""
    cdef Run *r = <Run *>arg
    cdef Spec *sp = r.sp
    cdef Py_ssize_t i
    cdef double c
    cdef unsigned int fp = fd_flush_denormals() if sp.ftz else 0
    if tid == 0:
        r.us_ran = sp.us and nt == 2
    if r.tp and nt > 1:
        _epochs_tp(r, tid, nt)
        if sp.ftz:
            fd_restore_fp(fp)
        return
    for i in range(r.count):
        if not sp.dp:
            # the team is past the last epoch's updates (they read lr); a data-parallel
            # step reads lr only after the barrier that starts it
            _sync(nt)
        if tid == 0:
            sp.h.lr = r.lrs[i]
        if r.shuffle_bg != NULL:
            # the last epoch's gathers read the order before its last step's barriers
            if tid == 0:
                bitgen_shuffle(r.shuffle_bg, r.B.perm, sp.m)
            _sync(nt)
        if r.helped != NULL:
            _take_permutation(<Helped *>r.helped, r, i)
        if r.is_double:
            c = _epoch[double](sp, r.B, r.first + i, r.want[i], tid, nt, 0)
        else:
            c = _epoch[float](sp, r.B, r.first + i, r.want[i], tid, nt, 0)
        if tid == 0 and r.want[i]:
            r.costs[i] = c
        if r.plateau:
            if tid == 0:
                # scikit-learn's _update_no_improvement_count (without a validation set)
                # and its test; NaN compares false, as there
                r.done = i + 1
                if c > r.best - r.tol:
                    r.bad += 1
                else:
                    r.bad = 0
                if c < r.best:
                    r.best = c
                r.stop = r.bad > r.patience
            _sync(nt)
            if r.stop:
                break
    if sp.ftz:
        fd_restore_fp(fp)


cdef enum:
    TP_ARRAYS = 8           # a _epochs_tp thread's own arrays: W, b, VW, Vb, SW, Sb, GW, Gb
    TP_SPIN = 20000         # its waits' spins before sleeping (a step takes microseconds)


cdef inline void _tp_tables(Bufs *B, int L, int tid, void ***out) noexcept nogil:
    """Thread tid's TP_ARRAYS tables of L + 1 pointers (W, b, VW, Vb, SW, Sb, GW, Gb, as
    _TP_NAMES): the engine's for thread 0, its own copies' (Bufs.tp_tab) for the others."""
    cdef void **tab
    cdef int j
    if tid == 0:
        out[0] = B.W
        out[1] = B.b
        out[2] = B.VW
        out[3] = B.Vb
        out[4] = B.SW
        out[5] = B.Sb
        out[6] = B.GW
        out[7] = B.Gb
        return
    tab = B.tp_tab + <Py_ssize_t>(tid - 1) * TP_ARRAYS * (L + 1)
    for j in range(TP_ARRAYS):
        out[j] = tab + j * (L + 1)


cdef inline Py_ssize_t _tp_size(Bufs *B, int j, int l) noexcept nogil:
    """The values of array j (as _TP_NAMES) of layer l: n_l n_(l-1) for the weights' (even
    j), n_l for the biases'."""
    return <Py_ssize_t>B.n[l] * (B.n[l - 1] if j % 2 == 0 else 1)


cdef inline void _tp_sum(Bufs *B, int par, int nt, Py_ssize_t off, Py_ssize_t size,
                         double *g) noexcept nogil:
    """g = the sum of the threads' shares of step parity par at offset off (size values),
    in thread order."""
    cdef const double *o = <const double *>(B.tp_share + par * nt * B.tp_stride) + off
    cdef Py_ssize_t k
    cdef int t
    for k in range(size):
        g[k] = o[k]
    for t in range(1, nt):
        o = <const double *>(B.tp_share + (par * nt + t) * B.tp_stride) + off
        for k in range(size):
            g[k] = g[k] + o[k]


cdef void _epochs_tp(Run *r, int tid, int nt) noexcept nogil:
    """A thin net's full-batch epochs on a data-parallel team (Run.tp: Engine._tp_wanted),
    with one exchange a step.  Each thread runs fd_thin_step_d on its columns of X into
    its share of every gradient (share (step parity, tid), Bufs.gpart's layout), raises
    its counter to the step's number and waits for every other thread's; then each adds
    the shares up in thread order (as _step_dp adds them) and updates its own copy of the
    parameters and optimiser state: thread 0 the engine's arrays, thread t >= 1 copies
    made at the run's start, on addresses of the same alignment (mod 64 bytes) as the
    engine's, so that every thread's update runs the same code on the same values and the
    copies stay equal bit for bit (tests/test_thin_team.py).  _step_dp's team meets twice
    a step (the shares, then the update thread 0 alone makes where the parameters are
    few); here once.  The shares of step s + 2 overwrite those of step s only after every
    thread has raised its counter past s + 1, that is, has finished reading step s's.
    The step's hyperparameters are each thread's own (lr from Run.lrs, Adam's t counted
    from Spec.t): nothing in Spec changes until the run's end."""
    cdef Spec *sp = r.sp
    cdef Bufs *B = r.B
    cdef int L = sp.L, l, t, j, c0, c1, par, m = <int>sp.m
    cdef int *n = B.n
    cdef void **own[TP_ARRAYS]
    cdef void **eng[TP_ARRAYS]
    cdef double **W
    cdef double **b
    cdef double **VW
    cdef double **Vb
    cdef double **SW
    cdef double **Sb
    cdef double **GW
    cdef double **Gb
    cdef const double *X = <const double *>B.X
    cdef const double *Y = <const double *>B.Y
    cdef const double *w = <const double *>B.w
    cdef Hyper h = sp.h
    cdef long long t0 = sp.t, step
    cdef Py_ssize_t i, size, off
    cdef double N, cost, part
    cdef double *sh
    _tp_tables(B, L, tid, own)
    if tid > 0:
        # this thread's copies: of the engine's arrays as the run starts (thread 0 updates
        # them only after this thread's first counter); the gradients are written, not read
        _tp_tables(B, L, 0, eng)
        for j in range(TP_ARRAYS - 2):
            for l in range(1, L + 1):
                if own[j][l] != NULL:
                    memcpy(own[j][l], eng[j][l], _tp_size(B, j, l) * sizeof(double))
    W = <double **>own[0]
    b = <double **>own[1]
    VW = <double **>own[2]
    Vb = <double **>own[3]
    SW = <double **>own[4]
    Sb = <double **>own[5]
    GW = <double **>own[6]
    Gb = <double **>own[7]
    N = _normaliser(w, m)
    _span(m, tid, nt, THIN_SPLIT, &c0, &c1)
    for i in range(r.count):
        step = i + 1
        par = <int>(step & 1)
        h.lr = r.lrs[i]
        _adam_corrections(&h, sp.optimizer, t0 + step)
        sh = <double *>(B.tp_share + (par * nt + tid) * B.tp_stride)
        part = _thin_share(sp, B, W, b, X, m, Y, m, w, m, c0, c1, tid, NULL, NULL, sh, N,
                           r.want[i])
        if r.want[i]:
            # (only then: the threads' slots share a cache line, read only then)
            B.l2part[2 * tid + par] = part
        cost = 0
        if tid == 0 and r.want[i] and sp.lambd != 0:
            cost = _l2_term(sp, B, W)
        fd_raise(<fd_counter *>(B.tp_cnt + 64 * tid), <int>step)
        for t in range(nt):
            if t != tid:
                fd_wait_for(<fd_counter *>(B.tp_cnt + 64 * t), <int>step, TP_SPIN)
        if tid < 2 and B.tp_lag[tid]:
            fd_lag(B.tp_lag[tid])
        # every share of this step is complete: the sums, then this thread's update
        off = 0
        for l in range(1, L + 1):
            size = <Py_ssize_t>n[l] * n[l - 1]
            _tp_sum(B, par, nt, off, size, GW[l])
            _tp_sum(B, par, nt, off + size, n[l], Gb[l])
            off += size + n[l]
            if not sp.no_update:
                opt_update(sp.optimizer, &h, W[l], GW[l], VW[l], SW[l],
                           <Py_ssize_t>n[l] * n[l - 1], sp.lambd / N)
                opt_update(sp.optimizer, &h, b[l], Gb[l], Vb[l], Sb[l], n[l], 0.0)
        if tid == 0 and r.want[i]:
            for t in range(nt):
                cost += B.l2part[2 * t + par]
            r.costs[i] = cost / N
    if tid == 0 and r.count > 0:
        sp.h.lr = h.lr
        sp.h.c1 = h.c1
        sp.h.c2 = h.c2
        if not sp.no_update:
            sp.t = t0 + r.count


# The course shuffle's permutations on a second thread (Spec.perm_helper: one worker, a
# thread to spare): thread 1 draws epoch i's permutation into slot i % K of the ring
# B.perm2 (K = B.perm_slots) and raises `ready` to i + 1, once thread 0 has copied out
# epoch i - K's (`done`), which was in that slot; thread 0 waits for `ready` > i, copies the
# slot into B.perm (one sequential read of the other core's lines instead of the steps'
# scattered ones), raises `done` to i + 1 and trains epoch i.  A waiting thread spins a
# little, then sleeps in the kernel (fd_wait_for); thread 1 waits on a full ring until half
# of it is free, so that it sleeps most of the run and is woken once every K / 2 epochs.
# The permutations are the ones thread 0 would draw (the same lanes of generators, in the
# same order), so the run is the lone thread's, bit for bit; what it saves is the drawing,
# a latency-bound loop of about 15 us per 1,797 examples (bench/permutation_time.py),
# against a digits epoch of about 0.3 ms.
cdef struct Helped:
    Run *r
    fd_counter ready        # permutations drawn (thread 1 raises, thread 0 waits)
    fd_counter done         # permutations copied out (thread 0 raises, thread 1 waits)


cdef void _take_permutation(Helped *hp, Run *r, Py_ssize_t i) noexcept nogil:
    """Thread 0, before epoch i of a helped run: the helper's permutation of it copied into
    B.perm (one sequential read of the other core's lines instead of the steps' scattered
    ones), its slot handed back."""
    cdef Bufs *B = r.B
    fd_wait_for(&hp.ready, <int>(i + 1), 2000)
    memcpy(B.perm, B.perm2 + (i % B.perm_slots) * r.sp.m, <size_t>r.sp.m * sizeof(int64_t))
    fd_raise(&hp.done, <int>(i + 1))


cdef void _epochs_helped(void *arg, int tid, int nt) noexcept nogil:
    """The run's epochs (_epochs) by thread 0 alone, their permutations drawn by thread 1
    (see above); without a second thread, thread 0 draws them as usual."""
    cdef Helped *hp = <Helped *>arg
    cdef Run *r = hp.r
    cdef Spec *sp = r.sp
    cdef Bufs *B = r.B
    cdef int K = B.perm_slots
    cdef Py_ssize_t i
    cdef MT19937 mt
    if tid == 0:
        if nt >= 2:
            r.helped = hp
            sp.perm_given = True
        _epochs(r, 0, 1)
        r.helped = NULL
        sp.perm_given = False
    elif tid == 1:
        for i in range(r.count):
            # slot i % K is free once epoch i - K's permutation is copied out; on a full
            # ring, wait until half of it is free (a wake every K / 2 epochs at most)
            if fd_counter_value(&hp.done) < i - K + 1:
                fd_wait_for(&hp.done, <int>(i - K + 1 + K // 2), 100)
            lanes_permutation(&B.lanes, &mt, <uint32_t>(sp.seed + 1 + r.first + i),
                              B.perm2 + (i % K) * sp.m, sp.m)
            fd_raise(&hp.ready, <int>(i + 1))
        # asleep until the last epoch starts, rather than spinning at the team's closing
        # barrier (OpenMP's wait there spins a while) through the run's last K epochs
        fd_wait_for(&hp.done, <int>r.count, 100)


# ---------------------------------------------------------------- Python side

#: whether this build runs teams of threads (compiled with OpenMP)
HAVE_TEAMS = bool(fd_have_openmp())

# GNU OpenMP's threads do not survive fork(): a child of a process that ran a team would
# wait for them forever in its own first team, so a forked child runs alone.
_team_used = False
_forked_child = False


def _after_fork_in_child():
    global _forked_child
    if _team_used:
        _forked_child = True


os.register_at_fork(after_in_child=_after_fork_in_child)

# The enums' values by name: fastdnn.training.registry builds its tables on these.
from fastdnn._core.activations cimport ACT_IDENTITY, ACT_TANH, ACT_SIGMOID
from fastdnn._core.losses cimport (OUT_SIGMOID, OUT_SOFTMAX, OUT_IDENTITY, OUT_EXP,
                                   LOSS_COURSE, LOSS_SKLEARN)
from fastdnn._core.optimizers cimport OPT_GD, OPT_MOMENTUM, OPT_SGD

ACTIVATION_CODES = {"identity": ACT_IDENTITY, "relu": ACT_RELU, "tanh": ACT_TANH,
                    "sigmoid": ACT_SIGMOID}
OUTPUT_CODES = {"sigmoid": OUT_SIGMOID, "softmax": OUT_SOFTMAX, "identity": OUT_IDENTITY,
                "exp": OUT_EXP}
OPTIMIZER_CODES = {"gd": OPT_GD, "momentum": OPT_MOMENTUM, "adam": OPT_ADAM, "sgd": OPT_SGD,
                   "adam_sklearn": OPT_ADAM_SKLEARN}
#: the optimisers whose update is linear in (p, v, g): the ones the gram solver runs
LINEAR_OPTIMIZERS = tuple(k for k, v in OPTIMIZER_CODES.items() if opt_is_linear(v))
SHUFFLE_CODES = {"none": SHUF_NONE, "course": SHUF_COURSE, "external": SHUF_EXTERNAL}
LOSS_CONVENTION_CODES = {"course": LOSS_COURSE, "sklearn": LOSS_SKLEARN}


# the gram representation's parts that a step changes
_GRAM_MOVING = ("KW", "KV", "cW", "cV")


# the arrays of a one-exchange team's thread (_epochs_tp), in Bufs.tp_tab's order
_TP_NAMES = ("W", "b", "VW", "Vb", "SW", "Sb", "GW", "Gb")


def _lag_pair(value):
    """A test hook's (thread 0's, thread 1's) pause in microseconds, each in [0, 100000]."""
    a, b = value
    if not (0 <= a <= 100000 and 0 <= b <= 100000):
        raise ValueError(f"lags must be in [0, 100000] microseconds, got {value}")
    return a, b


cdef void *_ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef class Engine:
    """Pointers into buffers allocated once, and the compiled epochs over them.

    ``Engine(spec, dims, X, Y, w, Ws, bs, VWs, Vbs, SWs, Sbs, masks, bitgen)``:

    * spec: dict with keys m, mb, hidden, output, loss_conv, optimizer, shuffle, lambd,
      keep_prob, clip_eps, seed, dropout, fixed_masks, lr, beta, beta1, beta2, epsilon,
      momentum, nesterov, t (ints and floats; enum values from fastdnn.training.registry);
    * dims [n_0, ..., n_L]; X (n_0, m) C or F order; Y (n_L, m) C order; w (m,) or None;
    * Ws, bs: the parameters (updated in place), bs of shape (n_l, 1);
    * VWs, Vbs, SWs, Sbs: optimiser state arrays shaped like them (None where unused);
    * masks: fixed dropout masks [D_1, ..., D_{L-1}] (n_l, m) or None;
    * bitgen: a numpy.random.PCG64 (dropout masks) or None.

    Every array is kept referenced by the engine; the trainer owns them.
    """
    cdef Spec sp
    cdef Bufs B
    cdef list keep
    cdef list _ptrs
    cdef bint is_double
    cdef object bitgen_owner
    cdef object dtype
    cdef readonly object _perm
    cdef object _seen               # (m,) uint8 scratch: run_epoch's permutation check
    cdef bint _order_set            # B.perm holds a permutation (the external shuffle's)
    cdef readonly list grads        # [G_W1, G_b1, ..., G_WL, G_bL]: the last step's gradients
    #                                 (G_W1 not kept where layer 1 goes chunk by chunk)
    cdef readonly dict gram         # the gram solver's arrays (None for the primal solver)
    cdef int _chunk_threads         # threads layer 1's chunk scratch is allocated for
    cdef bint _lazy_x               # layer 1 gathers the batch chunk by chunk (Bufs.xc)
    cdef object _l2part             # Bufs.l2part's array
    cdef int _gpart_threads         # threads Bufs.gpart is allocated for
    cdef int _thin_threads          # threads Bufs.thin_act, thin_acc are allocated for
    cdef object _tp_key             # what _epochs_tp's buffers were made for (_tp_for)
    cdef object _tp_arrays          # and those buffers
    cdef public long long thin_team_runs    # runs made by _epochs_tp's team (for the tests)
    #: runs whose permutations a second thread drew (permutation_helper; a test's way to see
    #: that it ran)
    cdef public long long helped_runs
    #: runs a unit-split team ran (unit_split; a test's way to see that it ran)
    cdef public long long unit_split_runs
    cdef USplit _us                 # Bufs.us's target once allocated
    cdef object _us_arrays          # its arrays

    def __cinit__(self):
        self.B.n = NULL

    def __init__(self, dict spec, dims, X, Y, w, list Ws, list bs, list VWs, list Vbs,
                 list SWs, list Sbs, masks, bitgen):
        cdef int L = len(dims) - 1, l
        cdef int64_t m = spec["m"]
        if L < 1 or m < 1:
            raise ValueError(f"need at least one layer and one example, got dims={dims}, m={m}")
        for l in range(L + 1):
            if not 0 < dims[l] < 2**31:
                raise ValueError(f"dims[{l}] = {dims[l]} out of range")
        if not 1 <= spec["mb"] <= m or m >= 2**31:
            raise ValueError(f"batch size {spec['mb']} out of range for m = {m}")
        Xa = <cnp.ndarray?>X
        dtype = Xa.dtype
        if dtype != np.float64 and dtype != np.float32:
            raise TypeError(f"X must be float32 or float64, got {dtype}")
        self.is_double = dtype == np.float64
        self.dtype = dtype
        cdef int mb = spec["mb"]
        cdef Spec *sp = &self.sp
        sp.L = L
        sp.m = m
        sp.mb = mb
        sp.hidden = spec["hidden"]
        sp.output = spec["output"]
        sp.loss_conv = spec["loss_conv"]
        sp.optimizer = spec["optimizer"]
        sp.shuffle = spec["shuffle"]
        sp.lambd = spec["lambd"]
        sp.keep_prob = spec["keep_prob"]
        sp.clip_eps = spec["clip_eps"]
        sp.seed = spec["seed"]
        sp.fixed_masks = masks is not None
        sp.dropout = sp.fixed_masks or spec["keep_prob"] < 1.0
        sp.weighted = w is not None
        sp.no_update = spec.get("no_update", False)
        sp.gram = spec.get("gram", False)
        sp.ftz = os.environ.get("FASTDNN_FLUSH_DENORMALS", "1").strip() != "0"
        sp.workers = 1
        sp.dp = False
        sp.us = False
        if sp.gram and (sp.no_update or not opt_is_linear(sp.optimizer)):
            raise ValueError("the gram solver needs a linear optimiser (gd, momentum, sgd) "
                             "and updates")
        sp.t = spec["t"]
        sp.h.lr = spec["lr"]
        sp.h.beta = spec["beta"]
        sp.h.beta1 = spec["beta1"]
        sp.h.beta2 = spec["beta2"]
        sp.h.eps = spec["epsilon"]
        sp.h.momentum = spec["momentum"]
        sp.h.nesterov = spec["nesterov"]
        sp.h.c1 = 1
        sp.h.c2 = 1
        if sp.shuffle not in (SHUF_NONE, SHUF_COURSE, SHUF_EXTERNAL):
            raise ValueError(f"shuffle mode {sp.shuffle} unknown")
        if sp.fixed_masks and (mb != m or sp.shuffle != SHUF_NONE):
            raise ValueError("fixed dropout masks need the full batch in data order")
        if sp.dropout and not sp.fixed_masks and bitgen is None:
            raise ValueError("dropout needs a bit generator")

        keep = [X, Y, w, Ws, bs, VWs, Vbs, SWs, Sbs, masks]
        self.keep = keep
        cdef Bufs *B = &self.B
        self.B.n = <int *>PyMem_Malloc((L + 1) * sizeof(int))
        if B.n == NULL:
            raise MemoryError()
        for l in range(L + 1):
            B.n[l] = dims[l]
        self._ptrs = []
        self.grads = []
        B.W = self._table(L)
        B.b = self._table(L)
        B.VW = self._table(L)
        B.Vb = self._table(L)
        B.SW = self._table(L)
        B.Sb = self._table(L)
        B.GW = self._table(L)
        B.Gb = self._table(L)
        B.Z = self._table(L)
        B.A = self._table(L)
        B.Ad = self._table(L)
        B.D = self._table(L)
        B.dZ = self._table(L)

        Xa = _need(X, "X", (dims[0], m), dtype, True)
        B.X = _ptr(Xa)
        B.x_rm = cnp.PyArray_IS_C_CONTIGUOUS(Xa)
        # a thin net's steps run fastdnn/_core/thin.pxd's passes, which read X row-major: a
        # copy (at most THIN_MAX rows) where it is not.  FASTDNN_THIN=0: never (the layer by
        # layer path, to compare); =force: whatever the layers' weights (bench/bench_thin.py)
        thin_env = os.environ.get("FASTDNN_THIN", "1").strip()
        sp.thin = (self.is_double and sp.hidden == ACT_RELU and sp.output == OUT_SIGMOID
                   and not sp.gram and all(d <= THIN_MAX for d in dims) and thin_env != "0"
                   and (thin_env == "force"
                        or all(dims[l] * dims[l - 1] <= THIN_WEIGHTS for l in range(1, L + 1))))
        if sp.thin and not B.x_rm:
            Xa = np.ascontiguousarray(Xa)
            keep.append(Xa)
            B.X = _ptr(Xa)
            B.x_rm = True
        Ya = _need(Y, "Y", (dims[L], m), dtype)
        B.Y = _ptr(Ya)
        B.Yt = NULL
        B.ylab = NULL
        if sp.shuffle != SHUF_NONE and dims[L] > 1:
            if (not np.signbit(Ya).any() and ((Ya == 0) | (Ya == 1)).all()
                    and (Ya.sum(axis=0) == 1).all()):
                # one-hot (+0 and 1 only): each batch's targets from the class indices
                ylab = np.ascontiguousarray(Ya.argmax(axis=0), dtype=np.int32)
                keep.append(ylab)
                B.ylab = <const int32_t *>_ptr(ylab)
            else:
                Yt = np.ascontiguousarray(Ya.T)
                keep.append(Yt)
                B.Yt = _ptr(Yt)
        B.w = NULL if w is None else _ptr(_need(w, "w", (m,), dtype))
        has_v = opt_has_v(sp.optimizer)
        has_s = opt_has_s(sp.optimizer)

        for l in range(1, L + 1):
            shape_w = (dims[l], dims[l - 1])
            shape_b = (dims[l], 1)
            B.W[l] = _ptr(_need(Ws[l - 1], f"W{l}", shape_w, dtype, False, True))
            B.b[l] = _ptr(_need(bs[l - 1], f"b{l}", shape_b, dtype, False, True))
            if has_v:
                B.VW[l] = _ptr(_need(VWs[l - 1], f"V_W{l}", shape_w, dtype, False, True))
                B.Vb[l] = _ptr(_need(Vbs[l - 1], f"V_b{l}", shape_b, dtype, False, True))
            if has_s:
                B.SW[l] = _ptr(_need(SWs[l - 1], f"S_W{l}", shape_w, dtype, False, True))
                B.Sb[l] = _ptr(_need(Sbs[l - 1], f"S_b{l}", shape_b, dtype, False, True))
            gw = self._scratch(shape_w)
            gb = self._scratch((dims[l], 1))
            self.grads += [gw, gb]
            B.GW[l] = _ptr(gw)
            B.Gb[l] = _ptr(gb)
            B.Z[l] = _ptr(self._scratch((dims[l], mb)))
            B.A[l] = _ptr(self._scratch((dims[l], mb)))
            B.dZ[l] = _ptr(self._scratch((dims[l], mb)))
            if l < L and sp.dropout:
                B.Ad[l] = _ptr(self._scratch((dims[l], mb)))
                if sp.fixed_masks:
                    B.D[l] = _ptr(_need(masks[l - 1], f"D{l}", (dims[l], m), dtype))
                else:
                    B.D[l] = _ptr(self._scratch((dims[l], mb)))
            else:
                B.Ad[l] = B.A[l]
        B.Yb = _ptr(self._scratch((dims[L] * mb,)))
        B.wb = _ptr(self._scratch((mb,)))
        perm = np.zeros(m, dtype=np.int64)
        keep.append(perm)
        B.perm = <int64_t *>_ptr(perm)
        B.perm2 = NULL
        B.perm_slots = 0
        sp.perm_helper = False
        sp.perm_given = False
        self._perm = perm
        lanes = np.zeros(624 * MT_LANES, dtype=np.uint32)
        keep.append(lanes)
        B.lanes.key = <uint32_t *>_ptr(lanes)
        B.lanes.base = 0
        B.lanes.valid = False
        cm = np.zeros(mb, dtype=np.float64)
        cs = np.zeros(mb, dtype=np.float64)
        keep += [cm, cs]
        B.colmax = <double *>_ptr(cm)
        B.colsum = <double *>_ptr(cs)
        B.bitgen = NULL
        self.bitgen_owner = bitgen
        if bitgen is not None:
            B.bitgen = <bitgen_t *>PyCapsule_GetPointer(bitgen.capsule, "BitGenerator")
        B.G = B.P0 = B.Q0 = B.KW = B.KV = B.cW = B.cV = B.S = B.GB = B.GK = B.zero2 = NULL
        B.chunk = B.xc = NULL
        B.chunk_size = B.xc_size = 0
        B.thin_act = B.thin_acc = NULL
        B.tr = NULL
        B.us = NULL
        self._us_arrays = None
        self.unit_split_runs = 0
        B.epi = (fd_gemm_avx512() != 0
                 and os.environ.get("FASTDNN_GEMM", "1").strip() != "0")
        B.epi_runs = 0
        if ((not self.is_double or B.epi)
                and os.environ.get("FASTDNN_TRANSPOSE", "1").strip() != "0"):
            # a copy holds work / rows values of a product taken there: at most
            # TRANSPOSE_WORK / 5 (_transposed: more than 4 rows) or GEMM_EPI_WORK / 8 (_epi:
            # at least 8 rows), so a full batch of a large data set allocates no more
            B.tr = _ptr(self._scratch((min(max(dims[:L]) * mb,
                                           max(TRANSPOSE_WORK // 5, GEMM_EPI_WORK // 8)),)))
        B.thin_act_size = B.thin_acc_size = 0
        self._thin_threads = 0
        self._tp_key = None
        self.thin_team_runs = 0
        B.tp_share = B.tp_cnt = NULL
        B.tp_tab = NULL
        B.tp_lag[0] = B.tp_lag[1] = 0
        self.helped_runs = 0
        if sp.thin:
            # fd_thin_step_d's scratches, in vectors of 8 doubles (64 bytes): the block's
            # input of every layer, the gradients' lanes
            B.thin_act_size = 64 * THIN_V * sum(dims[:L])
            B.thin_acc_size = 64 * sum(dims[l] * (dims[l - 1] + 1) for l in range(1, L + 1))
            self._thin_for(1)
        B.gpart = NULL
        B.gpart_size = 0
        for l in range(1, L + 1):
            B.gpart_size += <Py_ssize_t>dims[l] * dims[l - 1] + dims[l]
        self._gpart_threads = 1
        B.chunk_cols = 0
        self._chunk_threads = 0
        if (not sp.gram and not sp.no_update
                and <long long>dims[1] * dims[0] >= FUSE_ELEMS):
            B.chunk_by_rows = <long long>mb * dims[0] * Xa.itemsize <= CHUNK_INPUT_BYTES
            # columns per chunk: CHUNK_ELEMS gradient values, at least CHUNK_MIN_COLS, and a
            # gathered chunk of the batch (chunk_cols x mb) of at most CHUNK_GATHER_ELEMS
            B.chunk_cols = min(dims[0], max(CHUNK_MIN_COLS, CHUNK_ELEMS // dims[1] // 16 * 16),
                               max(16, CHUNK_GATHER_ELEMS // mb // 16 * 16))
            # a chunk of whole rows holds at least 16 rows; one of columns, chunk_cols of
            # them in every row
            B.chunk_size = max(CHUNK_ELEMS, 16 * dims[0], B.chunk_cols * dims[1])
            B.xc_size = <Py_ssize_t>B.chunk_cols * mb
            # FASTDNN_LAZY_GATHER=0 gathers the whole batch first (to compare)
            self._lazy_x = (not B.chunk_by_rows and not B.x_rm and sp.shuffle != SHUF_NONE
                            and <long long>mb * dims[0] * Xa.itemsize > LAZY_INPUT_BYTES
                            and os.environ.get("FASTDNN_LAZY_GATHER", "1").strip() != "0")
            self._chunks_for(1)
        # the whole batch's buffer, unless layer 1 gathers it chunk by chunk
        B.Xb = _ptr(self._scratch((1 if self._lazy_x else dims[0] * mb,)))
        self.gram = None
        if sp.gram:
            self._gram_setup(Xa, Ws[0], VWs[0] if has_v else None)

    # ------------------------------------------------------------ gram solver
    cdef _gram_setup(self, X, W1, V1):
        from fastdnn._engine import gemm_into

        cdef int64_t m = self.sp.m
        cdef int n1 = self.B.n[1]
        cdef Bufs *B = &self.B
        g = dict(X=X, W1=W1, V1=V1, zero2=np.zeros((1, 2), self.dtype))
        g["G"] = np.empty((m, m), self.dtype)
        gemm_into(X, True, X, False, g["G"])
        for k in ("P0", "Q0", "KW", "KV", "S", "GK"):
            g[k] = np.zeros((n1, m), self.dtype)
        g["GB"] = np.zeros((self.sp.mb, m), self.dtype)
        g["W0"] = np.zeros_like(W1)
        g["V0"] = np.zeros_like(W1)
        g["cW"] = np.zeros((1, 2), self.dtype)         # (a, b) and (c, d), as one row each
        g["cV"] = np.zeros((1, 2), self.dtype)
        self.gram = g
        B.G = _ptr(g["G"])
        B.P0 = _ptr(g["P0"])
        B.KW = _ptr(g["KW"])
        B.KV = _ptr(g["KV"]) if V1 is not None else NULL
        B.S = _ptr(g["S"])
        B.GB = _ptr(g["GB"])
        B.GK = _ptr(g["GK"])
        B.cW = _ptr(g["cW"])
        B.cV = _ptr(g["cV"])
        B.zero2 = _ptr(g["zero2"])
        self.gram_rebase()

    def gram_rebase(self, W0=None, V0=None, KW=None, KV=None, cW=None, cV=None):
        """Base the representation on W_0 = W1, V_0 = its velocity (the arrays as they are
        now), K = 0, coefficients (1, 0), (0, 1); or on the given parts (an exact resume:
        ``gram_parts()``)."""
        from fastdnn._engine import gemm_into

        g = self.gram
        np.copyto(g["W0"], g["W1"] if W0 is None else W0)
        if g["V1"] is not None:
            np.copyto(g["V0"], g["V1"] if V0 is None else V0)
        else:
            g["V0"][...] = 0
        gemm_into(g["W0"], False, g["X"], False, g["P0"])
        has_q = bool(np.any(g["V0"]))
        if has_q:
            gemm_into(g["V0"], False, g["X"], False, g["Q0"])
        self.B.Q0 = _ptr(g["Q0"]) if has_q else NULL
        if KW is None:
            g["KW"][...] = 0
            g["KV"][...] = 0
            g["cW"][...] = (1, 0)
            g["cV"][...] = (0, 1)
        else:
            self.gram_set((KW, KV, cW, cV))
        W0, V0 = g["W0"].astype(np.float64), g["V0"].astype(np.float64)
        self.B.gn[0] = float(np.vdot(W0, W0))
        self.B.gn[1] = float(np.vdot(W0, V0))
        self.B.gn[2] = float(np.vdot(V0, V0))

    def gram_sync(self):
        """Form W1 (and its velocity) from the representation, into the trainer's arrays."""
        from fastdnn._engine import gemm_into

        g = self.gram
        for out, c, K in ((g["W1"], g["cW"], g["KW"]), (g["V1"], g["cV"], g["KV"])):
            if out is None:
                continue
            np.multiply(g["W0"], c[0, 0], out=out)
            if self.B.Q0 != NULL:
                out += c[0, 1] * g["V0"]
            gemm_into(K, False, g["X"], True, out, 1.0, 1.0)

    def gram_get(self):
        """Copies of the moving parts (K_W, K_V, (a, b), (c, d))."""
        return tuple(self.gram[k].copy() for k in _GRAM_MOVING)

    def gram_set(self, parts):
        for k, a in zip(_GRAM_MOVING, parts):
            np.copyto(self.gram[k], a)

    def gram_parts(self):
        """Everything an exact resume needs besides X: W_0, V_0, K_W, K_V, (a, b), (c, d)
        (the keyword arguments of ``gram_rebase``)."""
        return dict(W0=self.gram["W0"].copy(), V0=self.gram["V0"].copy(),
                    **dict(zip(_GRAM_MOVING, self.gram_get())))

    def gram_finite(self):
        with np.errstate(all="ignore"):
            return all(np.isfinite(self.gram[k].sum()) or np.isfinite(self.gram[k]).all()
                       for k in _GRAM_MOVING)

    cdef object _scratch(self, shape):
        """A zeroed scratch array of the engine's dtype at a 64-byte-aligned address: a
        team's threads write their columns of a row side by side, and a column block that
        starts on a line of its own shares no line with another thread's (a line written
        by two cores every step moves between them every step)."""
        size = int(np.prod(shape))
        a = self._aligned_bytes(max(1, size) * self.dtype.itemsize).view(self.dtype)
        a = a[:size].reshape(shape)
        self.keep.append(a)
        return a

    cdef void **_table(self, int L) except NULL:
        t = np.zeros(L + 1, dtype=np.uintp)
        self._ptrs.append(t)
        return <void **>cnp.PyArray_DATA(t)

    cdef _thin_for(self, int threads):
        """fd_thin_step_d's scratches for a team of ``threads``: each thread's on pages of
        its own.  Packed one after the other, two threads' scratches met inside a pair of
        cache lines (the processor fetches lines in pairs), and a team of two was measured
        (bench/bench_thin.py --team's measure) to take about as long as one thread."""
        cdef char *p
        cdef Py_ssize_t stride
        if self.sp.thin and threads > self._thin_threads:
            stride = (self.B.thin_act_size + self.B.thin_acc_size + 4095) // 4096 * 4096
            a = np.zeros(threads * stride + 4096, dtype=np.uint8)
            self.keep.append(a)
            p = <char *>_ptr(a)
            p += -<uintptr_t>p & 4095
            self.B.thin_act = p
            self.B.thin_acc = p + self.B.thin_act_size
            self.B.thin_stride = stride
            self._thin_threads = threads

    cdef bint _tp_wanted(self, Run *r, int nt):
        """Whether a team of nt runs r's epochs as _epochs_tp: a thin net (float64, X
        row-major) on a data-parallel team, the full batch in data order, masks given or
        none, and neither the plateau loop nor gradients alone."""
        return (nt > 1 and self.sp.dp and self.one_exchange and not r.plateau
                and r.shuffle_bg == NULL)

    @property
    def one_exchange(self):
        """Whether a data-parallel team runs this engine's epochs with one exchange a step
        (_epochs_tp): a thin net (float64, X row-major), the full batch in data order,
        dropout masks given or none, and updates (not gradients alone); the rule for its
        team is fastdnn.threads.thin_team_size's with one_exchange."""
        return bool(self.sp.thin and self.B.x_rm and self.sp.shuffle == SHUF_NONE
                    and self.sp.mb >= self.sp.m
                    and (not self.sp.dropout or self.sp.fixed_masks)
                    and not self.sp.no_update)

    cdef _tp_for(self, int threads):
        """_epochs_tp's buffers for a team of ``threads``: the shares by step parity, the
        counters (zeroed: each run counts its steps from 1), and for each thread t >= 1 a
        copy of every parameter, optimiser-state and gradient array, on an address of the
        same alignment (mod 64 bytes) as the engine's array.  Made again where the thread
        count or an engine array's address changed."""
        cdef Bufs *B = &self.B
        cdef int L = self.sp.L, l, t, j
        cdef void **tables[TP_ARRAYS]
        cdef void *src
        cdef Py_ssize_t size, stride
        _tp_tables(B, L, 0, tables)
        key = (threads,) + tuple(<uintptr_t>tables[j][l] for j in range(TP_ARRAYS)
                                 for l in range(1, L + 1))
        if key != self._tp_key:
            stride = (B.gpart_size * sizeof(double) + 63) // 64 * 64
            arrays = {"share": self._aligned_bytes(2 * threads * stride),
                      "cnt": self._aligned_bytes(64 * threads),
                      "tab": np.zeros((threads - 1) * TP_ARRAYS * (L + 1) + 1, dtype=np.uintp)}
            tab = arrays["tab"]
            for t in range(1, threads):
                # one block of whole 64-byte lines per thread, each array on lines of its
                # own: no line of a thread's copies holds anything another thread writes
                sizes = {(j, l): _tp_size(B, j, l) for j in range(TP_ARRAYS)
                         for l in range(1, L + 1) if tables[j][l] != NULL}
                block = self._aligned_bytes(sum((v + 15) // 8 * 64 for v in sizes.values()))
                arrays[t] = block
                for (j, l), size in sizes.items():
                    src = tables[j][l]
                    off = (<uintptr_t>src % 64) // 8
                    copy = block[:(size + 15) // 8 * 64].view(np.float64)[off:off + size]
                    block = block[(size + 15) // 8 * 64:]
                    arrays[(t, j, l)] = copy
                    tab[((t - 1) * TP_ARRAYS + j) * (L + 1) + l] = <uintptr_t>_ptr(copy)
            self._tp_arrays = arrays
            B.tp_share = <char *>_ptr(arrays["share"])
            B.tp_stride = stride
            B.tp_cnt = <char *>_ptr(arrays["cnt"])
            B.tp_tab = <void **>_ptr(tab)
            self._tp_key = key
        memset(B.tp_cnt, 0, 64 * threads)

    cdef object _aligned_bytes(self, Py_ssize_t size):
        """A zeroed uint8 array of ``size`` bytes at a 64-byte-aligned address."""
        raw = np.zeros(size + 64, dtype=np.uint8)
        off = -<uintptr_t>_ptr(raw) % 64
        return raw[off:off + size]

    def __dealloc__(self):
        PyMem_Free(self.B.n)

    # ------------------------------------------------------------------ running
    @property
    def t(self):
        return self.sp.t

    @t.setter
    def t(self, long long value):
        self.sp.t = value

    @property
    def learning_rate(self):
        return self.sp.h.lr

    @learning_rate.setter
    def learning_rate(self, double value):
        self.sp.h.lr = value

    def run(self, long long first_epoch, const double[::1] lrs, const unsigned char[::1] want,
            double[::1] costs):
        """Epochs first_epoch .. first_epoch + len(lrs) - 1, epoch i at rate lrs[i]; costs[i]
        = the epoch's cost where want[i] (else untouched).  Course or no shuffling only."""
        cdef Py_ssize_t count = lrs.shape[0]
        if want.shape[0] != count or costs.shape[0] != count:
            raise ValueError("lrs, want and costs must have one entry per epoch")
        if self.sp.shuffle == SHUF_EXTERNAL:
            raise ValueError("the external shuffle runs one epoch at a time (run_epoch)")
        cdef Run r
        self._prepare(&r, first_epoch, count, &lrs[0] if count else NULL,
                      &want[0] if count else NULL, &costs[0] if count else NULL)
        self._run(&r)

    cdef void _prepare(self, Run *r, long long first, Py_ssize_t count, const double *lrs,
                       const unsigned char *want, double *costs):
        """r: epochs first .. first + count - 1 of this engine, neither shuffled by the
        engine nor stopped early."""
        r.sp = &self.sp
        r.B = &self.B
        r.is_double = self.is_double
        r.first = first
        r.count = count
        r.lrs = lrs
        r.want = want
        r.costs = costs
        r.shuffle_bg = NULL
        r.plateau = False
        r.done = 0
        r.stop = False
        r.helped = NULL
        r.tp = False

    def run_epoch(self, long long epoch, perm, bint want_cost):
        """One epoch at the current rate; perm: (m,) int array for the external shuffle
        (ValueError unless it is a permutation of 0..m-1; the engine's copy is then left
        as it was)."""
        cdef double c
        if self.sp.shuffle == SHUF_EXTERNAL:
            self._set_order(perm)
        cdef double lr = self.sp.h.lr
        cdef unsigned char w = want_cost
        cdef Run r
        self._prepare(&r, epoch, 1, &lr, &w, &c)
        self._run(&r)
        return c if want_cost else None

    cdef _set_order(self, perm):
        """The external shuffle's order := perm (ValueError unless it is a permutation of
        0..m-1; the engine's copy is then left as it was)."""
        cdef cnp.ndarray pa
        cdef const int64_t *src
        cdef bint ok
        cdef unsigned char *seen
        cdef int64_t m = self.sp.m
        pa = np.ascontiguousarray(perm, dtype=np.int64)
        if pa.ndim != 1 or pa.shape[0] != m:
            raise ValueError(f"perm must hold {m} indices, got shape {np.shape(perm)}")
        if self._seen is None:
            self._seen = np.empty(m, dtype=np.uint8)
        seen = <unsigned char *>_ptr(self._seen)
        src = <const int64_t *>cnp.PyArray_DATA(pa)
        with nogil:
            ok = _is_permutation(src, m, seen)
            if ok:
                memcpy(self.B.perm, src, <size_t>m * sizeof(int64_t))
        if not ok:
            raise ValueError("perm must be a permutation of 0..m-1")
        self._order_set = True

    def run_plateau(self, long long first_epoch, const double[::1] lrs, double[::1] costs,
                    perm, bit_generator, double tol, double patience, double best,
                    double bad):
        """scikit-learn's stochastic epochs (``_fit_stochastic`` without a validation set)
        in one call: epoch i at rate lrs[i], its cost into costs[i]; then its
        ``_update_no_improvement_count``: ``bad`` (the epochs without an improvement of
        ``tol`` on ``best``) counted up or reset, ``best`` lowered; the run stops after the
        first epoch with ``bad > patience``.  Returns (epochs run, best, bad).

        With the external shuffle, the order before the run (perm, as for run_epoch; None:
        the one the engine holds, its last epoch's) is shuffled before every epoch by
        ``RandomState.shuffle``'s draws from bit_generator (a numpy BitGenerator, its lock
        held meanwhile), as ``sklearn.utils.shuffle`` draws each epoch's order from the
        previous one; the engine keeps the last order.  Without it (data order), perm and
        bit_generator are None."""
        cdef Py_ssize_t count = lrs.shape[0]
        if costs.shape[0] != count:
            raise ValueError("lrs and costs must have one entry per epoch")
        if patience != patience or tol != tol:
            raise ValueError(f"tol and patience must be numbers, got {tol} and {patience}")
        if (self.sp.shuffle == SHUF_EXTERNAL) != (bit_generator is not None):
            raise ValueError("bit_generator is for the external shuffle, which needs one")
        if self.sp.shuffle == SHUF_COURSE:
            raise ValueError("the course's shuffle is not scikit-learn's")
        if self.sp.shuffle == SHUF_EXTERNAL:
            if perm is not None:
                self._set_order(perm)
            elif not self._order_set:
                raise ValueError("perm is needed: the engine holds no order yet")
        elif perm is not None:
            raise ValueError("perm is only for the external shuffle")
        cdef Run r
        self._prepare(&r, first_epoch, count, &lrs[0] if count else NULL,
                      NULL, &costs[0] if count else NULL)
        want = np.ones(max(count, 1), dtype=np.uint8)
        cdef const unsigned char[::1] wv = want
        r.want = &wv[0]
        r.plateau = True
        r.tol = tol
        r.patience = patience
        r.best = best
        r.bad = bad
        if bit_generator is None:
            self._run(&r)
        else:
            with bit_generator.lock:
                r.shuffle_bg = <bitgen_t *>PyCapsule_GetPointer(bit_generator.capsule,
                                                                "BitGenerator")
                self._run(&r)
        return r.done, r.best, r.bad

    @property
    def order(self):
        """A copy of the external shuffle's current order (the last epoch's)."""
        return self._perm.copy()

    cdef _chunks_for(self, int threads):
        """Layer 1's chunk scratch for a team of ``threads``."""
        if self.B.chunk_size and threads > self._chunk_threads:
            buf = np.zeros(threads * self.B.chunk_size, dtype=self.dtype)
            self.keep.append(buf)
            self.B.chunk = _ptr(buf)
            if self._lazy_x:
                xc = np.zeros(threads * self.B.xc_size, dtype=self.dtype)
                self.keep.append(xc)
                self.B.xc = _ptr(xc)
            self._chunk_threads = threads

    cdef _run(self, Run *r):
        global _team_used
        cdef int nt = self.sp.workers
        if nt > 1 and _forked_child:
            nt = 1
        self._chunks_for(nt)
        self._thin_for(nt)
        if nt > 1 and self.sp.dp and nt > self._gpart_threads:
            gpart = np.zeros((nt - 1) * self.B.gpart_size, dtype=self.dtype)
            self.keep.append(gpart)
            self.B.gpart = _ptr(gpart)
            self._gpart_threads = nt
        if self._l2part is None or self._l2part.shape[0] < max(2 * nt, 4):
            # (a unit-split team and _epochs_tp: two per thread, by the step's parity)
            self._l2part = np.zeros(max(2 * nt, 4))
            self.B.l2part = <double *>_ptr(self._l2part)
        cdef Helped hp
        if (nt == 1 and self.sp.perm_helper and not _forked_child and HAVE_TEAMS
                and self.sp.shuffle == SHUF_COURSE and self.sp.mb < self.sp.m
                and r.shuffle_bg == NULL and not r.plateau and r.count > 1
                and r.count < 0x40000000):
            if self.B.perm2 == NULL:
                # a ring of 2 to 16 permutations, at most 1 MB where 2 fit
                self.B.perm_slots = <int>max(2, min(16, (1 << 20) // (8 * self.sp.m)))
                perm2 = np.zeros(self.B.perm_slots * self.sp.m, dtype=np.int64)
                self.keep.append(perm2)
                self.B.perm2 = <int64_t *>_ptr(perm2)
            hp.r = r
            hp.ready.value = hp.ready.sleeping = hp.ready.wanted = 0
            hp.done.value = hp.done.sleeping = hp.done.wanted = 0
            _team_used = True
            self.helped_runs += 1
            with nogil:
                fd_team(2, _epochs_helped, &hp)
            return
        cdef bint us = nt == 2 and self.sp.us
        r.us_ran = False
        r.tp = self._tp_wanted(r, nt)
        if r.tp:
            self._tp_for(nt)
            self.thin_team_runs += 1
        if us:
            self._unit_split_ready()
        if nt > 1:
            _team_used = True
        try:
            with nogil:
                fd_team(nt, _epochs, r)
        finally:
            # (a team of one, where OpenMP gave no second thread, trained the engine's
            # arrays themselves: the copies are stale then)
            if r.us_ran:
                self._unit_split_back()
                self.unit_split_runs += 1

    cdef void *_us_new(self, str name, Py_ssize_t size, bint f64=False) except NULL:
        """A zeroed array of the unit-split team's (self._us_arrays[name]), 64-byte aligned
        and a whole number of 64-byte lines long."""
        dt = np.dtype(np.float64 if f64 else self.dtype)
        per = 64 // dt.itemsize
        n = (max(1, size) + per - 1) // per * per
        raw = np.zeros(n + per, dtype=dt)
        off = (-raw.ctypes.data % 64) // dt.itemsize
        a = raw[off:off + n]
        self._us_arrays[name] = a
        return _ptr(a)

    cdef void **_us_table(self, str name, int L) except NULL:
        """A table of L + 1 pointers (a side's tail, by layer), NULL to start with."""
        a = np.zeros(L + 1, dtype=np.intp)
        self._us_arrays[name] = a
        return <void **><uintptr_t>a.ctypes.data

    cdef _unit_split_ready(self):
        """A unit-split team's buffers (allocated at its first run); each thread's copies of
        its units' parameters and state, and thread 1's of the tail's, set to the engine's
        (the arrays the caller passed); the counters reset."""
        cdef Bufs *B = &self.B
        cdef int L = self.sp.L, mb = self.sp.mb, n0 = B.n[0], n1 = B.n[1], n2 = B.n[2]
        cdef int nL = B.n[L]
        cdef int t, l, lo, hi, hh, widest = 1
        cdef USide *S
        cdef bint has_v = B.VW[1] != NULL, has_s = B.SW[1] != NULL
        for l in range(3, L + 1):
            widest = max(widest, B.n[l - 1])
        if self._us_arrays is None:
            self._us_arrays = {}
            for t in range(2):
                S = &self._us.side[t]
                _span(n1, t, 2, 16 if not self.is_double else 8, &lo, &hi)
                S.h0 = lo
                S.h1 = hi
                hh = hi - lo
                S.t = 0
                S.tr = self._us_new(f"tr{t}", n0 * mb)
                S.trA = self._us_new(f"trA{t}", hh * mb)
                S.trT = self._us_new(f"trT{t}", widest * mb)
                S.W1 = self._us_new(f"W1_{t}", hh * n0)
                S.b1 = self._us_new(f"b1_{t}", hh)
                S.GW1 = self._us_new(f"GW1_{t}", hh * n0)
                S.Gb1 = self._us_new(f"Gb1_{t}", hh)
                S.A1 = self._us_new(f"A1_{t}", hh * mb)
                S.dZ1 = self._us_new(f"dZ1_{t}", hh * mb)
                S.W2 = self._us_new(f"W2_{t}", n2 * hh)
                S.GW2 = self._us_new(f"GW2_{t}", n2 * hh)
                S.VW1 = S.Vb1 = S.VW2 = S.SW1 = S.Sb1 = S.SW2 = NULL
                if has_v:
                    S.VW1 = self._us_new(f"VW1_{t}", hh * n0)
                    S.Vb1 = self._us_new(f"Vb1_{t}", hh)
                    S.VW2 = self._us_new(f"VW2_{t}", n2 * hh)
                if has_s:
                    S.SW1 = self._us_new(f"SW1_{t}", hh * n0)
                    S.Sb1 = self._us_new(f"Sb1_{t}", hh)
                    S.SW2 = self._us_new(f"SW2_{t}", n2 * hh)
                if t == 0:
                    # thread 0's tail is the engine's own
                    S.Xb = B.Xb
                    S.Yb = B.Yb
                    S.wb = B.wb
                    S.Z = B.Z[L]
                    S.W, S.GW, S.VW, S.SW = B.W, B.GW, B.VW, B.SW
                    S.b, S.Gb, S.Vb, S.Sb = B.b, B.Gb, B.Vb, B.Sb
                    S.A, S.dZ = B.A, B.dZ
                    S.colmax = B.colmax
                    S.colsum = B.colsum
                else:
                    S.Xb = self._us_new("Xb_1", n0 * mb)
                    S.Yb = self._us_new("Yb_1", nL * mb)
                    S.wb = self._us_new("wb_1", mb)
                    S.Z = self._us_new("Z_1", nL * mb)
                    S.W, S.GW = self._us_table("W*", L), self._us_table("GW*", L)
                    S.VW, S.SW = self._us_table("VW*", L), self._us_table("SW*", L)
                    S.b, S.Gb = self._us_table("b*", L), self._us_table("Gb*", L)
                    S.Vb, S.Sb = self._us_table("Vb*", L), self._us_table("Sb*", L)
                    S.A, S.dZ = self._us_table("A*", L), self._us_table("dZ*", L)
                    for l in range(2, L + 1):
                        S.b[l] = self._us_new(f"b{l}_1", B.n[l])
                        S.Gb[l] = self._us_new(f"Gb{l}_1", B.n[l])
                        S.A[l] = self._us_new(f"A{l}_1", B.n[l] * mb)
                        S.dZ[l] = self._us_new(f"dZ{l}_1", B.n[l] * mb)
                        if has_v:
                            S.Vb[l] = self._us_new(f"Vb{l}_1", B.n[l])
                        if has_s:
                            S.Sb[l] = self._us_new(f"Sb{l}_1", B.n[l])
                        if l < 3:
                            continue
                        S.W[l] = self._us_new(f"W{l}_1", B.n[l] * B.n[l - 1])
                        S.GW[l] = self._us_new(f"GW{l}_1", B.n[l] * B.n[l - 1])
                        if has_v:
                            S.VW[l] = self._us_new(f"VW{l}_1", B.n[l] * B.n[l - 1])
                        if has_s:
                            S.SW[l] = self._us_new(f"SW{l}_1", B.n[l] * B.n[l - 1])
                    S.colmax = <double *>self._us_new("colmax_1", mb, True)
                    S.colsum = <double *>self._us_new("colsum_1", mb, True)
            self._us.P = self._us_new("P", 4 * n2 * mb)
            self._us.perm[0] = B.perm
            alt = np.zeros(max(1, self.sp.m), dtype=np.int64)
            lanes = np.zeros(624 * MT_LANES, dtype=np.uint32)
            self._us_arrays["perm_1"], self._us_arrays["lanes_1"] = alt, lanes
            self._us.perm[1] = <int64_t *>_ptr(alt)
            self._us.lanes1.key = <uint32_t *>_ptr(lanes)
            self._us.lanes1.base = 0
            self._us.lanes1.valid = False
            B.us = &self._us
            self._us_arrays["copies"] = self._us_copy_table()
        cdef int64_t[:, ::1] table = self._us_arrays["copies"]
        with nogil:
            _us_copy(&table[0, 0], table.shape[0], False)
        for t in range(2):
            self._us.side[t].t = self.sp.t
            self._us.side[t].epi = 0
        for t in range(2):
            self._us.shared[t].value = self._us.shared[t].sleeping = 0
            self._us.shared[t].wanted = 0
        self._us.drawn = -1

    def _us_pairs(self, int t):
        """(own buffer's name, engine's array, index of thread t's part, whether it is the
        thread's own) of every array a unit-split thread keeps its own copy of: W_1, b_1
        (rows of its units), W_2 (their columns), the optimiser's state of each (its own:
        written back after a run), and thread 1's copy of the tail (b_2..b_L, W_3..W_L and
        their state: thread 0's are the engine's arrays)."""
        cdef USide *S = &self._us.side[t]
        cdef int l, L = self.sp.L
        Ws, bs, VWs, Vbs, SWs, Sbs = self.keep[3:9]
        has_v, has_s = self.B.VW[1] != NULL, self.B.SW[1] != NULL
        rows = slice(S.h0, S.h1)
        cols = (slice(None), slice(S.h0, S.h1))
        out = [(f"W1_{t}", Ws[0], rows, True), (f"b1_{t}", bs[0], rows, True),
               (f"W2_{t}", Ws[1], cols, True)]
        if has_v:
            out += [(f"VW1_{t}", VWs[0], rows, True), (f"Vb1_{t}", Vbs[0], rows, True),
                    (f"VW2_{t}", VWs[1], cols, True)]
        if has_s:
            out += [(f"SW1_{t}", SWs[0], rows, True), (f"Sb1_{t}", Sbs[0], rows, True),
                    (f"SW2_{t}", SWs[1], cols, True)]
        if t == 1:
            whole = slice(None)
            for l in range(2, L + 1):
                out.append((f"b{l}_1", bs[l - 1], whole, False))
                if has_v:
                    out.append((f"Vb{l}_1", Vbs[l - 1], whole, False))
                if has_s:
                    out.append((f"Sb{l}_1", Sbs[l - 1], whole, False))
                if l < 3:
                    continue
                out.append((f"W{l}_1", Ws[l - 1], whole, False))
                if has_v:
                    out.append((f"VW{l}_1", VWs[l - 1], whole, False))
                if has_s:
                    out.append((f"SW{l}_1", SWs[l - 1], whole, False))
        return out

    def _us_copy_table(self):
        """The copies before and after a unit-split run, a row each (see _us_copy): every
        pair of _us_pairs (kind 0: the thread's own, copied back after the run; 1: thread
        1's copy of the tail, copied in only) and the gradients of each thread's units
        (kind 2: copied into Engine.grads after the run).  Each engine's array part is
        rows of contiguous values (a whole array's, or a block of rows or of columns of a
        C-ordered one)."""
        out = []

        def row(own, view, kind):
            if view.flags.c_contiguous:
                rows, rb, fs = 1, view.nbytes, view.nbytes
            elif view.ndim == 2 and view.strides[1] == view.itemsize:
                rows, rb, fs = view.shape[0], view.shape[1] * view.itemsize, view.strides[0]
            else:
                raise RuntimeError(f"a unit-split copy of a {view.shape} view with strides "
                                   f"{view.strides}: not rows of contiguous values")
            if own.nbytes < rows * rb or own.dtype != view.dtype:
                raise RuntimeError("a unit-split buffer smaller than its copy")
            out.append((own.ctypes.data, view.ctypes.data, rows, rb, fs, kind))

        gw1, gb1, gw2 = self.grads[0], self.grads[1], self.grads[2]
        for t in range(2):
            for name, full, in_rows, own in self._us_pairs(t):
                row(self._us_arrays[name], full[in_rows], 0 if own else 1)
            S = &self._us.side[t]
            rows = slice(S.h0, S.h1)
            for name, full, in_rows in ((f"GW1_{t}", gw1, rows), (f"Gb1_{t}", gb1, rows),
                                        (f"GW2_{t}", gw2, (slice(None), rows))):
                row(self._us_arrays[name], full[in_rows], 2)
        return np.array(out, dtype=np.int64)

    cdef _unit_split_back(self):
        """After a unit-split run: each thread's copies of its units' parameters and state
        written back into the engine's arrays (thread 0's tail is the engine's own), and the
        last step's gradients of its units into Engine.grads."""
        self.sp.t = self._us.side[0].t
        self.B.epi_runs += self._us.side[0].epi
        cdef int64_t[:, ::1] table = self._us_arrays["copies"]
        with nogil:
            _us_copy(&table[0, 0], table.shape[0], True)

    @property
    def thin(self):
        """Whether a step alone runs the thin-network passes (fastdnn/_core/thin.pxd)."""
        return bool(self.sp.thin)

    @property
    def fused_products(self):
        """How many products ran with their relu in the same pass (fastdnn/_core/gemm.pxd)
        since the engine was made."""
        return self.B.epi_runs

    @property
    def permutation_helper(self):
        """Whether a run of more than one epoch with the course shuffle on one worker has a
        second thread draw the next epochs' permutations meanwhile (the same permutations:
        the run is the lone thread's, bit for bit).  Takes effect where this build runs
        teams (HAVE_TEAMS) and outside a forked child."""
        return bool(self.sp.perm_helper)

    @permutation_helper.setter
    def permutation_helper(self, value):
        self.sp.perm_helper = bool(value)

    @property
    def permutation_slots(self):
        """Permutations the helper's ring holds (0 before its first run)."""
        return self.B.perm_slots

    @property
    def workers(self):
        """Threads of the team that runs the epochs (1: the calling thread alone).  The
        caller keeps BLAS single-threaded meanwhile (fastdnn.threads.limit(1))."""
        return self.sp.workers

    @workers.setter
    def workers(self, int value):
        if value < 1:
            raise ValueError(f"workers must be >= 1, got {value}")
        self.sp.workers = value

    @property
    def chunk_gathers(self):
        """Whether layer 1 gathers a shuffled batch chunk by chunk of features (Bufs.xc)."""
        return bool(self._lazy_x)

    @property
    def data_parallel(self):
        """Whether a team (workers > 1) splits each batch's columns among its threads
        (_step_dp) rather than each layer's products (_step).  Set True, it holds where the
        step allows it: not with dropout (but for a thin net), the gram solver, the
        chunk-by-chunk gather of a wide batch, or gradients alone (loss_and_gradients)."""
        return bool(self.sp.dp)

    @data_parallel.setter
    def data_parallel(self, value):
        self.sp.dp = bool(value) and not ((self.sp.dropout and not self.sp.thin)
                                          or self.sp.gram or self._lazy_x
                                          or self.sp.no_update)

    @property
    def unit_split(self):
        """Whether a team of two (workers == 2) splits layer 1's units between its threads
        (_step_us: each thread its units' rows of W_1 and columns of W_2, one exchange of
        Z_2's partial sums a step, and both threads the rest of the net, the tail: layers
        3..L and b_2) rather than each layer's products or the batch.  Set True, it holds
        where the step allows it: relu hidden layers, a first of more than one vector's
        lanes (16 floats, 8 doubles), AVX-512's fused products (fused_products' kernel), no
        dropout, gram solver, chunk-by-chunk gather, thin-net passes or gradients alone.
        Whether it pays (the tail small: tail_work) is fastdnn.threads.unit_split's rule."""
        return bool(self.sp.us)

    @unit_split.setter
    def unit_split(self, value):
        cdef int lanes = 8 if self.is_double else 16
        self.sp.us = (bool(value) and self.B.epi
                      and self.sp.hidden == ACT_RELU and not self.sp.dropout
                      and not self.sp.gram and not self._lazy_x and not self.sp.thin
                      and not self.sp.no_update and self.B.n[1] > lanes)

    @property
    def _thin_team_lag(self):
        """Tests: (thread 0's, thread 1's) pause in microseconds after each wait of a
        one-exchange team's step (_epochs_tp; Linux only)."""
        return (self.B.tp_lag[0], self.B.tp_lag[1])

    @_thin_team_lag.setter
    def _thin_team_lag(self, value):
        self.B.tp_lag[0], self.B.tp_lag[1] = _lag_pair(value)

    def _thin_team_copy(self, int t, str name, int l):
        """Tests: a copy of thread t's (>= 1) own array ``name`` (W, b, VW, Vb, SW, Sb, GW
        or Gb) of layer l in a one-exchange team (_epochs_tp), None where it has none."""
        if self._tp_arrays is None or name not in _TP_NAMES:
            return None
        a = self._tp_arrays.get((t, _TP_NAMES.index(name), l))
        return None if a is None else a.copy()

    @property
    def _unit_split_lag(self):
        """Tests: (thread 0's, thread 1's) pause in microseconds after each exchange of a
        unit-split step (to make one thread the slower one; Linux only)."""
        return (self._us.lag[0], self._us.lag[1])

    @_unit_split_lag.setter
    def _unit_split_lag(self, value):
        self._us.lag[0], self._us.lag[1] = _lag_pair(value)

    @property
    def step_work(self):
        """3 n_l n_(l-1) mb summed over the layers: the multiply-adds of a full-size step's
        forward, gradient and back-propagated products (layer 1's last is not computed);
        the measure fastdnn.threads.TEAM_MIN_WORK is calibrated on."""
        cdef long long s = 0
        cdef int l
        for l in range(1, self.sp.L + 1):
            s += <long long>self.B.n[l] * self.B.n[l - 1] * self.sp.mb
        return 3 * s

    @property
    def tail_work(self):
        """3 n_l n_(l-1) mb summed over layers 3..L: the part of step_work that both
        threads of a unit-split team do (see unit_split)."""
        cdef long long s = 0
        cdef int l
        for l in range(3, self.sp.L + 1):
            s += <long long>self.B.n[l] * self.B.n[l - 1] * self.sp.mb
        return 3 * s


def vector_log(const double[::1] x):
    """log of each value as the scikit-learn convention's binary loss takes it on AVX-512
    (fastdnn/_core/losses.pxd's fd_log8); None where the processor lacks AVX-512 (a test
    hook)."""
    if not fd_log_512():
        return None
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    if x.shape[0]:
        with nogil:
            fd_log_array_512(&x[0], &o[0], x.shape[0])
    return out


def sklearn_binary_loss(const double[::1] a, const double[::1] y, w=None,
                        double eps=2.220446049250313e-16):
    """sum_j w_j l_j of the scikit-learn convention's binary loss (one sigmoid unit) as a
    step sums it (a test hook): the loss of probabilities a and targets y, weights w."""
    if y.shape[0] != a.shape[0]:
        raise ValueError(f"a and y must have the same length, got {a.shape[0]} and {y.shape[0]}")
    cdef const double[::1] wv
    cdef const double *wp = NULL
    if w is not None:
        wv = np.ascontiguousarray(w, dtype=np.float64)
        if wv.shape[0] != a.shape[0]:
            raise ValueError(f"w must have a's length {a.shape[0]}, got {wv.shape[0]}")
        if wv.shape[0]:
            wp = &wv[0]
    if a.shape[0] == 0:
        return 0.0
    return loss_sum[double](OUT_SIGMOID, LOSS_SKLEARN, &a[0], &y[0], <int>a.shape[0], wp, 1,
                            <int>a.shape[0], eps, a.shape[0])


def thin_divide(const double[::1] x, double keep_prob, Py_ssize_t repeat=1):
    """x / keep_prob as the thin-network step divides by the keep probability (a test
    hook, and with ``repeat`` a benchmark's)."""
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef Py_ssize_t r
    if x.shape[0]:
        with nogil:
            for r in range(repeat):
                fd_thin_div_array(&x[0], &o[0], x.shape[0], keep_prob)
    return out


def legacy_permutation_of(unsigned long long seed, Py_ssize_t m):
    """np.random.RandomState(seed).permutation(m) computed by the engine's own MT19937
    (a test hook for fastdnn._core.rng)."""
    if seed > 0xFFFFFFFF or m < 0:
        raise ValueError(f"seed must be in [0, 2**32 - 1] and m >= 0, got {seed}, {m}")
    out = np.empty(m, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef MT19937 mt
    if m:
        legacy_permutation(&mt, <uint32_t>seed, &o[0], m)
    return out


def lanes_permutations_of(seeds, Py_ssize_t m):
    """[np.random.RandomState(s).permutation(m) for s in seeds], each computed as the
    engine's course shuffle computes it (generators seeded MT_LANES consecutive seeds at a
    time, kept across calls): a test hook for fastdnn._core.rng."""
    cdef MTLanes ls
    cdef MT19937 mt
    cdef int64_t[::1] o
    key = np.zeros(624 * MT_LANES, dtype=np.uint32)
    ls.key = <uint32_t *>_ptr(key)
    ls.base = 0
    ls.valid = False
    outs = []
    for seed in seeds:
        if not 0 <= seed <= 0xFFFFFFFF or m < 0:
            raise ValueError(f"seeds must be in [0, 2**32 - 1] and m >= 0, got {seed}, {m}")
        out = np.empty(m, dtype=np.int64)
        o = out
        if m:
            lanes_permutation(&ls, &mt, <uint32_t>seed, &o[0], m)
        outs.append(out)
    return outs


def small_products(W, A, D, G, double alpha):
    """The small-product loops of fastdnn._core.small on numpy arrays (a test hook):
    returns (W @ A, W.T @ D, G + alpha * D @ A.T) computed by mm_nn, mm_tn and mm_nt_acc.
    W (n, k), A (k, m), D (n, m), G (n, k): C-contiguous, one float dtype."""
    arrays = [np.ascontiguousarray(x) for x in (W, A, D, G)]
    dtype = arrays[0].dtype
    if dtype != np.float64 and dtype != np.float32:
        raise TypeError(f"W must be float32 or float64, got {dtype}")
    if any(x.dtype != dtype or x.ndim != 2 for x in arrays):
        raise TypeError("W, A, D, G must be 2-D arrays of one dtype")
    W, A, D, G = arrays
    n, k = W.shape
    m = A.shape[1]
    if A.shape != (k, m) or D.shape != (n, m) or G.shape != (n, k) or 0 in (n, k, m):
        raise ValueError(f"shapes W {W.shape}, A {A.shape}, D {D.shape}, G {G.shape} do not "
                         f"chain (W (n, k), A (k, m), D (n, m), G (n, k), none empty)")
    Z = np.empty((n, m), dtype)
    T = np.empty((k, m), dtype)
    G = G.copy()
    if dtype == np.float64:
        mm_nn[double](n, m, k, <double *>_ptr(W), <double *>_ptr(A), <double *>_ptr(Z))
        mm_tn[double](k, m, n, <double *>_ptr(W), <double *>_ptr(D), <double *>_ptr(T))
        mm_nt_acc[double](n, k, m, alpha, <double *>_ptr(D), <double *>_ptr(A),
                          <double *>_ptr(G))
    else:
        mm_nn[float](n, m, k, <float *>_ptr(W), <float *>_ptr(A), <float *>_ptr(Z))
        mm_tn[float](k, m, n, <float *>_ptr(W), <float *>_ptr(D), <float *>_ptr(T))
        mm_nt_acc[float](n, k, m, <float>alpha, <float *>_ptr(D), <float *>_ptr(A),
                         <float *>_ptr(G))
    return Z, T, G


def _hook_matrix(x, name):
    """A test hook's 2-D float32 or float64 argument, as a C-contiguous array whose
    dimensions fit the engine's int sizes (TypeError / ValueError naming it otherwise)."""
    x = np.ascontiguousarray(x)
    if x.dtype != np.float64 and x.dtype != np.float32:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {x.shape}")
    if x.shape[0] > 2 ** 31 - 1 or x.shape[1] > 2 ** 31 - 1:
        raise ValueError(f"{name} is too large for the engine's int sizes, got shape {x.shape}")
    return x


def row_means(D, double N):
    """The bias gradients' row means of fastdnn._core.loop on a numpy array (a test hook):
    sum_j D_ij / N for each row of a 2-D float32 or float64 array (C-contiguous copy)."""
    D = _hook_matrix(D, "D")
    rows, m = D.shape
    g = np.empty(rows, D.dtype)
    if rows and m:
        if D.dtype == np.float64:
            _row_means[double](<double *>_ptr(D), <double *>_ptr(g), <int>rows, <int>m, N)
        else:
            _row_means[float](<float *>_ptr(D), <float *>_ptr(g), <int>rows, <int>m, N)
    elif rows:
        g[:] = 0
    return g


ADAM_PATHS = ("plain", "newton", "divide")


def adam_default_path():
    """The Adam path the engine takes on this processor: "plain" (the loop as the compiler
    vectorises it), "newton" (AVX-512, Newton-Raphson's division: Intel's) or "divide"
    (AVX-512, the divider's: AMD's); all three give the same values."""
    return ADAM_PATHS[fd_adam_default_path()]


def adam_update(P, G, V, S, double lam, double b1, double omb1, double b2, double omb2,
                double c, double k, double eps, bint divider=False, Py_ssize_t repeat=1,
                path=None):
    """The engine's Adam loop on numpy arrays (a test hook for fastdnn/_core/optimizers.pxd):
    g = G + lam P, V = b1 V + omb1 g, S = b2 S + omb2 g^2, P -= (c V) / (sqrt(S k) + eps),
    in place on P, V, S (1-D, C-contiguous, one float dtype; G read only).  ``path``: one of
    ADAM_PATHS (the AVX-512 ones need AVX-512), default the engine's (adam_default_path());
    ``divider``: the same as path="plain"; ``repeat``: that many updates in a row (for
    timing, bench/adam_division.py)."""
    arrays = (P, G, V, S)
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    cdef int which = -1
    if divider:
        path = "plain" if path is None else path
    if path is not None:
        if path not in ADAM_PATHS:
            raise ValueError(f"path must be one of {ADAM_PATHS}, got {path!r}")
        which = ADAM_PATHS.index(path)
        if which > 0 and fd_adam_default_path() == 0:
            raise ValueError(f"path {path!r} needs a processor with AVX-512 and a GCC build")
    if any(not isinstance(x, np.ndarray) for x in arrays):
        raise TypeError("P, G, V, S must be numpy arrays")
    dtype = P.dtype
    if dtype != np.float64 and dtype != np.float32:
        raise TypeError(f"P must be float32 or float64, got {dtype}")
    for name, x in zip("PGVS", arrays):
        if x.dtype != dtype or x.ndim != 1 or not x.flags.c_contiguous or x.shape != P.shape:
            raise ValueError(f"{name} must be a C-contiguous 1-D {dtype} array of P's "
                             f"shape {P.shape}, got {x.dtype} {x.shape}")
        if name != "G" and not x.flags.writeable:
            raise ValueError(f"{name} must be writeable")
    cdef Py_ssize_t n = P.shape[0], r
    if n == 0:
        return
    cdef void *p = _ptr(P)
    cdef void *g = _ptr(G)
    cdef void *v = _ptr(V)
    cdef void *sq = _ptr(S)
    if dtype == np.float64:
        with nogil:
            for r in range(repeat):
                fd_adam_d_on(which, <double *>p, <double *>g, <double *>v, <double *>sq, n,
                             lam, b1, omb1, b2, omb2, c, k, eps)
    else:
        with nogil:
            for r in range(repeat):
                fd_adam_f_on(which, <float *>p, <float *>g, <float *>v, <float *>sq, n,
                             <float>lam, <float>b1, <float>omb1, <float>b2, <float>omb2,
                             <float>c, <float>k, <float>eps)


def transpose_copy(src):
    """src.T as a new C-contiguous array, by fastdnn._core.small's transpose (a test hook):
    src a 2-D float32 or float64 array (a C-contiguous copy of it is read)."""
    src = _hook_matrix(src, "src")
    rows, cols = src.shape
    dst = np.empty((cols, rows), src.dtype)
    if rows and cols:
        if src.dtype == np.float64:
            transpose[double](<int>rows, <int>cols, <double *>_ptr(src), cols,
                              <double *>_ptr(dst), rows)
        else:
            transpose[float](<int>rows, <int>cols, <float *>_ptr(src), cols,
                             <float *>_ptr(dst), rows)
    return dst


cdef void _wxt(int n, int m, int k, const floating *W, const floating *X, floating *T,
               floating *Z, Py_ssize_t repeat, bint transposed) noexcept nogil:
    cdef Py_ssize_t r
    for r in range(repeat):
        if transposed:
            _wxt_on_copy(n, m, k, <floating>1, W, X, k, T, Z)
        else:
            gemm(n, m, k, <floating>1, W, k, True, X, k, False, <floating>0, Z, m)


def product_wxt(W, X, Py_ssize_t repeat=1, bint transposed=False):
    """Z = W @ X.T, `repeat` times without the GIL (for bench/bench_transpose.py and the
    tests): one BLAS call on X as it is, whose inner index is contiguous in both operands
    (transposed=False), or X copied transposed first and BLAS on the copy (True), as the
    engine's step does for small float32 products.  W (n, k), X (m, k): C-contiguous, one
    float dtype.  Returns Z (n, m)."""
    W = np.ascontiguousarray(W)
    X = np.ascontiguousarray(X)
    if W.dtype != X.dtype or W.dtype not in (np.float32, np.float64):
        raise TypeError(f"W and X must be float32 or float64 of one dtype, got {W.dtype}, "
                        f"{X.dtype}")
    if W.ndim != 2 or X.ndim != 2 or W.shape[1] != X.shape[1] or 0 in W.shape + X.shape:
        raise ValueError(f"W (n, k) and X (m, k) must be non-empty with one k, got "
                         f"{W.shape}, {X.shape}")
    if max(W.shape + X.shape) > 2 ** 31 - 1:
        raise ValueError("dimensions above 2**31-1")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    cdef int n = W.shape[0], k = W.shape[1], m = X.shape[0]
    Z = np.empty((n, m), W.dtype)
    T = np.empty((k, m), W.dtype)
    cdef void *pw = _ptr(W)
    cdef void *px = _ptr(X)
    cdef void *pt = _ptr(T)
    cdef void *pz = _ptr(Z)
    if W.dtype == np.float64:
        with nogil:
            _wxt[double](n, m, k, <double *>pw, <double *>px, <double *>pt, <double *>pz,
                         repeat, transposed)
    else:
        with nogil:
            _wxt[float](n, m, k, <float *>pw, <float *>px, <float *>pt, <float *>pz,
                        repeat, transposed)
    return Z


EPILOGUES = {"store": EPI_STORE, "bias_relu": EPI_BIAS_RELU, "relu_back": EPI_RELU_BACK,
             "store_sum": EPI_STORE_SUM}
# whether this processor runs fastdnn/_core/gemm.pxd's kernel (AVX-512); else the engine
# takes BLAS and the separate passes, and product_epi returns None
GEMM_AVX512 = bool(fd_gemm_avx512())


cdef bint _epi_repeat(int M, int N, int K, floating alpha, const floating *A, long sai,
                      long sak, const floating *B, long ldb, floating *C, int epi,
                      const floating *bias, const floating *R, floating *rs,
                      Py_ssize_t repeat, bint blas) noexcept nogil:
    cdef Py_ssize_t r
    for r in range(repeat):
        if blas:
            gemm(M, N, K, alpha, A, <int>(sai if sak == 1 else sak), sak == 1, B, <int>ldb, True,
                 <floating>0, C, N)
        elif not gemm_epi(M, N, K, alpha, A, sai, sak, B, ldb, C, N, epi, bias, R, N, rs):
            return False
    return True


def product_epi(A, B, epilogue="store", double alpha=1.0, bias=None, R=None,
                Py_ssize_t repeat=1, bint blas=False):
    """fastdnn._core.gemm's product on numpy arrays (a test hook, and bench/bench_gemm_epi.py's
    way to it): C = alpha * A @ B ("store"), relu(A @ B + bias[:, None]) ("bias_relu"), or
    A @ B where R > 0 or NaN, else 0 ("relu_back"), `repeat` times without the GIL.  A (M, K)
    C- or Fortran-contiguous (its values are read with either strides), B (K, N) and R (M, N)
    C-contiguous, bias (M,), one float dtype; "store_sum": C = alpha * A @ B and the row
    sums alpha * A.sum(1), returned as (C, sums), None where N is a multiple of the vector's
    lanes (8 doubles, 16 floats: no spare lane).  ``blas``: BLAS's product alone instead (A
    C-contiguous or Fortran-contiguous, "store" only), for timing side by side.  Returns C,
    or None where the processor lacks AVX-512 (the engine then takes BLAS)."""
    if epilogue not in EPILOGUES:
        raise ValueError(f"epilogue must be one of {sorted(EPILOGUES)}, got {epilogue!r}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    if not isinstance(A, np.ndarray) or not (A.flags.c_contiguous or A.flags.f_contiguous):
        A = np.ascontiguousarray(A)
    B = _hook_matrix(B, "B")
    if A.dtype != B.dtype or A.ndim != 2:
        raise TypeError(f"A must be 2-D of B's dtype {B.dtype}, got {A.dtype} {A.shape}")
    M, K = A.shape
    N = B.shape[1]
    if B.shape[0] != K or 0 in (M, N, K) or max(M, N, K) > 2 ** 31 - 1:
        raise ValueError(f"A (M, K) and B (K, N) must chain, non-empty, got {A.shape}, {B.shape}")
    epi = EPILOGUES[epilogue]
    if blas and epi != EPI_STORE:
        raise ValueError("blas=True times the product alone: epilogue must be 'store'")
    if epi == EPI_BIAS_RELU:
        if bias is None:
            raise ValueError("the 'bias_relu' epilogue needs bias (M,)")
        bias = np.ascontiguousarray(bias, dtype=B.dtype)
        if bias.shape != (M,):
            raise ValueError(f"bias must have shape ({M},), got {bias.shape}")
    if epi == EPI_RELU_BACK:
        if R is None:
            raise ValueError("the 'relu_back' epilogue needs R (M, N)")
        R = _hook_matrix(R, "R")
        if R.shape != (M, N) or R.dtype != B.dtype:
            raise ValueError(f"R must be ({M}, {N}) {B.dtype}, got {R.shape} {R.dtype}")
    C = np.empty((M, N), B.dtype)
    sums = np.empty(M, B.dtype) if epi == EPI_STORE_SUM else None
    cdef bint a_rm = A.flags.c_contiguous
    cdef long sai = K if a_rm else 1, sak = 1 if a_rm else M
    cdef void *pa = _ptr(A)
    cdef void *pb = _ptr(B)
    cdef void *pc = _ptr(C)
    cdef void *pbias = _ptr(bias) if bias is not None else NULL
    cdef void *pr = _ptr(R) if R is not None else NULL
    cdef void *ps = _ptr(sums) if sums is not None else NULL
    cdef bint done
    cdef int m = M, n = N, k = K, e = epi
    if B.dtype == np.float64:
        with nogil:
            done = _epi_repeat[double](m, n, k, alpha, <double *>pa, sai, sak, <double *>pb, n,
                                       <double *>pc, e, <double *>pbias, <double *>pr,
                                       <double *>ps, repeat, blas)
    else:
        with nogil:
            done = _epi_repeat[float](m, n, k, <float>alpha, <float *>pa, sai, sak,
                                      <float *>pb, n, <float *>pc, e, <float *>pbias,
                                      <float *>pr, <float *>ps, repeat, blas)
    if not done:
        return None
    return (C, sums) if sums is not None else C
