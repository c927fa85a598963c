# Random numbers for the training loop, reproducing numpy's streams exactly.
#
# * Mini-batch permutations: numpy's legacy ``np.random.RandomState(s).permutation(m)``
#   (course 2's random_mini_batches), i.e. MT19937 seeded by init_genrand(s), then a
#   Fisher-Yates shuffle of arange(m) from the last position down, each index drawn by
#   rejection from the 32-bit outputs masked to the smallest 2^k - 1 >= i (numpy's
#   random_interval).  Written here from the published algorithms (Matsumoto and
#   Nishimura's MT19937), checked against numpy in tests/test_rng.py.
# * Dropout masks: a numpy.random.PCG64 bit generator owned by the trainer, reached
#   through numpy's C-API (bitgen_t.next_double: the doubles Generator.random draws).
from libc.stdint cimport uint32_t, int64_t
from numpy.random cimport bitgen_t


cdef struct MT19937:
    uint32_t key[624]
    int pos


cdef inline void mt_seed(MT19937 *st, uint32_t s) noexcept nogil:
    cdef int i
    st.key[0] = s
    for i in range(1, 624):
        st.key[i] = <uint32_t>(1812433253U * (st.key[i - 1] ^ (st.key[i - 1] >> 30)) + <uint32_t>i)
    st.pos = 624


cdef inline void _mt_twist(MT19937 *st) noexcept nogil:
    cdef int i
    cdef uint32_t y
    for i in range(624 - 397):
        y = (st.key[i] & 0x80000000U) | (st.key[i + 1] & 0x7fffffffU)
        st.key[i] = st.key[i + 397] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    for i in range(624 - 397, 623):
        y = (st.key[i] & 0x80000000U) | (st.key[i + 1] & 0x7fffffffU)
        st.key[i] = st.key[i + 397 - 624] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    y = (st.key[623] & 0x80000000U) | (st.key[0] & 0x7fffffffU)
    st.key[623] = st.key[396] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU)
    st.pos = 0


cdef inline uint32_t mt_next32(MT19937 *st) noexcept nogil:
    cdef uint32_t y
    if st.pos >= 624:
        _mt_twist(st)
    y = st.key[st.pos]
    st.pos += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680U
    y ^= (y << 15) & 0xefc60000U
    y ^= y >> 18
    return y


cdef inline uint32_t mt_interval(MT19937 *st, uint32_t mx) noexcept nogil:
    """Uniform integer in [0, mx] by masked rejection (numpy's random_interval, 32 bits)."""
    cdef uint32_t mask = mx, v
    if mx == 0:
        return 0
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    v = mt_next32(st) & mask
    while v > mx:
        v = mt_next32(st) & mask
    return v


cdef inline void legacy_permutation(MT19937 *st, uint32_t seed, int64_t *out,
                                    int64_t m) noexcept nogil:
    """out = np.random.RandomState(seed).permutation(m)."""
    cdef int64_t i, j, tmp
    mt_seed(st, seed)
    for i in range(m):
        out[i] = i
    i = m - 1
    while i > 0:
        j = mt_interval(st, <uint32_t>i)
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
        i -= 1


cdef inline double next_double(bitgen_t *bg) noexcept nogil:
    return bg.next_double(bg.state)
