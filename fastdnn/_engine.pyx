"""The fused training loop behind ``fastdnn.engine.Trainer``.

One full-batch gradient-descent iteration on
[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, for layers l = 1..L with n_l
units, m examples, A_0 = X:

    forward     Z_l = W_l A_{l-1} + b_l,  A_l = relu(Z_l)  (sigmoid for l = L)
    output      dZ_L = A_L - Y                       (sigmoid + cross-entropy)
    backward    dZ_{l-1} = (W_l^T dZ_l) * [A_{l-1} > 0]  for l = L..2 (no dA_0)
    update      b_l <- b_l - lr * (sum_j dZ_l / m)      (row sums in float64)
                W_l <- W_l + (-lr/m) * dZ_l A_{l-1}^T   (one GEMM, beta = 1)

``relu`` is applied in place: A_l overwrites Z_l, and the mask Z > 0 is read
back as A > 0 (the same set, NaN included).  dZ_{l-1} is computed with the
old W_l before W_l is updated, so the step is the seed's: every gradient
from the parameters of iteration i, then every update.

The first layer has a second form, the *gram* solver (plain gradient
descent only).  Every update adds -(lr/m) dZ_1 X^T to W_1, so after t steps
W_1 = W1_0 - C X^T with C the running sum of (lr/m) dZ_1 (n_1 x m), and

    Z_1 = W_1 X + b_1 = P0 - C G + b_1,   P0 = W1_0 X,  G = X^T X  (m x m)

with P0 and G computed once (by the caller).  The iteration then never reads
X: the first layer costs n_1 m^2 multiply-adds instead of 2 n_1 m n_x.

Rounding: the fused update W + (-lr/m) (dZ A^T) and the gram form differ
from the seed's W - lr (dZ A^T / m) by rounding only; the drift this leaves
after the seed's 2500 iterations on the cat data is printed by
``bench/bench_training.py`` (5e-14 relative for primal, 6e-12 for gram, far
inside the 1e-9 the tests demand).

Products: BLAS (``fastdnn._blas.gemm``) except below SMALL_WORK
multiply-adds, where the loops ``_mm_*`` avoid a BLAS call's fixed cost (the
planar [2, 4, 1] net).  The output sigmoid is ``fastdnn._kernels``'s
vectorised one.

Everything here runs without the GIL on buffers allocated once by the
caller (``fastdnn.engine``; only ZL, the output layer's pre-activation, is
allocated here), which also validates every shape: ``Loop`` only checks
dtypes, contiguity and the shapes it was told, so that a mistake there
raises instead of reading out of bounds.
"""
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

import numpy as np
cimport numpy as cnp

from fastdnn._blas cimport floating, gemm
from fastdnn._validation cimport need_buffer as _need
from fastdnn._kernels cimport _relu, add_bias_sigmoid, matmul, row_sum_f64
from fastdnn._core.small cimport SMALL_WORK, mm_nn as _mm_nn, mm_tn as _mm_tn, mm_nt_acc as _mm_nt_acc

cnp.import_array()


cdef struct Net:
    int L                 # number of layers
    int m                 # examples
    int *n                # n[0..L]: units per layer, n[0] = n_x
    void **W              # W[l], l = 1..L: (n_l, n_{l-1}) C-ordered
    void **b              # b[l]: (n_l,) contiguous
    void **A              # A[l]: (n_l, m) C-ordered; A_L is the output
    void **dZ             # dZ[l]: (n_l, m) C-ordered
    const void *X         # (n_0, m), C- or Fortran-ordered
    int ldx
    bint x_rowmajor
    const void *Y         # (n_L, m) C-ordered
    double lr
    bint gram             # first layer by P0 - C G (W[1] unused)
    const void *G         # (m, m)
    const void *P0        # (n_1, m)
    void *C               # (n_1, m)


# ---------------------------------------------------------------- elementwise

cdef inline void _bias_relu(floating *Z, const floating *b, int rows, int m) noexcept nogil:
    """Z = relu(Z + b) in place (b broadcast along the m columns)."""
    cdef Py_ssize_t i, j
    cdef floating bi
    cdef floating *row
    for i in range(rows):
        bi = b[i]
        row = Z + i * m
        for j in range(m):
            row[j] = _relu(row[j] + bi)


cdef inline void _relu_mask(floating *dZ, const floating *A, Py_ssize_t size) noexcept nogil:
    """dZ = 0 where A <= 0 (A = relu(Z), so where Z <= 0); a select, not a branch."""
    cdef Py_ssize_t i
    for i in range(size):
        dZ[i] = 0 if A[i] <= 0 else dZ[i]


