# Interface of fastdnn's input validation (see _validation.pyx).
cimport numpy as cnp

# dtype numbers of the two computing types
cdef int F32, F64

# x as a 2-D float32/float64 native ndarray with no empty dimension, or raise
# TypeError/ValueError naming `name`.  Returns x itself when it already is one.
cpdef cnp.ndarray as_array(object x, str name)

# True when x can go to the kernels as it is (what as_array returns unchanged).
cdef bint is_valid_array(object x) noexcept

# x as a real numeric ndarray of any ndim (labels), or raise.
cpdef cnp.ndarray as_numeric(object x, str name)

# the computing dtype of arrays already through as_array: F32 if all are
# float32, else F64 (numpy's promotion of float32 with float64 or integers).
cdef int common_type2(cnp.ndarray a, cnp.ndarray b)
cdef int common_type3(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c)

# a in dtype number `t` (no copy when it already is).
cdef cnp.ndarray cast(cnp.ndarray a, int t)

# a made contiguous in one dimension for BLAS (copy only if neither C nor F).
cdef cnp.ndarray as_operand(cnp.ndarray a)

# new uninitialised C-ordered 2-D array
cdef cnp.ndarray empty(Py_ssize_t n, Py_ssize_t m, int t)

cdef int check_shape(cnp.ndarray a, str name, Py_ssize_t rows, Py_ssize_t cols, str why) except -1
cpdef check_activation(object activation)
cpdef Py_ssize_t check_layer_count(object parameters, str name=*) except -1

# the engines' buffer check: an ndarray of exactly this shape and dtype, C-contiguous (or
# Fortran-contiguous when allow_f), writeable when the loop writes it; raises otherwise
cdef cnp.ndarray need_buffer(object a, str name, tuple shape, object dtype, bint allow_f=*,
                             bint writeable=*)
