"""Thread-count control for fastdnn's compiled code.

fastdnn computes on two kinds of threads, never both at once:

* BLAS threads.  Two OpenBLAS copies are usually loaded: scipy's, which
  fastdnn's kernels call through ``scipy.linalg.cython_blas``, and numpy's,
  which the engines use for setup products (the gram matrix, forming W1).
  ``limit(threads)`` sets both, through threadpoolctl, for the duration of a
  ``with`` block and restores the previous counts afterwards, so the setting
  never leaks into the caller's other numpy/scipy work.
* The general training loop's team (``fastdnn._core.loop``, OpenMP): when a
  step's products are large enough (``team_size``), every thread of the team
  takes a block of each product and of the elementwise work after it, and a
  slice of each optimiser pass (from batches of TEAM_SPLIT_BATCH examples: a
  block of the batch's examples through every layer, then a slice of each
  optimiser pass), while BLAS runs single-threaded in each of them
  (``team_limit``).  Small steps stay on one thread: a barrier costs more than
  they would gain.  A thin net's one-pass step splits the batch from
  ``thin_team_size``'s size.  A net of relu layers (AVX-512) trains on a team
  of two splitting its first hidden layer's units (``unit_split``): each thread
  its units' weights, one exchange of layer 2's partial sums a step, and the
  rest of a deeper net (its tail) on both.

So at most ``threads`` threads compute at any time.

The count comes from the ``threads`` argument of the training functions, or
else from the environment variable ``FASTDNN_NUM_THREADS``; with neither,
BLAS keeps its own default (OpenBLAS: one thread per core).
"""
from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["ENV_VAR", "MAX_THREADS", "TEAM_MIN_WORK", "resolve_threads", "limit",
           "available_cores", "blas_threads", "team_min_work", "team_size", "team_limit",
           "cpu_model", "TEAM_BATCH", "TEAM_SPLIT_BATCH", "TEAM_SPLIT_SHARE_F64",
           "team_splits_batch", "THIN_TEAM_WORK", "THIN_TEAM_WORK_ONE_EXCHANGE",
           "THIN_EXAMPLE_WEIGHTS", "thin_team_size",
           "permutation_helper", "PERM_HELPER_MIN_WORK", "unit_split", "UNIT_SPLIT_MIN_WORK",
           "UNIT_SPLIT_MIN_WORK_DEEP", "UNIT_SPLIT_MAX_TAIL"]

ENV_VAR = "FASTDNN_NUM_THREADS"
#: the largest thread count: BLAS libraries take it as a C int
MAX_THREADS = 2 ** 31 - 1

_controller = None


def resolve_threads(threads=None):
    """The thread count to use: ``threads``, else ``$FASTDNN_NUM_THREADS``, else None.

    Raises ValueError/TypeError for anything but a positive integer (the
    environment variable's value is named in the message).
    """
    source = "threads"
    if threads is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            return None
        source = ENV_VAR
        try:
            threads = int(value)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {value!r}") from None
    if isinstance(threads, bool) or not hasattr(threads, "__index__"):
        raise TypeError(f"{source} must be a positive int or None, got {threads!r}")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"{source} must be a positive integer, got {threads}")
    if threads > MAX_THREADS:
        raise ValueError(f"{source} must be <= {MAX_THREADS}, got {threads}")
    return threads


def _get_controller():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()   # scans the loaded libraries once
    return _controller


# BLAS's thread count is one setting for the whole process, while fastdnn may be called
# from several threads at once (Dask's threaded workers, a user's thread pool).  Limits
# that each saved the count on entry and put it back on exit would, interleaved, leave
# the process with another thread's limit (A saves 2 and sets 1, B saves 1, A restores 2,
# B restores 1: BLAS stays on one thread).  So the limits are counted: the first to enter
# saves the counts, the last to leave restores them; overlapping limits share the setting
# (the latest one's count).
_lock = threading.Lock()
_active = 0
_saved = None


@contextlib.contextmanager
def _blas_limited(n):
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = [(lc, lc.num_threads) for lc in _get_controller().lib_controllers
                      if lc.user_api == "blas"]
        _active += 1
        for lc, _ in _saved:
            lc.set_num_threads(n)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for lc, count in _saved:
                    lc.set_num_threads(count)
                _saved = None


