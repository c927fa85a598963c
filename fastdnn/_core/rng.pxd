# Random numbers for the training loop, reproducing numpy's streams exactly.
#
# * Mini-batch permutations: numpy's legacy ``np.random.RandomState(s).permutation(m)``
#   (course 2's random_mini_batches), i.e. MT19937 seeded by init_genrand(s), then a
#   Fisher-Yates shuffle of arange(m) from the last position down, each index drawn by
#   rejection from the 32-bit outputs masked to the smallest 2^k - 1 >= i (numpy's
#   random_interval).  Written here from the published algorithms (Matsumoto and
#   Nishimura's MT19937), checked against numpy in tests/test_engine_v2_api.py.
# * scikit-learn's epoch orders: ``RandomState.shuffle`` of the previous order, drawn from
#   the estimator's own generator through numpy's C-API (bitgen_shuffle below; checked
#   against sklearn.utils.shuffle in tests/test_sklearn_speed_paths.py).
# * Dropout masks: a numpy.random.PCG64 bit generator owned by the trainer, reached
#   through numpy's C-API (bitgen_t.next_double: the doubles Generator.random draws).
from libc.stdint cimport uint32_t, uint64_t, int64_t
from numpy.random cimport bitgen_t

# The seeding and first twist of MT_LANES generators of consecutive seeds at once, lane l
# holding seed s0 + l: the seeding is a chain of 623 dependent multiplications, which one
# generator cannot overlap, and course 2's shuffle seeds a new generator every epoch (a
# third of an epoch of its [2, 5, 2, 1] network).  Word i of lane l is k[i * MT_LANES + l],
# so the loops over the lanes vectorise (AVX-512, AVX2 or baseline x86-64, picked at load
# time: fastdnn/_simd.h).  The formulas are mt_seed's and _mt_twist's below.
cdef extern from *:
    """
    #include "fastdnn/_simd.h"
    #define FD_MT_LANES 16
    #define FD_MT_TWIST(a, b, c) ((c) ^ ((((a) & 0x80000000U) | ((b) & 0x7fffffffU)) >> 1) \
                                 ^ ((0U - ((b) & 1U)) & 0x9908b0dfU))
    FD_CLONES static void fd_mt_seed_twist_lanes(uint32_t s0, uint32_t *restrict k) {
        int i, l;
        for (l = 0; l < FD_MT_LANES; l++) k[l] = s0 + (uint32_t)l;
        for (i = 1; i < 624; i++) {
            const uint32_t *p = k + (i - 1) * FD_MT_LANES;
            uint32_t *q = k + i * FD_MT_LANES;
            for (l = 0; l < FD_MT_LANES; l++)
                q[l] = 1812433253U * (p[l] ^ (p[l] >> 30)) + (uint32_t)i;
        }
        for (i = 0; i < 624 - 397; i++)
            for (l = 0; l < FD_MT_LANES; l++)
                k[i * FD_MT_LANES + l] = FD_MT_TWIST(k[i * FD_MT_LANES + l],
                                                     k[(i + 1) * FD_MT_LANES + l],
                                                     k[(i + 397) * FD_MT_LANES + l]);
        for (i = 624 - 397; i < 623; i++)
            for (l = 0; l < FD_MT_LANES; l++)
                k[i * FD_MT_LANES + l] = FD_MT_TWIST(k[i * FD_MT_LANES + l],
                                                     k[(i + 1) * FD_MT_LANES + l],
                                                     k[(i + 397 - 624) * FD_MT_LANES + l]);
        for (l = 0; l < FD_MT_LANES; l++)
            k[623 * FD_MT_LANES + l] = FD_MT_TWIST(k[623 * FD_MT_LANES + l], k[l],
                                                   k[396 * FD_MT_LANES + l]);
    }
    /* the first of the four 32-bit outputs t[0..3] that, masked, is at most mx (< 2^31):
       its index, or 4 if none is (SSE2: one compare of the four, no branch) */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline int fd_first_within4(const uint32_t *t, uint32_t mask, uint32_t mx) {
        const __m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)t),
                                        _mm_set1_epi32((int)mask));
        const int out = _mm_movemask_ps(_mm_castsi128_ps(
            _mm_cmpgt_epi32(v, _mm_set1_epi32((int)mx))));
        return __builtin_ctz((unsigned)(~out) | 16u);
    }
    #else
    static inline int fd_first_within4(const uint32_t *t, uint32_t mask, uint32_t mx) {
        int k = 0;
        while (k < 4 && (t[k] & mask) > mx) k++;
        return k;
    }
    #endif
    """
    enum: MT_LANES "FD_MT_LANES"
    int fd_first_within4(const uint32_t *t, uint32_t mask, uint32_t mx) noexcept nogil
    void fd_mt_seed_twist_lanes(uint32_t s0, uint32_t *k) noexcept nogil


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


cdef inline uint32_t _mt_temper(uint32_t y) noexcept nogil:
    """MT19937's tempering of one word of the state into an output."""
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680U
    y ^= (y << 15) & 0xefc60000U
    y ^= y >> 18
    return y


cdef inline uint32_t mt_next32(MT19937 *st) noexcept nogil:
    cdef uint32_t y
    if st.pos >= 624:
        _mt_twist(st)
    y = st.key[st.pos]
    st.pos += 1
    return _mt_temper(y)


