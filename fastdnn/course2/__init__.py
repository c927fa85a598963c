"""deeplearning.ai Course 2 (weeks 1-2) as drop-in modules (COURSE2.md).

| course file / notebook                         | module                                  |
|------------------------------------------------|-----------------------------------------|
| ``init_utils`` + Initialization                | ``fastdnn.course2.initialization``      |
| ``reg_utils`` + Regularization                 | ``fastdnn.course2.regularization``      |
| ``gc_utils`` + Gradient Checking               | ``fastdnn.course2.gradient_checking``   |
| ``opt_utils_v1a`` + Optimization Methods       | ``fastdnn.course2.optimization``        |
| the assignments' ``testCases.py``              | ``fastdnn.course2.testcases``           |
| scikit-learn's ``make_circles`` / ``make_moons`` | ``fastdnn.course2.datasets``          |

A notebook swaps its imports and nothing else.  The submodules are imported
on demand; importing this package imports nothing beyond numpy.
"""
__all__ = ["initialization", "regularization", "gradient_checking", "optimization",
           "testcases", "datasets"]