cdef inline void _bias_step(floating *b, const floating *dZ, int rows, int m, double lr) noexcept nogil:
    """b_i <- b_i - lr * (sum_j dZ_ij / m), the sum in float64 (_kernels.row_sum_f64)."""
    cdef Py_ssize_t i
    cdef floating r = <floating>lr
    for i in range(rows):
        b[i] = b[i] - r * <floating>(row_sum_f64(dZ + i * m, m) / m)


# -------------------------------------------------------------- small products
# The loops of fastdnn/_core/small.pxd below SMALL_WORK multiply-adds (``use_small``
# switches them off for benchmarks).

cdef bint use_small = True
cdef int small_work = SMALL_WORK


# ------------------------------------------------------------------ iteration

cdef void _iterate(Net *net, floating[:, ::1] ZL, floating[:, ::1] AL, const floating[:, :] bL,
                   Py_ssize_t count) noexcept nogil:
    """``count`` gradient-descent iterations on ``net``.

    The output layer's pre-activation goes to its own buffer ZL and
    ``fastdnn._kernels.add_bias_sigmoid`` (the vectorised sigmoid of the layer
    API) writes A_L = sigmoid(ZL + b_L); ZL, AL, bL are views of net's buffers.
    """
    cdef int L = net.L, m = net.m, l, nl, np_
    cdef int *n = net.n
    cdef floating **W = <floating **>net.W
    cdef floating **b = <floating **>net.b
    cdef floating **A = <floating **>net.A
    cdef floating **dZ = <floating **>net.dZ
    cdef const floating *X = <const floating *>net.X
    cdef const floating *Y = <const floating *>net.Y
    cdef const floating *G = <const floating *>net.G
    cdef const floating *P0 = <const floating *>net.P0
    cdef floating *C = <floating *>net.C
    cdef floating neg_lr_m = <floating>(-net.lr / m)
    cdef floating lr_m = <floating>(net.lr / m)
    cdef const floating *prev
    cdef Py_ssize_t it, i, size
    cdef int ld_prev
    cdef bint prev_rm

    for it in range(count):
        # ---- forward (the last layer's product lands in ZL, see the loop's end)
        A[L] = &ZL[0, 0]
        for l in range(1, L + 1):
            nl = n[l]
            if l == 1 and net.gram:
                memcpy(A[1], P0, <size_t>nl * m * sizeof(floating))
                gemm(nl, m, m, <floating>-1, C, m, True, G, m, True, <floating>1, A[1], m)
            elif l == 1 and not (net.x_rowmajor and use_small
                                 and <long>nl * m * n[0] <= small_work):
                gemm(nl, m, n[0], <floating>1, W[1], n[0], True,
                     X, net.ldx, net.x_rowmajor, <floating>0, A[1], m)
            elif use_small and <long>nl * m * n[l - 1] <= small_work:
                _mm_nn(nl, m, n[l - 1], W[l], X if l == 1 else A[l - 1], A[l])
            else:
                gemm(nl, m, n[l - 1], <floating>1, W[l], n[l - 1], True,
                     A[l - 1], m, True, <floating>0, A[l], m)
            if l < L:
                _bias_relu(A[l], b[l], nl, m)
        A[L] = &AL[0, 0]
        add_bias_sigmoid(ZL, bL, AL)

        # ---- output gradient: sigmoid + cross-entropy
        size = <Py_ssize_t>n[L] * m
        for i in range(size):
            dZ[L][i] = A[L][i] - Y[i]

        # ---- backward with the update of each layer once its gradient is used
        for l in range(L, 0, -1):
            nl = n[l]
            np_ = n[l - 1]
            if l > 1:
                # dZ_{l-1} = W_l^T dZ_l (old W_l), masked by relu'
                if use_small and <long>nl * m * np_ <= small_work:
                    _mm_tn(np_, m, nl, W[l], dZ[l], dZ[l - 1])
                else:
                    gemm(np_, m, nl, <floating>1, W[l], np_, False,
                         dZ[l], m, True, <floating>0, dZ[l - 1], m)
                _relu_mask(dZ[l - 1], A[l - 1], <Py_ssize_t>np_ * m)
            _bias_step(b[l], dZ[l], nl, m, net.lr)
            if l == 1 and net.gram:
                size = <Py_ssize_t>nl * m
                for i in range(size):
                    C[i] = C[i] + lr_m * dZ[1][i]
            else:
                if l == 1:
                    prev = X
                    ld_prev = net.ldx
                    prev_rm = net.x_rowmajor
                else:
                    prev = A[l - 1]
                    ld_prev = m
                    prev_rm = True
                # W_l += (-lr/m) dZ_l A_{l-1}^T ; A^T is A with the other storage order
                if prev_rm and use_small and <long>nl * m * np_ <= small_work:
                    _mm_nt_acc(nl, np_, m, neg_lr_m, dZ[l], prev, W[l])
                else:
                    gemm(nl, np_, m, neg_lr_m, dZ[l], m, True,
                         prev, ld_prev, not prev_rm, <floating>1, W[l], np_)