cdef inline uint64_t interval_mask(uint64_t mx) noexcept nogil:
    """The smallest 2^k - 1 >= mx: random_interval's mask."""
    mx |= mx >> 1
    mx |= mx >> 2
    mx |= mx >> 4
    mx |= mx >> 8
    mx |= mx >> 16
    mx |= mx >> 32
    return mx


cdef inline uint32_t mt_interval(MT19937 *st, uint32_t mx) noexcept nogil:
    """Uniform integer in [0, mx] by masked rejection (numpy's random_interval, 32 bits)."""
    cdef uint32_t mask = <uint32_t>interval_mask(mx), v
    if mx == 0:
        return 0
    v = mt_next32(st) & mask
    while v > mx:
        v = mt_next32(st) & mask
    return v


cdef inline void _mt_temper_block(const uint32_t *key, uint32_t *T) noexcept nogil:
    """T = the tempering of each of the 624 words of key (a loop that vectorises)."""
    cdef int i
    for i in range(624):
        T[i] = _mt_temper(key[i])


cdef inline void _fisher_yates(MT19937 *st, int64_t *out, int64_t m) noexcept nogil:
    """out = a permutation of 0..m-1 as RandomState.permutation draws it from st: i from
    m - 1 down to 1, out[i] swapped with out[j], j = mt_interval(st, i).  The outputs are
    tempered a block of 624 at a time and the interval's mask shrinks with i; a draw takes
    the next output where it is within [0, i], else the first within it of the four after
    by one compare (fd_first_within4: a rejection per output would mispredict again), the
    outputs one at a time only where all are rejected or the block ends."""
    cdef uint32_t T[624]
    cdef int pos = st.pos, k
    cdef int64_t i, j, tmp
    cdef uint32_t mask, v, mx
    for i in range(m):
        out[i] = i
    if m < 2:
        return
    if pos < 624:
        _mt_temper_block(st.key, T)
    mask = <uint32_t>interval_mask(<uint32_t>(m - 1))
    i = m - 1
    while i > 0:
        mx = <uint32_t>i
        while (mask >> 1) >= mx:
            mask >>= 1
        v = mx + 1                  # none taken yet
        if pos + 5 <= 624 and mx < 0x80000000U:
            v = T[pos] & mask
            pos += 1
            if v > mx:
                k = fd_first_within4(&T[pos], mask, mx)
                if k < 4:
                    v = T[pos + k] & mask
                pos += k + 1 if k < 4 else 4
        while v > mx:
            if pos >= 624:
                _mt_twist(st)
                _mt_temper_block(st.key, T)
                pos = 0
            v = T[pos] & mask
            pos += 1
        j = v
        tmp = out[i]
        out[i] = out[j]
        out[j] = tmp
        i -= 1
    st.pos = pos


cdef inline void legacy_permutation(MT19937 *st, uint32_t seed, int64_t *out,
                                    int64_t m) noexcept nogil:
    """out = np.random.RandomState(seed).permutation(m)."""
    mt_seed(st, seed)
    _fisher_yates(st, out, m)


cdef struct MTLanes:
    uint32_t *key           # (624 * MT_LANES): the twisted states of seeds base .. base + 15
    uint32_t base
    bint valid


cdef inline void lanes_permutation(MTLanes *ls, MT19937 *st, uint32_t seed, int64_t *out,
                                   int64_t m) noexcept nogil:
    """legacy_permutation, the generator taken from ls (seeded with the next MT_LANES
    seeds first when seed is not among its lanes): for consecutive seeds, one seeding
    every MT_LANES calls."""
    cdef uint32_t lane = seed - ls.base
    cdef int i
    if not ls.valid or lane >= MT_LANES:
        fd_mt_seed_twist_lanes(seed, ls.key)
        ls.base = seed
        ls.valid = True
        lane = 0
    for i in range(624):
        st.key[i] = ls.key[i * MT_LANES + lane]
    st.pos = 0
    _fisher_yates(st, out, m)


cdef inline double next_double(bitgen_t *bg) noexcept nogil:
    return bg.next_double(bg.state)


cdef inline uint64_t bitgen_interval(bitgen_t *bg, uint64_t mx) noexcept nogil:
    """Uniform integer in [0, mx] by masked rejection, drawn from bg as numpy's
    random_interval draws it: 32-bit outputs while mx < 2^32, 64-bit ones above."""
    cdef uint64_t mask = interval_mask(mx), v
    if mx == 0:
        return 0
    if mx <= 0xffffffffU:
        v = bg.next_uint32(bg.state) & mask
        while v > mx:
            v = bg.next_uint32(bg.state) & mask
    else:
        v = bg.next_uint64(bg.state) & mask
        while v > mx:
            v = bg.next_uint64(bg.state) & mask
    return v


cdef inline void bitgen_shuffle(bitgen_t *bg, int64_t *p, int64_t m) noexcept nogil:
    """p[0..m-1] shuffled in place as ``RandomState.shuffle`` shuffles a 1-D array with
    the generator behind bg: i from m - 1 down to 1, p[i] swapped with p[j], j drawn in
    [0, i].  scikit-learn's ``shuffle(order, random_state=rs)`` is order[rs.shuffle(arange)]:
    the same swaps applied to order itself."""
    cdef int64_t i = m - 1, j, tmp
    while i > 0:
        j = <int64_t>bitgen_interval(bg, <uint64_t>i)
        tmp = p[i]
        p[i] = p[j]
        p[j] = tmp
        i -= 1
