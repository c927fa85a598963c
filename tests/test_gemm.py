"""The relu layers' products with their elementwise stage in the same pass
(fastdnn/_core/gemm.pxd): against numpy's products and relu, exactly where the sums are
exact, to rounding elsewhere; and the engine's training with them against the same
training with them off (FASTDNN_GEMM=0: BLAS and the separate passes) and against the
independent numpy reference."""
import numpy as np
import pytest

from fastdnn._core.loop import GEMM_AVX512, product_epi
from fastdnn.training import Trainer, TrainingConfig
from tests import reference_v2 as r2
from tests.test_engine_v2_api import random_training_problem

needs_avx512 = pytest.mark.skipif(not GEMM_AVX512, reason="the processor lacks AVX-512: the "
                                  "engine takes BLAS and the separate passes instead")

# shapes that cover every row-block height (1..8 and beyond), vector count (1..3) and
# tail mask of both dtypes (8 doubles or 16 floats a vector), and several column blocks
SHAPES = [(1, 1, 1), (3, 5, 2), (8, 24, 7), (9, 25, 3), (13, 37, 5), (17, 48, 1), (16, 49, 11),
          (7, 95, 4), (100, 200, 30), (33, 64, 200), (2, 17, 64)]


def _ints(rs, shape, dtype):
    """small integers: every product and partial sum is exact in either dtype"""
    return rs.randint(-4, 5, shape).astype(dtype)


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a_order", ["C", "F"])
def test_product_is_exact_where_the_sums_are(dtype, a_order):
    """Integer values: every product and sum exact, so any misplaced, missed or doubled
    term (an index, a stride, a tail mask) shows; alpha a power of two, exact too."""
    rs = np.random.RandomState(0)
    for M, N, K in SHAPES:
        A = np.asarray(_ints(rs, (M, K), dtype), order=a_order)
        B = _ints(rs, (K, N), dtype)
        want = A.astype(np.float64) @ B.astype(np.float64)
        got = product_epi(A, B)
        assert got.dtype == dtype and got.shape == (M, N)
        np.testing.assert_array_equal(got, want.astype(dtype), err_msg=str((M, N, K)))
        np.testing.assert_array_equal(product_epi(A, B, alpha=0.25),
                                      (0.25 * want).astype(dtype))


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_product_to_rounding(dtype):
    """Random values: within a few ulps of the sums' scale of numpy's float64 product."""
    rs = np.random.RandomState(1)
    eps = np.finfo(dtype).eps
    for M, N, K in SHAPES:
        A = rs.randn(M, K).astype(dtype)
        B = rs.randn(K, N).astype(dtype)
        want = A.astype(np.float64) @ B.astype(np.float64)
        scale = np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64)
        got = product_epi(A, B, alpha=0.3).astype(np.float64)
        assert np.all(np.abs(got - 0.3 * want) <= 4 * eps * (K + 1) * 0.3 * scale)


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_output_is_one_chain_whatever_the_block(dtype):
    """Each output is one fused multiply-add chain over k in order: its value does not
    depend on where the row and column blocks fall, so a sub-product (rows and columns
    shifted against the blocks) gives the same bits."""
    rs = np.random.RandomState(2)
    A = rs.randn(29, 40).astype(dtype)
    B = rs.randn(40, 70).astype(dtype)
    full = product_epi(A, B)
    for r0, c0 in ((3, 5), (1, 17), (8, 24), (5, 49)):
        part = product_epi(A[r0:], np.ascontiguousarray(B[:, c0:]))
        np.testing.assert_array_equal(part, full[r0:, c0:])


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epilogues_are_the_separate_passes(dtype):
    """bias_relu: relu(Z + b) as fd_relu_bias (z + b where > 0 or NaN, else +0, so -0 and
    negative sums give +0); relu_back: the product where R > 0 or R is NaN, else 0 (as
    fd_relu_back); both on the same product's values, bit for bit."""
    rs = np.random.RandomState(3)
    for M, N, K in SHAPES:
        A = rs.randn(M, K).astype(dtype)
        B = rs.randn(K, N).astype(dtype)
        Z = product_epi(A, B)
        bias = rs.randn(M).astype(dtype)
        bias[0] = -Z[0, 0] if M > 1 else bias[0]      # an exact zero sum somewhere
        v = Z + bias[:, None]
        want = np.where(v > 0, v, dtype(0))
        got = product_epi(A, B, "bias_relu", bias=bias)
        np.testing.assert_array_equal(got, want)
        assert not np.signbit(got[got == 0]).any()   # +0, never -0
        R = rs.randn(M, N).astype(dtype)
        R[rs.rand(M, N) < 0.1] = 0
        R[rs.rand(M, N) < 0.05] = np.nan
        want = np.where((R > 0) | np.isnan(R), Z, dtype(0))
        np.testing.assert_array_equal(product_epi(A, B, "relu_back", R=R), want)
    # a NaN sum stays NaN through the relu
    A = np.array([[np.nan, 1.0]], dtype)
    assert np.isnan(product_epi(A, np.ones((2, 3), dtype), "bias_relu",
                                bias=np.zeros(1, dtype))).all()


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a_order", ["C", "F"])
def test_store_sum_gives_the_product_and_the_row_sums(dtype, a_order):
    """EPI_STORE_SUM (G_W and G_b in one pass): C as the plain product bit for bit, the row
    sums exact on integers, and nothing (None) where N leaves no spare lane."""
    rs = np.random.RandomState(3)
    lanes = 64 // np.dtype(dtype).itemsize
    for M, N, K in SHAPES + [(100, 30, 200), (9, 63, 5)]:
        A = np.asarray(_ints(rs, (M, K), dtype), order=a_order)
        B = _ints(rs, (K, N), dtype)
        out = product_epi(A, B, "store_sum", alpha=0.25)
        if N % lanes == 0:
            assert out is None, (M, N, K)
            continue
        C, sums = out
        np.testing.assert_array_equal(C, product_epi(A, B, alpha=0.25), err_msg=str((M, N, K)))
        np.testing.assert_array_equal(C, 0.25 * (A @ B))
        np.testing.assert_array_equal(sums, 0.25 * A.sum(1), err_msg=str((M, N, K)))