def limit(threads=None):
    """Context manager: BLAS (numpy's and scipy's) limited to ``resolve_threads(threads)``,
    the previous counts restored when the last of the limits active at once ends.

    A no-op when neither the argument nor the environment variable is set.
    """
    n = resolve_threads(threads)
    if n is None:
        return contextlib.nullcontext()
    return _blas_limited(n)


#: multiply-adds of one step's products from which the training loop runs on a team of
#: two (bench/profile_minibatch.py --teams measures the crossover); a larger team needs
#: half as much per member
TEAM_MIN_WORK = 2_000_000
#: the batch size TEAM_MIN_WORK was measured at.  A larger batch needs proportionally more:
#: what the members exchange (each other's halves of the activations and deltas) grows with
#: the batch as the work does, so a team pays only from TEAM_MIN_WORK / TEAM_BATCH (about
#: 31,000) multiply-adds per example, about 10,000 weights.  Measured (profile_minibatch.py
#: --teams --dtype D --mb B, [n_x, h, 10], Adam): the crossover per example was about 31,000
#: (float64) and 39,000 (float32) at batch 64, 23,000 and 60,000 at batch 200; scikit-learn's
#: digits net (7,400 weights, 22,200 per example, batch 200) took 7-8% longer on a team of 2
#: splitting the layers than alone (bench/team_split.py float64 200, [64, 100, 10]).
TEAM_BATCH = 64
#: batches from which a team splits each batch's columns among its threads (each takes its
#: block of examples through every layer, then a slice of every update) instead of each
#: layer's products.  bench/team_split.py, [n_x, h, 10] nets, m = 2048, Adam, 2 threads
#: against one: at batch 200 splitting the batch beat splitting the layers on every net
#: where a team paid (float64 [256, 128, 10] 1.57x against 1.39x, [784, 128, 10] 1.68x
#: against 1.50x; float32 1.38x against 1.19x and 1.52x against 1.42x); at batch 64 it
#: lost (float64 [784, 128, 10] 1.22x against 1.63x).
TEAM_SPLIT_BATCH = 128


def team_splits_batch(batch):
    """Whether a team on steps of ``batch`` examples splits the batch (True) or the layers."""
    return batch is not None and batch >= TEAM_SPLIT_BATCH


#: the share of that work per example a float64 team splitting the batch needs (its step
#: exchanges the gradients' shares, not the activations): bench/team_split.py float64 200,
#: three runs, [128, 64, 10] (26,500 multiply-adds an example) 1.16-1.20x one thread, while
#: [64, 100, 10] (22,200) was even (0.91-1.06x); in float32 both nets lost (0.75-0.91x, two runs)
TEAM_SPLIT_SHARE_F64 = 0.75


def team_min_work(batch=None, dtype=None):
    """The multiply-adds a step of ``batch`` examples needs for a team (TEAM_MIN_WORK, times
    batch / TEAM_BATCH above TEAM_BATCH examples; for a float64 team splitting the batch,
    TEAM_SPLIT_SHARE_F64 of that)."""
    if batch is None or batch <= TEAM_BATCH:
        return TEAM_MIN_WORK
    work = TEAM_MIN_WORK * batch // TEAM_BATCH
    if team_splits_batch(batch) and dtype is not None and str(dtype) == "float64":
        work = max(TEAM_MIN_WORK, int(work * TEAM_SPLIT_SHARE_F64))
    return work


#: a thin net's step (fastdnn/_core/thin.pxd: one pass over blocks of 32 examples) runs on a
#: team splitting the batch from THIN_TEAM_WORK units of batch x (weights +
#: THIN_EXAMPLE_WEIGHTS): per example, the products and a fixed cost (the output, the loads)
#: worth about 100 weights; a team's step costs about two microseconds more (two barriers,
#: the shares, the update on one thread).  bench/bench_thin.py --team, one thread's time over
#: a team of two's: [2, 5, 2, 1] 0.91x at 400 examples, 1.04x at 512, 1.13x at 640;
#: [2, 10, 5, 1] 0.95x at 300, 1.09x at 400, 1.17x at 512; [2, 20, 3, 1] 1.02x at 256,
#: 1.12x at 300, 1.21x at 400 (and 1.38-1.57x at 1600 for the three).  A larger team needs
#: half as much per member.
THIN_TEAM_WORK = 60_000
THIN_EXAMPLE_WEIGHTS = 100
#: the same for a team that exchanges once a step (the full batch in data order:
#: Engine.one_exchange), whose members each update their own copy of the parameters.
#: bench/bench_thin.py --team --sizes 64,96,128 --rounds 9 (and --sizes 128,192,256,300
#: --rounds 7) on an AMD EPYC (Zen 4, 2 cores, KVM), one thread's time over the team's:
#: [2, 5, 2, 1] 1.00x at 64 examples (7,808 units), 1.09x at 96, 1.28x and 1.16x at 128
#: (15,616), 1.90x at 300; [2, 10, 5, 1] 1.08x at 64 (11,200), 1.49x at 96 (16,800), 1.29x
#: and 1.42x at 128, 1.62x at 300; [2, 20, 3, 1] 1.11x at 64 (12,992), 1.02x at 96
#: (19,488), 1.11x and 1.38x at 128, 1.59x at 300.
THIN_TEAM_WORK_ONE_EXCHANGE = 15_000