# ---------------------------------------------------------------- Python side

cdef void *_ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


cdef class Loop:
    """Pointers to the caller's buffers and the compiled iteration over them.

    ``Loop(dims, m, Ws, bs, As, dZs, X, Y, lr, G=None, P0=None, C=None)``:
    ``dims`` = [n_0, ..., n_L]; Ws/bs/As/dZs are lists of L arrays for layers
    1..L in one float dtype (bs of shape (n_l, 1)); X is (n_0, m) C- or
    Fortran-ordered; with G, P0, C given the first layer runs the gram form
    (Ws[0] is then ignored and may be None).  The Loop keeps references to
    every array it points into, so they outlive it.
    """
    cdef Net net
    cdef object keep
    cdef bint is_double
    cdef double[:, ::1] zl_d, al_d, bl_d
    cdef float[:, ::1] zl_f, al_f, bl_f

    def __cinit__(self):
        self.net.n = NULL
        self.net.W = NULL
        self.net.b = NULL
        self.net.A = NULL
        self.net.dZ = NULL

    def __init__(self, dims, int m, list Ws, list bs, list As, list dZs, X, Y, double lr,
                 G=None, P0=None, C=None):
        cdef int L = len(dims) - 1, l
        if L < 1 or m < 1:
            raise ValueError(f"need at least one layer and one example, got dims={dims}, m={m}")
        if not (len(Ws) == len(bs) == len(As) == len(dZs) == L):
            raise ValueError("Ws, bs, As, dZs must each hold one array per layer")
        for l in range(L + 1):
            if not 0 < dims[l] < 2**31:
                raise ValueError(f"dims[{l}] = {dims[l]} out of range")
        Xa = <cnp.ndarray?>X
        dtype = Xa.dtype
        if dtype != np.float64 and dtype != np.float32:
            raise TypeError(f"X must be float32 or float64, got {dtype}")
        self.is_double = dtype == np.float64
        gram = G is not None
        self.keep = [Ws, bs, As, dZs, X, Y, G, P0, C]

        self.net.L = L
        self.net.m = m
        self.net.lr = lr
        self.net.n = <int *>calloc(L + 1, sizeof(int))
        self.net.W = <void **>calloc(L + 1, sizeof(void *))
        self.net.b = <void **>calloc(L + 1, sizeof(void *))
        self.net.A = <void **>calloc(L + 1, sizeof(void *))
        self.net.dZ = <void **>calloc(L + 1, sizeof(void *))
        if (self.net.n == NULL or self.net.W == NULL or self.net.b == NULL
                or self.net.A == NULL or self.net.dZ == NULL):
            raise MemoryError()
        for l in range(L + 1):
            self.net.n[l] = dims[l]
        Xa = _need(X, "X", (dims[0], m), dtype, True)
        self.net.X = _ptr(Xa)
        self.net.x_rowmajor = cnp.PyArray_IS_C_CONTIGUOUS(Xa)
        self.net.ldx = m if self.net.x_rowmajor else dims[0]
        self.net.Y = _ptr(_need(Y, "Y", (dims[L], m), dtype))
        for l in range(1, L + 1):
            if not (gram and l == 1):
                self.net.W[l] = _ptr(_need(Ws[l - 1], f"W{l}", (dims[l], dims[l - 1]), dtype,
                                           False, True))
            self.net.b[l] = _ptr(_need(bs[l - 1], f"b{l}", (dims[l], 1), dtype, False, True))
            self.net.A[l] = _ptr(_need(As[l - 1], f"A{l}", (dims[l], m), dtype, False, True))
            self.net.dZ[l] = _ptr(_need(dZs[l - 1], f"dZ{l}", (dims[l], m), dtype, False, True))
        ZL = np.empty((dims[L], m), dtype=dtype)
        self.keep.append(ZL)
        if self.is_double:
            self.zl_d, self.al_d, self.bl_d = ZL, As[L - 1], bs[L - 1]
        else:
            self.zl_f, self.al_f, self.bl_f = ZL, As[L - 1], bs[L - 1]
        self.net.gram = gram
        if gram:
            self.net.G = _ptr(_need(G, "G", (m, m), dtype))
            self.net.P0 = _ptr(_need(P0, "P0", (dims[1], m), dtype))
            self.net.C = _ptr(_need(C, "C", (dims[1], m), dtype, False, True))

    def __dealloc__(self):
        free(self.net.n)
        free(self.net.W)
        free(self.net.b)
        free(self.net.A)
        free(self.net.dZ)

    def run(self, Py_ssize_t count):
        """Run ``count`` iterations with the GIL released."""
        if count <= 0:
            return
        if self.is_double:
            with nogil:
                _iterate[double](&self.net, self.zl_d, self.al_d, self.bl_d, count)
        else:
            with nogil:
                _iterate[float](&self.net, self.zl_f, self.al_f, self.bl_f, count)


