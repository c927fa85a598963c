"""The float32 softmax output layer in one pass (fastdnn/_kernels.pyx's fd_softmax_out_f_512)
against the four passes it replaces (bias, shift by the column's maximum, exp, scale by the
column's sum): Z and A bit for bit, for every row count up to the kernel's 32, column counts
around the 16-column blocks, large and tiny logits, infinities and NaN; and both against
numpy's softmax in float64 to float32's rounding."""
import numpy as np
import pytest

from fastdnn._kernels import softmax_output


def _fused_or_skip(Z, b, m=-1):
    got = softmax_output(Z, b, m)
    if got is None:
        pytest.skip("the processor lacks AVX-512: the engine runs the four passes")
    return got


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 10, 16, 17, 31, 32])
@pytest.mark.parametrize("m", [1, 5, 15, 16, 17, 33, 64, 200])
def test_one_pass_is_the_four_passes_bit_for_bit(rows, m):
    rs = np.random.RandomState(rows * 1000 + m)
    Z = (rs.standard_normal((rows, m)) * 4).astype(np.float32)
    b = rs.standard_normal(rows).astype(np.float32)
    z1, a1 = _fused_or_skip(Z, b)
    z0, a0 = softmax_output(Z, b, fused=False)
    np.testing.assert_array_equal(z1, z0)
    np.testing.assert_array_equal(a1, a0)
    e = np.exp(Z.astype(np.float64) + b[:, None] - (Z + b[:, None]).max(0))
    np.testing.assert_allclose(a1, e / e.sum(0), rtol=2e-6, atol=1e-30)


def test_columns_past_m_are_left_alone():
    rs = np.random.RandomState(1)
    Z = rs.standard_normal((10, 40)).astype(np.float32)
    b = rs.standard_normal(10).astype(np.float32)
    for m in (1, 16, 23, 39):
        z1, a1 = _fused_or_skip(Z, b, m)
        z0, a0 = softmax_output(Z, b, m, fused=False)
        np.testing.assert_array_equal(z1, z0)
        np.testing.assert_array_equal(a1, a0)
        np.testing.assert_array_equal(z1[:, m:], Z[:, m:])
        assert not a1[:, m:].any()


def test_extreme_and_non_finite_logits_as_the_passes():
    Z = np.array([[1e30, -1e30, 0, np.inf, np.nan, -np.inf, 88.0, -104.0, 3.0],
                  [1e30, 1e30, 0, 1.0, 1.0, -np.inf, -88.0, -104.0, np.nan],
                  [-1e30, 0, 0, np.inf, 2.0, 5.0, 0.0, -200.0, 1.0]], dtype=np.float32)
    b = np.array([0.5, -0.5, 0.0], dtype=np.float32)
    with np.errstate(all="ignore"):
        z1, a1 = _fused_or_skip(Z, b)
        z0, a0 = softmax_output(Z, b, fused=False)
    np.testing.assert_array_equal(z1, z0)          # NaN where the passes give NaN, too
    np.testing.assert_array_equal(a1, a0)


def test_more_rows_than_the_kernel_takes_run_the_passes():
    Z = np.zeros((33, 5), np.float32)
    assert softmax_output(Z, np.zeros(33, np.float32)) is None
    z0, a0 = softmax_output(Z, np.zeros(33, np.float32), fused=False)
    np.testing.assert_allclose(a0, 1 / 33, rtol=1e-6)
