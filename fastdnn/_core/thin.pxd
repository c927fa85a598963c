# One pass over the examples a step for thin networks (float64, relu hidden layers, a
# sigmoid output, every layer at most THIN_MAX units and THIN_WEIGHTS weights: see the end):
# course 2's [2, 10, 5, 1], [2, 20, 3, 1] and [2, 5, 2, 1] nets, whose products are a few
# thousand multiply-adds each.  Layer by layer, each product and elementwise stage is its own
# pass over (n_l x m) buffers; here fd_thin_step_d takes a block of 32 examples through the
# whole step with the hidden values in a small scratch (for each layer, the block's input):
#
#   forward    A_l = relu(W_l A_{l-1} + b_l), Ad_l = A_l * D_l / keep_prob (dropout) for the
#              hidden layers, Z_L = W_L Ad_{L-1}, then the engine's output layer (its
#              out_forward, passed in) on the block
#   deltas     dZ_L = (A_L - Y) * w, then dZ_{l-1} = W_l^T dZ_l (/ keep_prob) where
#              Ad_{l-1} > 0 (A_{l-1} > 0 and D = 1), else 0
#   gradients  the sums of dZ_l Ad_{l-1}^T and of dZ_l, in 8 lanes per element (example j
#              in lane j % 8), added up when the blocks are done
#
# with the formulas of the engine's layer-by-layer path, each product summed over its inner
# index in order (a hidden layer's forward sums from its bias, the rest from 0); the bias
# added first, the gradients' sums (lanes, then pairwise) and the division by keep_prob
# (fd_thin_div) round differently from that path's, so the two agree to rounding
# (tests/test_thin.py).  Only Z_L and A_L reach the engine's buffers.
# The last block takes the vectors its examples fill (1..4); those that hold fewer than 8
# examples go through the same vector code zero-padded (their deltas zero), stored back in
# part.  A data-parallel team runs it on each thread's examples (ld, doff, share; split at
# multiples of FD_THIN_SPLIT = 8).  Compiled as small.pxd's loops (fastdnn/_simd.h; the
# clones with FMA fuse the sums' steps).
cdef extern from *:
    """
    #include "fastdnn/_simd.h"
    #define FD_THIN_MAX 64
    typedef long fd_tv8l __attribute__((vector_size(64)));   /* what comparisons give */
    /* a vector of cnt (0..8) consecutive values, zero-padded; stored back in part */
    static inline FD_INLINE fd_v8d fd_tld(const double *p, int cnt) {
        fd_v8d v = {0};
        if (cnt == 8) memcpy(&v, p, sizeof v);
        else if (cnt > 0) memcpy(&v, p, (size_t)cnt * sizeof(double));
        return v;
    }
    static inline FD_INLINE void fd_tst(double *p, fd_v8d v, int cnt) {
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

    /* the output layer's bias and activation on a block of cnt columns (leading dimension
       ld): the engine's out_forward, passed in */
    typedef void (*fd_thin_out_fn)(double *Z, const double *b, double *A, int rows, int cnt,
                                   long ld);

    /* x / kp for x = A * D or dZ * D, on a processor with AVX-512 (fz) the divider's
       quotient without the divider (a vector division takes 16 cycles, and a dropout step
       divides every hidden value twice): q = x * (1 / kp), then q + (x - q kp) / kp, the
       remainder and the last step each one fused multiply-add (__builtin_fma: an
       instruction in the AVX-512 clone, a call at -O0), which is x / kp correctly rounded
       (Markstein's theorem, 1 / kp being correctly rounded).  Zeros, NaN, infinities and x
       outside [2^-960, 2^1000] in magnitude (where q kp could overflow or the remainder
       underflow) take x * (1 / kp): the same value for the first three, within an ulp for
       the rest (no branch: a vector's values blended).  Without AVX-512: the division. */
    typedef unsigned long fd_tv8u __attribute__((vector_size(64)));
    static inline FD_INLINE fd_v8d fd_thin_div(fd_v8d x, double kp, double kr, int fz) {
        if (!fz)
            return x / kp;
        /* |x| in [2^-960, 2^1000]: one unsigned comparison of the bits less 2^-960's */
        const fd_tv8u lo = (fd_tv8u){0} + 0x03f0000000000000UL,
                      span = (fd_tv8u){0} + (0x7e70000000000000UL - 0x03f0000000000000UL);
        fd_v8d q = x * kr, f;
        for (int k = 0; k < 8; k++)
            f[k] = __builtin_fma(__builtin_fma(-q[k], kp, x[k]), kr, q[k]);
        fd_tv8l ok = (fd_tv8l)((((fd_tv8u)x & 0x7fffffffffffffffUL) - lo) <= span);
        return (fd_v8d)((ok & (fd_tv8l)f) | (~ok & (fd_tv8l)q));
    }
    /* fd_thin_div takes the fused path where the processor has AVX-512 (its clone):
       fz = fd_avx512f() (fastdnn/_simd.h) */

    /* fd_thin_div over n values (a test hook's way to it: tests/test_thin.py) */
    FD_CLONES static void fd_thin_div_array(const double *x, double *out, long n, double kp) {
        const double kr = 1.0 / kp;
        const int fz = fd_avx512f();
        long j = 0;
        for (; j + 8 <= n; j += 8) fd_tst(out + j, fd_thin_div(fd_tld(x + j, 8), kp, kr, fz), 8);
        if (j < n)
            fd_tst(out + j, fd_thin_div(fd_tld(x + j, (int)(n - j)), kp, kr, fz), (int)(n - j));
    }

    /* The three products of a block, each for a group of U units (U = 1..4) and the
       block's V vectors (V = 1..4), both constants where called, so each pair is its own
       unrolled code with its sums in registers: 4 units x 4 vectors = 16 independent sums,
       each input vector loaded once for the group; the forward and back-propagated ones
       through fd_thin_sums. */
    #if FD_THIN_V != 4
    #  error "fd_thin_grad adds up a block's deltas as at most four vectors"
    #endif
    #define FD_THIN_G 4

    /* the sums of units 0..U-1: acc[u][k] = init[u] (NULL: 0) + sum_s w[u su + s ss] in_s[k]
       over s = 0..ns-1 in order, each input vector loaded once for the group; the forward
       product takes W's rows (su = np, ss = 1), the back-propagated one W's columns (su = 1,
       ss = np) */
    static inline FD_INLINE void fd_thin_sums(const double *w, long su, long ss, int ns,
            const fd_v8d *in, const double *init, int U, int V,
            fd_v8d acc[FD_THIN_G][FD_THIN_V]) {
        #pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            const double b0 = init ? init[u] : 0.0;
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) acc[u][k] = (fd_v8d){0} + b0;
        }
        for (int s = 0; s < ns; s++) {
            const fd_v8d *a = in + s * FD_THIN_V;
            fd_v8d x[FD_THIN_V];
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) x[k] = a[k];
            #pragma GCC unroll 4
            for (int u = 0; u < U; u++) {
                const double c = w[u * su + s * ss];
                #pragma GCC unroll 4
                for (int k = 0; k < V; k++) acc[u][k] += c * x[k];
            }
        }
    }

    /* forward of units 0..U-1 of a layer (rows w, w + np, ...): their sums over the inputs
       s in order, from the bias b[u] (a hidden layer) or from 0 (the last: Z_L stored, as
       the engine's output layer adds the bias itself); a hidden unit's then relu (z where
       z > 0 or z is NaN, else +0), kept as the next layer's input nx (after dropout:
       A * D / kp) */
    static inline FD_INLINE void fd_thin_fwd(const double *w, int np, const fd_v8d *in,
            const double *b, int U, int V, int last, double *ZL, long ld, int j0,
            const int *cnt, const double *D, double kp, double kr, int fz, fd_v8d *nx) {
        fd_v8d acc[FD_THIN_G][FD_THIN_V];
        fd_thin_sums(w, np, 1, np, in, last ? NULL : b, U, V, acc);
        #pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) {
                fd_v8d z = acc[u][k];
                if (last) {
                    fd_tst(ZL + (long)u * ld + j0 + 8 * k, z, cnt[k]);
                    continue;
                }
                z = (fd_v8d)((fd_tv8l)z & ~(z <= 0));
                if (D)
                    z = fd_thin_div(z * fd_tld(D + (long)u * ld + j0 + 8 * k, cnt[k]), kp, kr, fz);
                nx[u * FD_THIN_V + k] = z;
            }
        }
    }

    /* the gradients' lanes of units 0..U-1 (deltas d): gb[u] += the block's deltas (its
       vectors added pairwise), gw[u][p] += d_u in_p^T over the block's vectors in order;
       the first block's sums start from +0 instead (the step's first: nothing to clear);
       fd_thin_grad_of with the deltas in dd, fd_thin_grad with them at d */
    static inline FD_INLINE void fd_thin_grad_of(fd_v8d dd[FD_THIN_G][FD_THIN_V], int np,
            const fd_v8d *in, fd_v8d *gw, fd_v8d *gb, int U, int V, int first) {
        #pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            gb[u] = (first ? (fd_v8d){0} : gb[u])
                    + (V == 4 ? (dd[u][0] + dd[u][1]) + (dd[u][2] + dd[u][3])
                       : V == 3 ? (dd[u][0] + dd[u][1]) + dd[u][2]
                       : V == 2 ? dd[u][0] + dd[u][1] : dd[u][0]);
        }
        for (int p = 0; p < np; p++) {
            const fd_v8d *a = in + p * FD_THIN_V;
            fd_v8d x[FD_THIN_V];
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) x[k] = a[k];
            #pragma GCC unroll 4
            for (int u = 0; u < U; u++) {
                fd_v8d g = first ? (fd_v8d){0} : gw[(long)u * np + p];
                #pragma GCC unroll 4
                for (int k = 0; k < V; k++) g += dd[u][k] * x[k];
                gw[(long)u * np + p] = g;
            }
        }
    }
    static inline FD_INLINE void fd_thin_grad(const fd_v8d *d, int np, const fd_v8d *in,
                                              fd_v8d *gw, fd_v8d *gb, int U, int V,
                                              int first) {
        fd_v8d dd[FD_THIN_G][FD_THIN_V];
        #pragma GCC unroll 4
        for (int u = 0; u < U; u++)
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) dd[u][k] = d[u * FD_THIN_V + k];
        fd_thin_grad_of(dd, np, in, gw, gb, U, V, first);
    }

    /* the deltas of inputs 0..U-1 of a layer (W's columns w, w + 1, ...): sum_i W[i][u] d_i
       over its nl units i in order (/ kp with dropout: drop), 0 where A <= 0, into nxt.
       A: the inputs' values after dropout, A * D / kp, which are > 0 where A > 0 and
       D = 1, so relu' and the mask in one: the mask's multiplication (by 1 where A > 0,
       by 0 where the delta is zeroed anyway) is left out.  (Apart: with A NaN, which the
       mask keeps, dropped or not, the delta is the sum / kp.)  For the first layer's
       inputs (gw given) the deltas go from registers into that layer's gradients' lanes
       (fd_thin_grad_of with the block's input x0 of n0 rows, the gradients gw, gb of
       units 0..U-1), not to nxt: nothing else reads them. */
    static inline FD_INLINE void fd_thin_back(const double *w, int np, int nl, const fd_v8d *d,
            int U, int V, int drop, double kp, double kr, int fz, const fd_v8d *A,
            fd_v8d *nxt, const fd_v8d *x0, int n0, fd_v8d *gw, fd_v8d *gb, int first) {
        fd_v8d acc[FD_THIN_G][FD_THIN_V];
        fd_thin_sums(w, 1, np, nl, d, NULL, U, V, acc);
        #pragma GCC unroll 4
        for (int u = 0; u < U; u++) {
            #pragma GCC unroll 4
            for (int k = 0; k < V; k++) {
                fd_v8d v = acc[u][k];
                if (drop)
                    v = fd_thin_div(v, kp, kr, fz);
                /* (r apart, and one store or the other: GCC 12's -O3 -g -fwrapv failed
                   with an internal error on storing the masked value to both) */
                const fd_v8d r = (fd_v8d)((fd_tv8l)v & ~(A[u * FD_THIN_V + k] <= 0));
                if (gw)
                    acc[u][k] = r;
                else
                    nxt[u * FD_THIN_V + k] = r;
            }
        }
        if (gw)
            fd_thin_grad_of(acc, n0, x0, gw, gb, U, V, first);
    }

    /* out[j] = alpha * fd_hsum8(v[j]) for j = 0..n-1 (alpha = 1 / N with div: / N): eight
       sums at a time as one vector, each with fd_hsum8's additions in its order (lanes in
       pairs, pairs of pairs, halves), so the same values; the transposition in shuffles
       (unpacking pairs of vectors, then 128-bit lanes), 21 operations for eight sums where
       fd_hsum8 takes about 100 (the sums of a thin step's gradients were a tenth of a
       two-thread step) */
    static inline FD_INLINE void fd_hsum8_rows(const fd_v8d *v, long n, double alpha, int div,
                                              double *out) {
        const fd_tv8l lo = {0, 8, 2, 10, 4, 12, 6, 14}, hi = {1, 9, 3, 11, 5, 13, 7, 15},
                      q0 = {0, 1, 4, 5, 8, 9, 12, 13}, q1 = {2, 3, 6, 7, 10, 11, 14, 15};
        long j = 0;
        for (; j + 8 <= n; j += 8) {
            const fd_v8d *x = v + j;
            /* pairs: s01 = [v0 lanes 0+1, v1 lanes 0+1, v0 2+3, v1 2+3, ...] */
            fd_v8d s01 = __builtin_shuffle(x[0], x[1], lo) + __builtin_shuffle(x[0], x[1], hi);
            fd_v8d s23 = __builtin_shuffle(x[2], x[3], lo) + __builtin_shuffle(x[2], x[3], hi);
            fd_v8d s45 = __builtin_shuffle(x[4], x[5], lo) + __builtin_shuffle(x[4], x[5], hi);
            fd_v8d s67 = __builtin_shuffle(x[6], x[7], lo) + __builtin_shuffle(x[6], x[7], hi);
            /* pairs of pairs: u = [v0 0..3, v1 0..3, v0 4..7, v1 4..7, v2 0..3, ...] */
            fd_v8d u = __builtin_shuffle(s01, s23, q0) + __builtin_shuffle(s01, s23, q1);
            fd_v8d w = __builtin_shuffle(s45, s67, q0) + __builtin_shuffle(s45, s67, q1);
            /* halves: [v0, v1, ..., v7] */
            fd_v8d t = __builtin_shuffle(u, w, q0) + __builtin_shuffle(u, w, q1);
            t = div ? t / alpha : alpha * t;
            memcpy(out + j, &t, sizeof t);
        }
        for (; j < n; j++)
            out[j] = div ? fd_hsum8(v[j]) / alpha : alpha * fd_hsum8(v[j]);
    }

    /* CALL(U) for the group of min(R, 4) units, U a constant */
    #define FD_THIN_GROUP(R, CALL) \
        switch ((R) < FD_THIN_G ? (R) : FD_THIN_G) { \
            case 1: CALL(1); break; case 2: CALL(2); break; case 3: CALL(3); break; \
            default: CALL(4); }

    /* One block of the step (its V vectors from example j0: cnt[k] examples each, tot in
       all), with the offsets of fd_thin_step_d's scratches (below) */
    static inline FD_INLINE void fd_thin_block(int V, int L, const int *n, int j0,
            const int *cnt, int tot, long ld, const double *X, long ldx, double *const *W,
            double *const *b, double *ZL, double *AL, double *const *D, long doff, double kp,
            double kr, int fz, const double *Y, int ldy, const double *w, fd_v8d *act,
            fd_v8d *acc, const long *in_off, const long *acc_off,
            fd_thin_out_fn out) {
        fd_v8d bufa[FD_THIN_MAX * FD_THIN_V], bufb[FD_THIN_MAX * FD_THIN_V];
        int l, i, p, s, k;
        fd_v8d *x = act + in_off[0];
        for (s = 0; s < n[0]; s++)
            for (k = 0; k < V; k++)
                x[s * FD_THIN_V + k] = fd_tld(X + (long)s * ldx + j0 + 8 * k, cnt[k]);
        /* ---- forward, up to four units at a time */
        for (l = 1; l <= L; l++) {
            const int nl = n[l], np = n[l - 1], last = l == L;
            const double *const Wl = W[l], *const bl = b[l];
            const double *const Dl = D && !last ? D[l] + doff : NULL;
            const fd_v8d *const in = act + in_off[l - 1];
            fd_v8d *const nx = last ? NULL : act + in_off[l];
            for (i = 0; i < nl; i += FD_THIN_G) {
    #define FD_THIN_FWD(U) fd_thin_fwd(Wl + (long)i * np, np, in, bl + i, U, V, last,          \
                                       ZL + (long)i * ld, ld, j0, cnt,                         \
                                       Dl ? Dl + (long)i * ld : NULL, kp, kr, fz,              \
                                       last ? NULL : nx + i * FD_THIN_V)
                FD_THIN_GROUP(nl - i, FD_THIN_FWD)
            }
        }
        out(ZL + j0, b[L], AL + j0, n[L], tot, ld);
        /* ---- deltas and the gradients' sums */
        fd_v8d *cur = bufa, *nxt = bufb, *t;
        for (i = 0; i < n[L]; i++)
            for (k = 0; k < V; k++) {
                fd_v8d d = fd_tld(AL + (long)i * ld + j0 + 8 * k, cnt[k])
                            - fd_tld(Y + (long)i * ldy + j0 + 8 * k, cnt[k]);
                if (w) d = d * fd_tld(w + j0 + 8 * k, cnt[k]);
                cur[i * FD_THIN_V + k] = d;     /* zero past the block's examples */
            }
        for (l = L; l >= 1; l--) {
            const int nl = n[l], np = n[l - 1];
            const double *const Wl = W[l];
            const fd_v8d *const in = act + in_off[l - 1];
            fd_v8d *const aW = acc + acc_off[l], *const ab = aW + (long)nl * np;
            for (i = 0; i < nl; i += FD_THIN_G) {
    #define FD_THIN_GRAD(U) fd_thin_grad(cur + i * FD_THIN_V, np, in, aW + (long)i * np, ab + i, \
                                         U, V, j0 == 0)
                FD_THIN_GROUP(nl - i, FD_THIN_GRAD)
            }
            if (l == 1)
                break;
            /* layer 1's deltas (l == 2) go straight into its gradients' lanes */
            fd_v8d *const g1 = l == 2 ? acc + acc_off[1] : NULL;
            for (p = 0; p < np; p += FD_THIN_G) {
    #define FD_THIN_BACK(U) fd_thin_back(Wl + p, np, nl, cur, U, V, D != NULL, kp, kr, fz,     \
                                         in + p * FD_THIN_V, nxt + p * FD_THIN_V,              \
                                         act + in_off[0], n[0],                                \
                                         g1 ? g1 + (long)p * n[0] : NULL,                      \
                                         g1 ? g1 + (long)np * n[0] + p : NULL, j0 == 0)
                FD_THIN_GROUP(np - p, FD_THIN_BACK)
            }
            if (l == 2)
                break;
            t = cur; cur = nxt; nxt = t;
        }
    }

    /* One step's passes.  For each block of 32 examples (the last one's V = 1..4 vectors
       those its examples fill, so a span that ends past a multiple of 8 costs no more than
       its vectors):
         forward   the input of layer l (X's block, then A_l = relu(W_l in + b_l), after
                   dropout A_l * D_l / kp) kept in act; Z_L = W_L in stored, then
                   out(Z_L + b_L) -> A_L (the engine's output layer)
         deltas    dZ_L = (A_L - Y) * w, dZ_{l-1} = W_l^T dZ_l (/ kp), 0 where in <= 0
         sums      of dZ_l in^T and of dZ_l, in 8 lanes each (example j in lane j % 8, the
                   blocks in order; a block's vectors added pairwise for the bias), in acc
       then G_W_l = alpha * (the lanes added pairwise), G_b_l = (the same) / N, into
       GW[l], Gb[l], or with share given into share: every G_W_l then G_b_l, layer by layer
       (a data-parallel team's share, Bufs.gpart's layout).  m columns of Z_L, A_L and the
       masks D[l] + doff, with leading dimension ld; X's is ldx, Y's ldy.
       act: sum_{l<L} n_l * 4 vectors; acc: sum_l n_l (n_{l-1} + 1) vectors.  Hidden
       activations and deltas stay in these scratches: only Z_L and A_L are written to the
       engine's buffers. */
    FD_CLONES static void fd_thin_step_d(int L, const int *n, int m, long ld,
            const double *X, long ldx, double *const *W, double *const *b, double *ZL, double *AL,
            double *const *D, long doff, double kp, const double *Y, int ldy,
            const double *w, fd_v8d *act, fd_v8d *acc, double *const *GW,
            double *const *Gb, double *share, double alpha, double N, fd_thin_out_fn out) {
        long in_off[L + 1], acc_off[L + 1], o;
        int j0, l, cnt[FD_THIN_V];
        const double kr = 1.0 / kp;
        const int fz = fd_avx512f();
        o = 0;
        for (l = 0; l < L; l++) { in_off[l] = o; o += (long)n[l] * FD_THIN_V; }
        o = 0;
        for (l = 1; l <= L; l++) { acc_off[l] = o; o += (long)n[l] * (n[l - 1] + 1); }
        if (m <= 0)     /* no block to start the sums: they are zero */
            memset(acc, 0, (size_t)o * sizeof(fd_v8d));
        for (j0 = 0; j0 < m; j0 += 8 * FD_THIN_V) {
            const int tot = m - j0 < 8 * FD_THIN_V ? m - j0 : 8 * FD_THIN_V;
            fd_thin_counts(m, j0, cnt);
    #define FD_THIN_BLOCK(V) fd_thin_block(V, L, n, j0, cnt, tot, ld, X, ldx, W, b, ZL, AL, D, \
                                           doff, kp, kr, fz, Y, ldy, w, act, acc, in_off,      \
                                           acc_off, out)
            switch ((tot + 7) / 8) {
                case 1: FD_THIN_BLOCK(1); break;
                case 2: FD_THIN_BLOCK(2); break;
                case 3: FD_THIN_BLOCK(3); break;
                default: FD_THIN_BLOCK(4);
            }
        }
        for (l = 1; l <= L; l++) {
            const long nw = (long)n[l] * n[l - 1];
            const fd_v8d *aW = acc + acc_off[l];
            double *gw = share ? share + acc_off[l] : GW[l], *gb = share ? gw + nw : Gb[l];
            fd_hsum8_rows(aW, nw, alpha, 0, gw);
            fd_hsum8_rows(aW + nw, n[l], N, 1, gb);
        }
    }

    /* fd_thin_step_d's callers split a step's examples between threads at multiples of 8
       (FD_THIN_SPLIT): each thread's last block takes the vectors its examples fill */
    #define FD_THIN_SPLIT 8
    """
    enum: THIN_MAX "FD_THIN_MAX"
    ctypedef void (*fd_thin_out_fn)(double *Z, const double *b, double *A, int rows, int cnt,
                                   long ld) noexcept nogil
    void fd_thin_step_d(int L, const int *n, int m, long ld, const double *X, long ldx,
                        double **W,
                        double **b, double *ZL, double *AL, double **D, long doff, double kp,
                        const double *Y, int ldy, const double *w, void *act, void *acc,
                        double **GW, double **Gb, double *share, double alpha, double N,
                        fd_thin_out_fn out) noexcept nogil
    enum: THIN_V "FD_THIN_V"
    enum: THIN_SPLIT "FD_THIN_SPLIT"
    void fd_thin_div_array(const double *x, double *out, long n, double kp) noexcept nogil

# The pass wins where the products are tiny and the passes it saves are most of a step;
# from a few hundred weights a layer the layer-by-layer path's products (BLAS, or the small
# loops' register blocks) are as fast or faster (bench/bench_thin.py, two runs, the pass's
# time over the layer path's: [2, 10, 5, 1] full batch 0.64-0.74, [2, 20, 3, 1] 0.55-0.62,
# [8, 8, 1] 0.89-0.90, [16, 8, 1] 0.91-0.94; one run: [16, 16, 1] 1.09, [32, 16, 1] 1.36,
# [16, 32, 1] at batch 200 0.92; [30, 50, 1] 1.05-1.20, [64, 32, 1] at batch 32 1.56-1.84).
# A net is thin where every layer has at most THIN_MAX units and THIN_WEIGHTS weights.
cdef enum:
    THIN_WEIGHTS = 64