@needs_avx512
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_store_sum_row_sums_are_one_chain_in_order(dtype):
    """Each row sum is A(i, 0) + A(i, 1) + ... in order, then times alpha: the same bits
    as that loop in numpy, for values whose sums round."""
    rs = np.random.RandomState(4)
    for M, N, K in [(9, 25, 3), (100, 30, 200), (17, 7, 64)]:
        A = rs.standard_normal((M, K)).astype(dtype)
        B = rs.standard_normal((K, N)).astype(dtype)
        acc = np.zeros(M, dtype)
        for k in range(K):
            acc = acc + A[:, k]
        _, sums = product_epi(A, B, "store_sum", alpha=0.3)
        np.testing.assert_array_equal(sums, dtype(0.3) * acc)


def test_product_epi_rejects_bad_arguments():
    A, B = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match="epilogue"):
        product_epi(A, B, "gelu")
    with pytest.raises(ValueError, match="chain"):
        product_epi(A, np.ones((3, 5)))
    with pytest.raises(TypeError, match="dtype"):
        product_epi(A.astype(np.float32), B)
    with pytest.raises(ValueError, match="bias"):
        product_epi(A, B, "bias_relu")
    with pytest.raises(ValueError, match="bias"):
        product_epi(A, B, "bias_relu", bias=np.ones(4))
    with pytest.raises(ValueError, match="R"):
        product_epi(A, B, "relu_back", R=np.ones((3, 4)))
    with pytest.raises(ValueError, match="repeat"):
        product_epi(A, B, repeat=0)
    with pytest.raises(ValueError, match="store"):
        product_epi(A, B, "relu_back", R=np.ones((3, 5)), blas=True)


