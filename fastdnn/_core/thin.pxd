# One pass over the examples for thin networks (float64, relu hidden layers, a sigmoid
# output, every layer at most THIN_MAX units and THIN_WEIGHTS weights: see the end): course
# 2's [2, 10, 5, 1], [2, 20, 3, 1] and [2, 5, 2, 1] nets, whose products are a few thousand
# multiply-adds each.  Layer by layer, each elementwise stage was its own pass over
# (n_l x m) buffers; here a block of 32 examples goes through every layer with its
# activations in a small scratch:
#
#   fd_thin_forward_d    A_l = relu(W_l A_{l-1} + b_l), Ad_l = A_l * D_l / keep_prob (dropout)
#                        for the hidden layers, Z_L = W_L Ad_{L-1} (the output layer's bias
#                        and activation are the engine's out_forward, as on the layer by
#                        layer path)
#   fd_thin_backward_d   dZ_L = (A_L - Y) * w, then dZ_{l-1} = W_l^T dZ_l (* D / keep_prob)
#                        where A_{l-1} > 0, else 0
#
# with the formulas, and the order of every sum, of the engine's layer-by-layer path with
# the small-product loops (fastdnn/_core/small.pxd: each product summed over the inner index
# in order from 0): the same numbers, fewer passes.  The vectors of the last block that
# hold fewer than 8 examples go through the same vector code zero-padded, stored back in
# part.  Compiled as small.pxd's loops (fastdnn/_simd.h; the clones with FMA fuse the sums'
# steps as those loops' clones do).
cdef extern from *:
    """
    #include "fastdnn/_simd.h"
    #define FD_THIN_MAX 64
    typedef double fd_tv8d __attribute__((vector_size(64)));
    typedef long fd_tv8l __attribute__((vector_size(64)));   /* what comparisons give */
    /* a vector of cnt (0..8) consecutive values, zero-padded; stored back in part */
    static inline FD_INLINE fd_tv8d fd_tld(const double *p, int cnt) {
        fd_tv8d v = {0};
        if (cnt == 8) memcpy(&v, p, sizeof v);
        else if (cnt > 0) memcpy(&v, p, (size_t)cnt * sizeof(double));
        return v;
    }
    static inline FD_INLINE void fd_tst(double *p, fd_tv8d v, int cnt) {
        if (cnt == 8) memcpy(p, &v, sizeof v);
        else if (cnt > 0) memcpy(p, &v, (size_t)cnt * sizeof(double));
    }

    /* the examples go 32 at a time: four vectors of 8, so that four independent sums run
       side by side (each sum's steps wait on each other); the last block's vectors hold
       cnt[k] = 0..8 examples, the rest zeros, stored back in part */
    #define FD_THIN_V 4
    static inline FD_INLINE void fd_thin_counts(int m, int j0, int *cnt) {
        for (int k = 0; k < FD_THIN_V; k++) {
            int c = m - j0 - 8 * k;
            cnt[k] = c < 0 ? 0 : c > 8 ? 8 : c;
        }
    }

    FD_CLONES static void fd_thin_forward_d(int L, const int *n, int m, const double *X,
            double *const *W, double *const *b, double *const *Z, double *const *A,
            double *const *Ad, double *const *D, double kp) {
        fd_tv8d bufa[FD_THIN_MAX][FD_THIN_V], bufb[FD_THIN_MAX][FD_THIN_V];
        int j0, l, i, s, k, cnt[FD_THIN_V];
        for (j0 = 0; j0 < m; j0 += 8 * FD_THIN_V) {
            fd_tv8d (*prev)[FD_THIN_V] = bufa, (*cur)[FD_THIN_V] = bufb, (*t)[FD_THIN_V];
            fd_thin_counts(m, j0, cnt);
            for (s = 0; s < n[0]; s++)
                for (k = 0; k < FD_THIN_V; k++)
                    prev[s][k] = fd_tld(X + (long)s * m + j0 + 8 * k, cnt[k]);
            for (l = 1; l <= L; l++) {
                /* local copies: with -fno-strict-aliasing (Python's flags) every store
                   of a double would otherwise reload the pointer tables */
                const int nl = n[l], np = n[l - 1], last = l == L;
                const double *const Wl = W[l], *const bl = b[l];
                const double *const Dl = D && !last ? D[l] : NULL;
                double *const Zl = Z[L], *const Al = A[l], *const Adl = Ad[l];
                for (i = 0; i < nl; i++) {
                    const double *wi = Wl + (long)i * np;
                    fd_tv8d c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
                    long o = (long)i * m + j0;
                    for (s = 0; s < np; s++) {
                        double x = wi[s];
                        c0 += x * prev[s][0]; c1 += x * prev[s][1];
                        c2 += x * prev[s][2]; c3 += x * prev[s][3];
                    }
                    if (last) {             /* the product alone: out_forward does the rest */
                        fd_tv8d z[FD_THIN_V] = {c0, c1, c2, c3};
                        for (k = 0; k < FD_THIN_V; k++) fd_tst(Zl + o + 8 * k, z[k], cnt[k]);
                        continue;
                    }
                    fd_tv8d c[FD_THIN_V] = {c0 + bl[i], c1 + bl[i], c2 + bl[i], c3 + bl[i]};
                    for (k = 0; k < FD_THIN_V; k++) {
                        /* relu: z where z > 0 or z is NaN (where not z <= 0), else +0 */
                        c[k] = (fd_tv8d)((fd_tv8l)c[k] & ~(c[k] <= 0));
                        fd_tst(Al + o + 8 * k, c[k], cnt[k]);
                    }
                    if (Dl)
                        for (k = 0; k < FD_THIN_V; k++) {
                            c[k] = (c[k] * fd_tld(Dl + o + 8 * k, cnt[k])) / kp;
                            fd_tst(Adl + o + 8 * k, c[k], cnt[k]);
                        }
                    for (k = 0; k < FD_THIN_V; k++) cur[i][k] = c[k];
                }
                t = prev; prev = cur; cur = t;
            }
        }
    }

    FD_CLONES static void fd_thin_backward_d(int L, const int *n, int m,
            double *const *W, double *const *A, double *const *D, double kp,
            const double *Y, int ldy, const double *w, double *const *dZ) {
        fd_tv8d bufa[FD_THIN_MAX][FD_THIN_V], bufb[FD_THIN_MAX][FD_THIN_V];
        int j0, l, i, p, k, cnt[FD_THIN_V];
        for (j0 = 0; j0 < m; j0 += 8 * FD_THIN_V) {
            fd_tv8d (*cur)[FD_THIN_V] = bufa, (*nxt)[FD_THIN_V] = bufb, (*t)[FD_THIN_V];
            fd_thin_counts(m, j0, cnt);
            for (i = 0; i < n[L]; i++)
                for (k = 0; k < FD_THIN_V; k++) {
                    long o = (long)i * m + j0 + 8 * k;
                    fd_tv8d d = fd_tld(A[L] + o, cnt[k])
                                - fd_tld(Y + (long)i * ldy + j0 + 8 * k, cnt[k]);
                    if (w) d = d * fd_tld(w + j0 + 8 * k, cnt[k]);
                    fd_tst(dZ[L] + o, d, cnt[k]);
                    cur[i][k] = d;
                }
            for (l = L; l > 1; l--) {
                const int nl = n[l], np = n[l - 1];
                const double *const Wl = W[l], *const Al = A[l - 1];
                const double *const Dl = D ? D[l - 1] : NULL;
                double *const dZl = dZ[l - 1];
                for (p = 0; p < np; p++) {
                    fd_tv8d c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
                    long o = (long)p * m + j0;
                    for (i = 0; i < nl; i++) {
                        double x = Wl[(long)i * np + p];
                        c0 += x * cur[i][0]; c1 += x * cur[i][1];
                        c2 += x * cur[i][2]; c3 += x * cur[i][3];
                    }
                    fd_tv8d c[FD_THIN_V] = {c0, c1, c2, c3};
                    if (Dl)
                        for (k = 0; k < FD_THIN_V; k++)
                            c[k] = (c[k] * fd_tld(Dl + o + 8 * k, cnt[k])) / kp;
                    for (k = 0; k < FD_THIN_V; k++) {
                        /* relu': 0 where A <= 0 */
                        c[k] = (fd_tv8d)((fd_tv8l)c[k] & ~(fd_tld(Al + o + 8 * k, cnt[k]) <= 0));
                        fd_tst(dZl + o + 8 * k, c[k], cnt[k]);
                        nxt[p][k] = c[k];
                    }
                }
                t = cur; cur = nxt; nxt = t;
            }
        }
    }
    """
    enum: THIN_MAX "FD_THIN_MAX"
    void fd_thin_forward_d(int L, const int *n, int m, const double *X, double **W,
                           double **b, double **Z, double **A, double **Ad, double **D,
                           double kp) noexcept nogil
    void fd_thin_backward_d(int L, const int *n, int m, double **W, double **A, double **D,
                            double kp, const double *Y, int ldy, const double *w,
                            double **dZ) noexcept nogil

# The passes win where the products are tiny and the elementwise passes they save are most
# of a step; from about 128 weights a layer the layer-by-layer path's products (BLAS, or the
# small loops' register blocks) are faster (bench/bench_thin.py: [2, 20, 3, 1] full batch
# 0.83x the time, [16, 8, 1] about even, [64, 32, 1] batch 32 1.7x).  A net is thin where
# every layer has at most THIN_MAX units and THIN_WEIGHTS weights.
cdef enum:
    THIN_WEIGHTS = 64