def thin_team_size(threads, batch, weights, one_exchange=False):
    """Threads of the team for a thin net's steps of ``batch`` examples through ``weights``
    weights (the net's n_l n_(l-1) summed): as ``team_size``, from THIN_TEAM_WORK (from
    THIN_TEAM_WORK_ONE_EXCHANGE where the team exchanges once a step), and no more than
    leaves each member a block of 32 examples."""
    work = batch * (weights + THIN_EXAMPLE_WEIGHTS)
    least = THIN_TEAM_WORK_ONE_EXCHANGE if one_exchange else THIN_TEAM_WORK
    n = min(_wanted(threads), work // (least // 2), batch // 32)
    if n <= 1:
        return 1
    return n if _have_teams() else 1


def available_cores():
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def blas_threads():
    """The threads BLAS would use now: the most of the loaded BLAS libraries' counts, as
    threadpoolctl sees them (so a caller's ``threadpool_limits`` counts); the available
    cores where no BLAS is found."""
    counts = [lc.num_threads for lc in _get_controller().lib_controllers
              if lc.user_api == "blas"]
    return max(counts) if counts else available_cores()


def _wanted(threads):
    """The threads a run may use: ``resolve_threads(threads)``, else as many as BLAS would
    use (``blas_threads``)."""
    n = resolve_threads(threads)
    return blas_threads() if n is None else n


def _have_teams():
    """Whether this build runs teams of threads (fastdnn._core.loop compiled with OpenMP)."""
    from fastdnn._core.loop import HAVE_TEAMS
    return bool(HAVE_TEAMS)


def team_size(threads, step_work, batch=None, dtype=None):
    """Threads of the training loop's team for steps of ``step_work`` multiply-adds over
    ``batch`` examples of ``dtype``: ``resolve_threads(threads)``, else as many as BLAS
    would use (``blas_threads``), but no more than leaves each member half of
    ``team_min_work(batch, dtype)`` (so a smaller step runs alone, and a many-core machine
    does not split a small step 64 ways); 1 where the build has no teams."""
    n = min(_wanted(threads), step_work // max(1, team_min_work(batch, dtype) // 2))
    if n <= 1:
        return 1
    return n if _have_teams() else 1


#: multiply-adds of an epoch (3 n_l n_(l-1) m summed over the layers) from which a lone
#: training loop has a second thread draw the course shuffle's permutations.  Where the
#: second core is free a helper pays on small epochs too; where another process keeps it
#: busy, the loop waits for a helper the scheduler has not run, and the shorter the epoch
#: the more.  bench/profile_minibatch.py --helper-sizes [--busy], alone / helped, float64,
#: Adam: [2, 5, 2, 1] at m = 300 (19,800) 1.55 free, 0.34 busy; [2, 20, 3, 1] at 211
#: (65,000) 1.16 and 0.80; [20, 16, 4] at 1,000 (1.15 million) 1.04 and 0.97; [64, 32, 10] at
#: 1,797 (12.8 million) 1.04 and 1.01.
PERM_HELPER_MIN_WORK = 1_000_000


def permutation_helper(threads, epoch_work=None):
    """Whether a training loop running alone (a team of 1) has a second thread draw the
    course shuffle's next permutations meanwhile (fastdnn._core.loop's _epochs_helped; the
    same permutations, so the same run): ``resolve_threads(threads)`` (else the threads
    BLAS would use) and the available cores both at least 2, an epoch of at least
    PERM_HELPER_MIN_WORK multiply-adds (``epoch_work``; None: not checked), and a build
    that runs teams."""
    if epoch_work is not None and epoch_work < PERM_HELPER_MIN_WORK:
        return False
    if _wanted(threads) < 2 or available_cores() < 2:
        return False
    return _have_teams()


#: multiply-adds of a step (the products of ``Engine.step_work``) from which a net of one
#: hidden layer trains on a team of two splitting its hidden units (``Engine.unit_split``:
#: one exchange of the output's partial sums a step).  bench/unit_split.py (Adam, 2
#: threads, against the other rules: the lone loop with its permutation helper, or a team
#: splitting the layers), ms per epoch, best of 15 rounds, float32 / float64: [30, 20, 3]
#: batch 16 (31,680) 1.28x / 1.23x; [64, 24, 10] batch 8 1.93x / 1.46x; [64, 32, 10]
#: batch 32 (issue 12's digits) 1.25x / 1.38x; [64, 100, 10] batch 200 (scikit-learn's
#: default net) 1.56x / 1.64x; [784, 128, 10] batch 64 (against a team splitting the
#: layers) 1.07x / 1.05x.  With another process spinning on the second core (--busy) the
#: best rounds kept those ratios but for the largest net (0.90x / 0.84x); the median
#: rounds were up to about 3x the best on some nets, with the unit split and without it.
UNIT_SPLIT_MIN_WORK = 30_000

#: the same for deeper nets, whose layer 2 the team adds up from two partial sums (n_2 x
#: batch values a step from each thread's cache to the other's, where a net of one hidden
#: layer exchanges n_L x batch) and whose tail (layers 3..L: ``Engine.tail_work``) both
#: threads run.  bench/unit_split.py --nets 7,8,9,10,11,12 --epochs 3, two runs (--rounds
#: 9, then 15; ratios float32 / float64; the machine's other load moved whole runs): [64, 32,
#: 32, 10] batch 32 (325,632) 0.80x / 0.87x and 1.23x / 1.33x; [64, 64, 32, 10] batch 32
#: (620,544) 1.02x / 1.27x and 1.45x / 1.60x; [100, 64, 64, 10] batch 64 (2,138,112)
#: 2.14x / 2.09x and 1.41x / 1.29x; [300, 100, 100, 10] batch 64 1.02x / 1.02x and 1.24x
#: / 1.09x; [784, 128, 64, 10] batch 64 (issue 12's MNIST-5k, against a team splitting
#: the layers) 1.15x / 1.55x and 1.13x / 1.03x.
UNIT_SPLIT_MIN_WORK_DEEP = 1_000_000

#: the largest share of the step's products (``Engine.tail_work / Engine.step_work``)
#: that both threads of a unit-split team may repeat: [100, 64, 64, 64, 10] batch 64, a
#: tail of 31%, measured 2.21x / 2.24x and 1.17x / 1.00x in the runs above.
UNIT_SPLIT_MAX_TAIL = 1 / 4


def unit_split(threads, step_work, tail_work=0):
    """Whether a net trains on a team of two splitting its first hidden layer's units
    (where its step allows it, ``Engine.unit_split``): ``resolve_threads(threads)`` (else
    the threads BLAS would use) and the available cores both at least 2, steps of at least
    UNIT_SPLIT_MIN_WORK multiply-adds (one hidden layer; ``tail_work`` 0) or of at least
    UNIT_SPLIT_MIN_WORK_DEEP with a tail of at most UNIT_SPLIT_MAX_TAIL of them (deeper
    nets), and a build that runs teams."""
    if tail_work > 0:
        if step_work < UNIT_SPLIT_MIN_WORK_DEEP or tail_work > UNIT_SPLIT_MAX_TAIL * step_work:
            return False
    elif step_work < UNIT_SPLIT_MIN_WORK:
        return False
    if _wanted(threads) < 2 or available_cores() < 2:
        return False
    return _have_teams()


def team_limit(threads, team):
    """The BLAS limit around a run of the training loop: one thread per member of a
    team (team > 1), else ``limit(threads)``."""
    return limit(1) if team > 1 else limit(threads)


def cpu_model():
    """The processor's name ("model name" in /proc/cpuinfo, else what ``platform`` says),
    for the machine line of the CLI's and the benchmarks' reports."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "?"