CASES = {
    # (dims, batch, config): each has a relu hidden layer of at least 8 units whose
    # products are above SMALL_WORK, so the fused passes run (where the processor has
    # AVX-512)
    "adam_softmax": ([30, 40, 5], 64, dict(optimizer="adam", output="softmax", lambd=0.1)),
    "gd_sigmoid_deep": ([20, 48, 24, 1], 100, dict(optimizer="gd")),
    "full_batch": ([12, 64, 1], None, dict(optimizer="momentum")),
    "dropout": ([30, 40, 3], 50, dict(optimizer="adam", output="softmax", keep_prob=0.8)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_large_batch_copies_within_the_capped_scratch(monkeypatch, dtype):
    """The transposed copy's scratch is capped (a full batch of a large data set does not
    allocate max n_l x m): a batch of 4000 whose layer 1 (8 units) still runs on the kernel,
    its X_B^T copied whole, beside a wider hidden layer (100 x 4000 > the cap), trains as
    with the kernel off."""
    rs = np.random.RandomState(8)
    X, Y, P = random_training_problem(rs, [16, 8, 100, 1], 4000, "F")
    runs, fused = {}, {}
    for flag in ("1", "0"):
        monkeypatch.setenv("FASTDNN_GEMM", flag)
        tr = Trainer(X, Y, P, TrainingConfig(optimizer="momentum", learning_rate=0.05,
                                             dtype=dtype))
        tr.run(3)
        runs[flag] = tr.parameters()
        fused[flag] = getattr(tr, "_engine").fused_products
    assert fused["0"] == 0 and (fused["1"] > 0) == GEMM_AVX512
    tol = 1e-9 if dtype == "float64" else 1e-4
    for key in runs["1"]:
        a, b = runs["1"][key].astype(np.float64), runs["0"][key].astype(np.float64)
        assert np.abs(a - b).max() <= tol * np.abs(b).max(), key


@pytest.mark.parametrize("x_order", ["C", "F"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_with_the_fused_passes_agrees(monkeypatch, x_order, case, dtype):
    """The engine's training with the fused products (FASTDNN_GEMM=1) against the same
    training with them off (BLAS and the separate passes): the same to rounding (1e-9 of
    the parameters' scale in float64, 1e-4 in float32), the costs alike; and in float64
    both against the independent numpy reference (tests/reference_v2.py)."""
    rs = np.random.RandomState(7)
    dims, mb, kw = CASES[case]
    X, Y, P = random_training_problem(rs, dims, 300, x_order)
    runs, fused = {}, {}
    for flag in ("1", "0"):
        monkeypatch.setenv("FASTDNN_GEMM", flag)
        cfg = TrainingConfig(learning_rate=0.01, mini_batch_size=mb,
                             shuffle="course" if mb else "none", dtype=dtype, **kw)
        tr = Trainer(X, Y, P, cfg)
        costs = tr.run(5, record_every=1)
        runs[flag] = (tr.parameters(), np.asarray(costs))
        fused[flag] = getattr(tr, "_engine").fused_products
    on, off = runs["1"], runs["0"]
    tol = 1e-9 if dtype == "float64" else 1e-4
    for key in on[0]:
        a, b = on[0][key].astype(np.float64), off[0][key].astype(np.float64)
        assert np.abs(a - b).max() <= tol * np.abs(b).max(), key
    np.testing.assert_allclose(on[1], off[1], rtol=tol)
    # they ran (where the processor has them), and not with FASTDNN_GEMM=0
    assert fused["0"] == 0
    assert (fused["1"] > 0) == GEMM_AVX512
    if dtype == "float64":
        ref_p, ref_c = r2.train_v2(X, Y, dims, parameters=P, learning_rate=0.01,
                                   num_iterations=5, mini_batch_size=mb, record_every=1,
                                   **kw)
        for key in ref_p:
            assert r2.rel_err(on[0][key], ref_p[key]) <= 1e-9, key
        np.testing.assert_allclose(on[1], ref_c, rtol=1e-9)