def set_small(bint on, int work=SMALL_WORK):
    """Switch the small-product loops on or off and set their threshold (for benchmarks)."""
    global use_small, small_work
    use_small = on
    small_work = work


def products(W1, X, dZ1, out1, out2, Py_ssize_t reps):
    """Time base for the benchmark: ``reps`` times out1 = W1 X and out2 = dZ1 X^T.

    The two products every primal iteration of a wide first layer must do,
    through exactly the BLAS calls the training loop makes (same library,
    same storage orders); arrays validated as in ``Loop``.
    """
    cdef cnp.ndarray Xa = <cnp.ndarray?>X
    dtype = Xa.dtype
    cdef int n1 = W1.shape[0], n0 = X.shape[0], m = X.shape[1]
    Xa = _need(X, "X", (n0, m), dtype, True)
    cdef cnp.ndarray Wa = _need(W1, "W1", (n1, n0), dtype)
    cdef cnp.ndarray Da = _need(dZ1, "dZ1", (n1, m), dtype)
    cdef cnp.ndarray O1 = _need(out1, "out1", (n1, m), dtype, False, True)
    cdef cnp.ndarray O2 = _need(out2, "out2", (n1, n0), dtype, False, True)
    cdef bint rm = cnp.PyArray_IS_C_CONTIGUOUS(Xa)
    cdef int ldx = m if rm else n0
    cdef Py_ssize_t r
    cdef void *w = _ptr(Wa)
    cdef void *x = _ptr(Xa)
    cdef void *d = _ptr(Da)
    cdef void *o1 = _ptr(O1)
    cdef void *o2 = _ptr(O2)
    if dtype == np.float64:
        with nogil:
            for r in range(reps):
                gemm(n1, m, n0, 1.0, <double *>w, n0, True, <double *>x, ldx, rm,
                     0.0, <double *>o1, m)
                gemm(n1, n0, m, 1.0, <double *>d, m, True, <double *>x, ldx, not rm,
                     0.0, <double *>o2, n0)
    else:
        with nogil:
            for r in range(reps):
                gemm(n1, m, n0, <float>1, <float *>w, n0, True, <float *>x, ldx, rm,
                     <float>0, <float *>o1, m)
                gemm(n1, n0, m, <float>1, <float *>d, m, True, <float *>x, ldx, not rm,
                     <float>0, <float *>o2, n0)


def gemm_into(A, bint trans_a, B, bint trans_b, out, double alpha=1.0, double beta=0.0):
    """out = alpha * op(A) @ op(B) + beta * out through scipy's BLAS, GIL released.

    op(M) is M, or M.T when trans_*; A and B are C- or Fortran-contiguous
    2-D arrays of out's dtype, out is C-contiguous.  The engine's setup
    products (G = X^T X, P0 = W1_0 X, W1 = W1_0 - C X^T) go through here so
    that training uses one BLAS library (and one thread pool) throughout.
    """
    cdef cnp.ndarray O = <cnp.ndarray?>out
    dtype = O.dtype
    if dtype != np.float64 and dtype != np.float32:
        raise TypeError(f"out must be float32 or float64, got {dtype}")
    cdef cnp.ndarray Aa = <cnp.ndarray?>A, Ba = <cnp.ndarray?>B
    for name, arr in (("A", Aa), ("B", Ba)):
        if arr.dtype != dtype or arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 2-D {dtype} array")
        if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
            raise ValueError(f"{name} must be C- or Fortran-contiguous")
    if not O.flags.c_contiguous or O.ndim != 2:
        raise ValueError("out must be a C-contiguous 2-D array")
    # a transposed view keeps the memory and swaps the storage order
    Lop = Aa.T if trans_a else Aa
    Rop = Ba.T if trans_b else Ba
    if Lop.shape[1] != Rop.shape[0] or O.shape[0] != Lop.shape[0] or O.shape[1] != Rop.shape[1]:
        raise ValueError(f"shapes do not chain: op(A) {Lop.shape}, op(B) {Rop.shape}, "
                         f"out {(<object>O).shape}")
    if dtype == np.float64:
        _matmul_nogil[double](Lop, Lop.flags.c_contiguous, Rop, Rop.flags.c_contiguous, O,
                              alpha, beta)
    else:
        _matmul_nogil[float](Lop, Lop.flags.c_contiguous, Rop, Rop.flags.c_contiguous, O,
                             <float>alpha, <float>beta)


cdef void _matmul_nogil(const floating[:, :] L, bint l_rm, const floating[:, :] R, bint r_rm,
                        floating[:, ::1] out, floating alpha, floating beta):
    with nogil:
        matmul(L, l_rm, R, r_rm, out, alpha, beta)
