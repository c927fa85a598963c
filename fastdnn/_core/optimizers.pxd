# Optimisers: one nogil pass per parameter array, the L2 term folded in.
#
# g = G + l2 * P   (G: the loss gradient, l2 = lambd / N for weights, 0 for biases)
#
#   gd            P -= lr g
#   momentum      V = beta V + (1 - beta) g;  P -= lr V                   (course 2)
#   adam          V = b1 V + (1 - b1) g;  S = b2 S + (1 - b2) g^2;
#                 P -= lr (V / c1) / (sqrt(S / c2) + eps),  c_k = 1 - b_k^t (course 2;
#                 computed as (lr/c1) V / (sqrt(S (1/c2)) + eps))
#   sgd           V = mu V - lr g;  P += V,  or with Nesterov  P += mu V - lr g  (scikit-learn)
#   adam_sklearn  V, S as adam;  P -= lr_t V / (sqrt(S) + eps),
#                 lr_t = lr sqrt(c2) / c1                                (scikit-learn)
#
# The values of the enum are the ones of fastdnn.training.registry.OPTIMIZERS.
from libc.math cimport sqrt, sqrtf
from fastdnn._blas cimport floating

cdef enum Optimizer:
    OPT_GD = 0
    OPT_MOMENTUM = 1
    OPT_ADAM = 2
    OPT_SGD = 3
    OPT_ADAM_SKLEARN = 4


cdef struct Hyper:
    double lr, beta, beta1, beta2, eps, momentum
    double c1, c2          # 1 - beta1^t, 1 - beta2^t of the current step
    bint nesterov


cdef inline bint opt_has_v(int opt) noexcept nogil:
    return opt != OPT_GD

cdef inline bint opt_has_s(int opt) noexcept nogil:
    return opt == OPT_ADAM or opt == OPT_ADAM_SKLEARN

cdef inline bint opt_is_linear(int opt) noexcept nogil:
    """The update is linear in (P, V, G): the gram solver's representation applies."""
    return opt == OPT_GD or opt == OPT_MOMENTUM or opt == OPT_SGD


cdef inline floating _sqrt(floating x) noexcept nogil:
    """sqrt in the dtype (sqrtf for float32: no round trip through double); with
    -fno-math-errno (setup.py) the loops below vectorise."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void opt_update(int opt, const Hyper *h, floating *P, const floating *G,
                            floating *V, floating *S, Py_ssize_t n, double l2) noexcept nogil:
    """One update of the n parameters P with gradient G (+ l2 P) and state V, S."""
    cdef Py_ssize_t i
    cdef floating g, lam = <floating>l2, lr = <floating>h.lr
    cdef floating b = <floating>h.beta, omb = <floating>(1 - h.beta)
    cdef floating b1 = <floating>h.beta1, omb1 = <floating>(1 - h.beta1)
    cdef floating b2 = <floating>h.beta2, omb2 = <floating>(1 - h.beta2)
    cdef floating eps = <floating>h.eps
    cdef floating mu = <floating>h.momentum
    cdef floating lr_t = <floating>(h.lr * sqrt(h.c2) / h.c1)
    # Adam's bias corrections folded into two scalars (one division and one sqrt per
    # element instead of three divisions: the update loop is the engine's costliest
    # elementwise pass; it differs from lr (V/c1) / (sqrt(S/c2) + eps) by rounding only)
    cdef floating lr_c1 = <floating>(h.lr / h.c1), inv_c2 = <floating>(1.0 / h.c2)
    if opt == OPT_GD:
        if l2 == 0:
            for i in range(n):
                P[i] = P[i] - lr * G[i]
        else:
            for i in range(n):
                P[i] = P[i] - lr * (G[i] + lam * P[i])
    elif opt == OPT_MOMENTUM:
        for i in range(n):
            g = G[i] + lam * P[i]
            V[i] = b * V[i] + omb * g
            P[i] = P[i] - lr * V[i]
    elif opt == OPT_ADAM:
        for i in range(n):
            g = G[i] + lam * P[i]
            V[i] = b1 * V[i] + omb1 * g
            S[i] = b2 * S[i] + omb2 * (g * g)
            P[i] = P[i] - lr_c1 * V[i] / (_sqrt(S[i] * inv_c2) + eps)
    elif opt == OPT_SGD:
        if h.nesterov:
            for i in range(n):
                g = G[i] + lam * P[i]
                V[i] = mu * V[i] - lr * g
                P[i] = P[i] + (mu * V[i] - lr * g)
        else:
            for i in range(n):
                g = G[i] + lam * P[i]
                V[i] = mu * V[i] - lr * g
                P[i] = P[i] + V[i]
    else:
        for i in range(n):
            g = G[i] + lam * P[i]
            V[i] = b1 * V[i] + omb1 * g
            S[i] = b2 * S[i] + omb2 * (g * g)
            P[i] = P[i] - lr_t * V[i] / (_sqrt(S[i]) + eps)
