"""fastdnn's compiled core.

Layers of the compiled code, bottom up (DESIGN.md):

* ``fastdnn._blas`` (gemm primitive) and ``fastdnn._kernels`` (the seed's elementwise
  kernels, vectorised sigmoid/exp);
* ``activations.pxd``, ``losses.pxd``, ``optimizers.pxd``, ``rng.pxd``: one concept each,
  an enum and its point functions / loops over raw rows, ``noexcept nogil``, inlined;
* ``loop.pyx``: the training loop over a plain struct of enums and doubles (the step's
  spec) and buffers allocated once, run without the GIL;
* ``fastdnn.training``: the Python side (configuration, registry, initialisers, trainer).

Adding an activation, an output/loss or an optimiser: one enum value and one kernel in the
``.pxd`` of its concept, one entry in ``fastdnn.training.registry``.
"""
