"""A Trainer's run in pieces, shared by the tests that compare one way of running the
loop with another (tests/test_perm_helper.py, tests/test_unit_split.py)."""
import numpy as np

from fastdnn.training import Trainer


def train_in_chunks(X, Y, P, cfg, w, chunks, **forced):
    """A Trainer from copies of ``P`` (sample weights ``w``), its test hooks set from
    ``forced`` (e.g. ``_forced_unit_split=True``), run ``chunks[0]``, ``chunks[1]``, ...
    epochs in turn (each run starts from the last one's state), every third epoch's cost
    recorded; returns (trainer, its parameters, the costs)."""
    tr = Trainer(X, Y, {k: v.copy() for k, v in P.items()}, cfg, sample_weight=w)
    for name, value in forced.items():
        if not hasattr(tr, name):
            raise AttributeError(f"Trainer has no test hook {name!r}")
        setattr(tr, name, value)
    costs = []
    for n in chunks:
        c = tr.run(n, record_every=3)
        costs.extend([] if c is None else list(np.ravel(c)))
    return tr, tr.parameters(), costs
