"""scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` trained by fastdnn's engine.

Drop-in: ``from fastdnn.sklearn import MLPClassifier`` (or ``from fastdnn import
MLPClassifier``) instead of ``from sklearn.neural_network import MLPClassifier``. Same
constructor parameters (scikit-learn 1.9), fitted attributes, methods, warnings and errors,
and the same numbers for the same ``random_state``:

* parameters are drawn as scikit-learn's Glorot-uniform initialiser draws them, layer by
  layer (weights (fan_in, fan_out), then biases) from ``check_random_state(random_state)``;
* the early-stopping split is ``train_test_split`` with that same RandomState, stratified
  for single-output classifiers;
* each epoch's order is what ``sklearn.utils.shuffle`` draws from it (the same
  ``RandomState.shuffle`` call, applied to the previous order), handed to the
  engine as an external permutation; batches are consecutive slices of it
  (``gen_batches``), the last one shorter;
* "sgd" is velocity = momentum * velocity - lr * grad (Nesterov: the step is
  momentum * velocity_new - lr * grad), "adam" folds the bias correction into the step
  size (lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)); learning-rate schedules
  ("invscaling": lr_init / (t_ + 1)^power_t after each epoch, t_ = samples seen;
  "adaptive": divided by 5 when n_iter_no_change epochs do not improve by tol);
* losses as scikit-learn's: log-loss with probabilities clipped to [eps, 1 - eps], half
  squared error averaged over samples and outputs, half Poisson deviance; L2 penalty
  alpha / (2 N) sum ||W||^2 with N the step's sample count or sum of sample weights;
* "lbfgs" is ``scipy.optimize.minimize(method="L-BFGS-B")`` with scikit-learn's options
  (maxfun, maxiter, gtol=tol), on the loss and gradient of one compiled full-batch pass.

The engine works in the (features, samples) layout: X (n_samples, n_features) is passed
as ``X.T``, a view, never copied. scipy.sparse X is densified once, as a whole, before
training (prediction multiplies the sparse matrix directly). float32 X trains in float32.

scikit-learn is required (``pip install 'fastdnn[sklearn]'``); ``import fastdnn`` does not
import it.
"""
from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np

try:
    import scipy.optimize
    import scipy.sparse
    from scipy.special import expit
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import (
        _check_partial_fit_first_call,
        type_of_target,
        unique_labels,
    )
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "fastdnn.MLPClassifier / MLPRegressor need scikit-learn >= 1.9: "
        "pip install 'fastdnn[sklearn]'"
    ) from exc

from fastdnn.training import Trainer, TrainingConfig, loss_and_gradients

__all__ = ["MLPClassifier", "MLPRegressor"]

_STOCHASTIC = ("sgd", "adam")
#: a run of the engine's epochs (_BaseMLP._run_epochs) lasts about this long, at most this
#: many epochs: Ctrl-C stops the fit between runs
RUN_SECONDS = 0.2
RUN_EPOCHS_MAX = 100_000
# scikit-learn's activation names -> the engine's
_ENGINE_OUTPUT = {"logistic": "sigmoid", "softmax": "softmax", "identity": "identity",
                  "exp": "exp"}


# --------------------------------------------------------------------------- numpy forward
def _apply(name, Z):
    """Activation ``name`` applied in place to Z (n_samples, n_units); returns Z."""
    if name == "relu":
        np.maximum(Z, 0, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "logistic":
        expit(Z, out=Z)
    elif name == "exp":
        np.exp(Z, out=Z)
    elif name == "softmax":
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
    return Z


def _pack(arrays):
    return np.hstack([a.ravel() for a in arrays])


class _SolverState:
    """The stochastic optimiser between calls: learning-rate schedule and engine state.

    ``learning_rate`` is the current step size as scikit-learn's optimiser object reports
    it (for adam: the bias-corrected step size of the last step); ``state`` is the engine
    trainer's ``state()`` (moments / velocities, step counter) or None before training.
    """

    def __init__(self, est):
        self.solver = est.solver
        self.learning_rate_init = float(est.learning_rate_init)
        self.learning_rate = float(est.learning_rate_init)
        self.lr_schedule = est.learning_rate
        self.power_t = est.power_t
        self.beta_1, self.beta_2 = est.beta_1, est.beta_2
        self.state = None

    @property
    def engine_rate(self):
        """The rate the engine steps with: adam takes the base rate, sgd the current one."""
        return self.learning_rate_init if self.solver == "adam" else self.learning_rate

    def engine_rates(self, count, samples_seen, n_samples):
        """The engine's rates for the next ``count`` epochs of ``n_samples``, from
        ``samples_seen`` on: the current one, then as iteration_ends sets them."""
        rates = [self.engine_rate] * count
        if self.solver == "sgd" and self.lr_schedule == "invscaling":
            for k in range(1, count):
                rates[k] = (self.learning_rate_init
                            / (samples_seen + k * n_samples + 1) ** self.power_t)
        return rates

    def iteration_ends(self, samples_seen):
        """End-of-epoch schedule update (invscaling)."""
        if self.solver == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (samples_seen + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        """True to stop; for sgd's adaptive schedule divide the rate by 5 instead."""
        if self.solver != "sgd" or self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def after_steps(self, t):
        """Record adam's bias-corrected step size after ``t`` steps, as scikit-learn does."""
        if self.solver == "adam" and t > 0:
            self.learning_rate = (self.learning_rate_init * np.sqrt(1 - self.beta_2 ** t)
                                  / (1 - self.beta_1 ** t))


class _BaseMLP(BaseEstimator):
    """Shared fitting logic of fastdnn's MLPClassifier and MLPRegressor."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------------------------ engine adapters
    def _engine_parameters(self):
        """coefs_/intercepts_ as the engine's W1 (n1, n0), b1 (n1, 1), ... (views)."""
        p = {}
        for i, (c, b) in enumerate(zip(self.coefs_, self.intercepts_), start=1):
            p[f"W{i}"] = np.asarray(c).T
            p[f"b{i}"] = np.asarray(b).reshape(-1, 1)
        return p

    def _set_from_engine(self, params, dtype):
        L = len(params) // 2
        self.coefs_ = [np.ascontiguousarray(params[f"W{i}"].T, dtype=dtype)
                       for i in range(1, L + 1)]
        self.intercepts_ = [np.ascontiguousarray(params[f"b{i}"].ravel(), dtype=dtype)
                            for i in range(1, L + 1)]

    def _config(self, dtype, batch_size=None):
        stochastic = self.solver in _STOCHASTIC
        return TrainingConfig(
            learning_rate=(self._optimizer.engine_rate if stochastic
                           else float(self.learning_rate_init)),
            hidden_activation=self.activation,
            output=_ENGINE_OUTPUT[self.out_activation_],
            optimizer="adam_sklearn" if self.solver == "adam" else "sgd",
            mini_batch_size=batch_size,
            shuffle="external" if (stochastic and self.shuffle) else "none",
            beta1=float(self.beta_1), beta2=float(self.beta_2), epsilon=float(self.epsilon),
            momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum),
            lambd=float(self.alpha),
            loss_convention="sklearn",
            dtype=np.dtype(dtype).name,
        )

    # ---------------------------------------------------------------------- forward pass
    def _forward_pass_fast(self, X, check_input=True):
        """Output activations (n_samples, n_outputs) of the fitted network for X."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        A = X
        last = self.n_layers_ - 2
        for i in range(self.n_layers_ - 1):
            A = safe_sparse_dot(A, self.coefs_[i])
            A = np.asarray(A)
            A += self.intercepts_[i]
            _apply(self.activation if i != last else self.out_activation_, A)
        return A

    # -------------------------------------------------------------------- initialisation
    def _init_coef(self, fan_in, fan_out, dtype):
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not isinstance(self, ClassifierMixin):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            c, b = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(c)
            self.intercepts_.append(b)
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver in _STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # ------------------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self.hidden_layer_sizes
        if not hasattr(hidden, "__iter__"):
            hidden = [hidden]
        hidden = list(hidden)
        if np.any(np.array(hidden) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if scipy.sparse.issparse(X):
            X = X.toarray()  # densified once, as a whole: the engine trains dense arrays
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1]] + hidden + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)

        if self.solver in _STOCHASTIC:
            self._fit_stochastic(X, y, sample_weight, incremental)
        else:
            self._fit_lbfgs(X, y, sample_weight, layer_units)

        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _targets(self, y, dtype):
        """y (n_samples, n_outputs) as the engine's Y (n_outputs, n_samples), dtype."""
        return np.asarray(y, dtype=dtype).T

    # -------------------------------------------------------------------------- lbfgs
    def _unpack(self, packed):
        for i in range(self.n_layers_ - 1):
            start, end, shape = self._coef_indptr[i]
            self.coefs_[i] = np.reshape(packed[start:end], shape)
            start, end = self._intercept_indptr[i]
            self.intercepts_[i] = packed[start:end]

    def _loss_grad_lbfgs(self, packed, X, y, sample_weight, *unused):
        """Loss and packed gradient at ``packed`` (the engine's full-batch pass).

        X is (n_samples, n_features), y the binarised / 2-D targets; the extra
        positional arguments of scikit-learn's private method are accepted and ignored.
        """
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        self._unpack(packed)
        cfg = self._lbfgs_cfg if getattr(self, "_lbfgs_cfg", None) else self._config(dtype)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        params = {}
        for i in range(1, self.n_layers_):
            params[f"W{i}"] = np.asarray(self.coefs_[i - 1], dtype=dtype).T
            params[f"b{i}"] = np.asarray(self.intercepts_[i - 1], dtype=dtype).reshape(-1, 1)
        cost, grads = loss_and_gradients(np.asarray(X).T, self._targets(y, dtype), params,
                                         cfg, sample_weight=sample_weight)
        L = self.n_layers_ - 1
        grad = _pack([grads[f"dW{i}"].T for i in range(1, L + 1)]
                     + [grads[f"db{i}"].ravel() for i in range(1, L + 1)])
        return cost, grad

    def _fit_lbfgs(self, X, y, sample_weight, layer_units):
        self._coef_indptr, self._intercept_indptr = [], []
        start = 0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            end = start + fan_in * fan_out
            self._coef_indptr.append((start, end, (fan_in, fan_out)))
            start = end
        for fan_out in layer_units[1:]:
            end = start + fan_out
            self._intercept_indptr.append((start, end))
            start = end
        packed = _pack(self.coefs_ + self.intercepts_)
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if _scipy_below_1_15():
            options["iprint"] = 1 if (self.verbose is True or self.verbose >= 1) else -1
        self._lbfgs_cfg = self._config(X.dtype)
        try:
            res = scipy.optimize.minimize(
                self._loss_grad_lbfgs, packed, method="L-BFGS-B", jac=True,
                options=options, args=(X, y, sample_weight))
        finally:
            self._lbfgs_cfg = None
        self.n_iter_ = _check_optimize_result("lbfgs", res, self.max_iter)
        self.loss_ = res.fun
        self._unpack(res.x)
        self.coefs_ = [np.ascontiguousarray(c, dtype=X.dtype) for c in self.coefs_]
        self.intercepts_ = [np.ascontiguousarray(b, dtype=X.dtype) for b in self.intercepts_]

    # --------------------------------------------------------------------- stochastic
    def _fit_stochastic(self, X, y, sample_weight, incremental):
        reuse = (incremental and isinstance(getattr(self, "_optimizer", None), _SolverState)
                 and self._optimizer.solver == self.solver)
        if not reuse:
            self._optimizer = _SolverState(self)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = y if (isinstance(self, ClassifierMixin) and self.n_outputs_ == 1) else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = parts[:4]
            sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            if isinstance(self, ClassifierMixin):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than "
                              "sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        dtype = X_train.dtype
        cfg = self._config(dtype, batch_size)
        XT, YT = X_train.T, self._targets(y_train, dtype)
        params = self._engine_parameters()
        if self._optimizer.state is not None:
            # the optimiser's moments and step count from the last call, the parameters as
            # they are now (scikit-learn updates whatever coefs_ hold)
            state = dict(self._optimizer.state)
            state.update(params)
            trainer = Trainer.from_state(XT, YT, state, cfg, iteration=0,
                                         sample_weight=sw_train)
            trainer.learning_rate = self._optimizer.engine_rate
        else:
            trainer = Trainer(XT, YT, params, cfg, sample_weight=sw_train)

        sample_idx = np.arange(n_samples, dtype=np.int64)
        perm = None
        try:
            self.n_iter_ = 0
            if not early_stopping:
                self._run_epochs(trainer, sample_idx, incremental)
            else:
                for _ in range(self.max_iter):
                    if self.shuffle:
                        perm = sample_idx = _reshuffled(sample_idx, self._random_state)
                    # scikit-learn carries on with non-finite parameters (NaN or infinite
                    # losses and scores until max_iter; then it restores the best parameters
                    # with early stopping, or _fit raises "Solver produced non-finite
                    # parameter weights"), and so does the engine without its finiteness test
                    loss = trainer.run_epoch(perm, True, keep_last_finite=False,
                                             check_finite=False)
                    self._epoch_done(float(loss), n_samples)
                    self._set_from_engine(trainer.parameters(), dtype)
                    self._update_validation_count(X_val, y_val, sw_val)
                    _sync_rate(trainer, self._optimizer)
                    if self._plateau_stops(trainer, True):
                        break
                    self._warn_at_max_iter()
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        self._set_from_engine(trainer.parameters(), dtype)
        # the optimiser's part of the state (the parameters are coefs_ / intercepts_)
        self._optimizer.state = {k: v for k, v in trainer.state().items()
                                 if not _is_param_key(k)}
        self._optimizer.after_steps(trainer.t)
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _run_epochs(self, trainer, order, incremental):
        """_fit_stochastic's epochs without a validation set in runs of the engine
        (``Trainer.run_plateau``): each epoch's order drawn from ``_random_state`` as
        ``sklearn.utils.shuffle`` draws it and scikit-learn's ``n_iter_no_change`` test on
        the training loss done there, without Python between the epochs.  A run lasts about
        RUN_SECONDS (Ctrl-C is seen between runs); one epoch with ``verbose`` (its line
        printed as it ends) and for partial_fit (its one epoch)."""
        n_samples = order.shape[0]
        if not self.shuffle:
            order = None
        rs = self._random_state if self.shuffle else None
        count = 1
        while self.n_iter_ < self.max_iter:
            count = min(count, self.max_iter - self.n_iter_)
            lrs = self._optimizer.engine_rates(count, self.t_, n_samples)
            t0 = time.perf_counter()
            costs, best, bad = trainer.run_plateau(
                lrs, tol=self.tol, patience=self.n_iter_no_change, best=self.best_loss_,
                bad=self._no_improvement_count, order=order, random_state=rs)
            elapsed = time.perf_counter() - t0
            order = None                      # the next run goes on from the engine's
            for c in costs.tolist():
                self._epoch_done(c, n_samples)
            self.best_loss_ = best
            self._no_improvement_count = int(bad)
            _sync_rate(trainer, self._optimizer)
            if self._plateau_stops(trainer, False) or incremental:
                return
            if not self.verbose:
                # the next run: as many epochs as fit in RUN_SECONDS at this run's pace
                per_epoch = elapsed / max(len(costs), 1)
                count = max(1, min(RUN_EPOCHS_MAX, int(RUN_SECONDS / max(per_epoch, 1e-9))))
        self._warn_at_max_iter()

    def _epoch_done(self, loss, n_samples):
        """An epoch's bookkeeping: its count, loss, samples seen, the schedule's rate."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n_samples
        self.loss_curve_.append(loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._optimizer.iteration_ends(self.t_)

    def _plateau_stops(self, trainer, early_stopping):
        """After an epoch: whether the n_iter_no_change test stops the fit (sgd's adaptive
        schedule divides its rate by 5 instead, while it is above 1e-6)."""
        if self._no_improvement_count <= self.n_iter_no_change:
            return False
        if early_stopping:
            msg = ("Validation score did not improve more than tol=%f for %d consecutive "
                   "epochs." % (self.tol, self.n_iter_no_change))
        else:
            msg = ("Training loss did not improve more than tol=%f for %d consecutive "
                   "epochs." % (self.tol, self.n_iter_no_change))
        if self._optimizer.trigger_stopping(msg, self.verbose):
            return True
        self._no_improvement_count = 0
        _sync_rate(trainer, self._optimizer)
        return False

    def _warn_at_max_iter(self):
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) "
                "reached and the optimization hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )

    def _update_validation_count(self, X_val, y_val, sw_val):
        """scikit-learn's _update_no_improvement_count with a validation set (without one,
        the engine does its test on the training loss: Trainer.run_plateau)."""
        score = self._score(X_val, y_val, sample_weight=sw_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print("Validation score: %f" % self.validation_scores_[-1])
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_coefs = [c.copy() for c in self.coefs_]
            self._best_intercepts = [b.copy() for b in self.intercepts_]

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(score_function(y, y_pred, sample_weight=sample_weight))

    # ----------------------------------------------------------------------- public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y; returns self.

        ``sample_weight`` (n_samples,) weights each sample's loss and gradient.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC:
            raise AttributeError("partial_fit is only available for stochastic"
                                 " optimizers. %s is not stochastic." % self.solver)
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _sync_rate(trainer, optimizer):
    """Give the trainer the schedule's current rate (only when it changed: the setter
    validates, which costs about as much as a small epoch's shuffle)."""
    rate = optimizer.engine_rate
    if trainer.learning_rate != rate:
        trainer.learning_rate = rate


def _reshuffled(sample_idx, random_state):
    """The next epoch's order: ``sklearn.utils.shuffle(sample_idx, random_state=rs)``.

    The same draw (``rs.shuffle`` of ``arange(n)``, then indexing the previous order),
    without its input validation, which costs more than a small epoch's arithmetic.
    """
    order = np.arange(sample_idx.shape[0])
    random_state.shuffle(order)
    return sample_idx[order]


def _label_binarizer(y):
    """``LabelBinarizer().fit(y)`` for the estimator's targets.

    For 1-D integer y (the common case: about 0.3 ms of scikit-learn's target-type
    inspection in a fit of a few milliseconds' work) the fitted attributes are set from
    ``np.unique``: ``classes_`` the sorted distinct labels in y's dtype, ``y_type_``
    "binary" for at most two of them, else "multiclass", ``sparse_input_`` False: what
    ``fit`` sets for such y (tests/test_sklearn_speed_paths.py compares every attribute
    for each integer dtype). Anything else (floats, strings, objects, 2-D, sparse, empty)
    goes through ``fit``, with its checks and errors.
    """
    lb = LabelBinarizer()
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.shape[0]:
        classes = np.unique(y)
        lb.y_type_ = "multiclass" if classes.shape[0] > 2 else "binary"
        lb.sparse_input_ = False
        lb.classes_ = classes
        return lb
    return lb.fit(y)


def _binarized(binarizer, y):
    """``binarizer.transform(y).astype(bool)`` for y whose labels are all among
    ``binarizer.classes_`` (every caller has checked that).

    For 1-D numeric or string y and a binary / multi-class binarizer this is one
    comparison against the classes: column j is ``y == classes_[j]`` (binary: the one
    column ``y == classes_[1]``), which is what ``label_binarize`` computes, without its
    target-type inspection (about 0.6 ms, a third of a small set's whole fit). Anything
    else (multi-label y, object labels, a single class) goes through ``transform``.
    """
    classes = binarizer.classes_
    if (y.ndim == 1 and y.dtype.kind in "biufU" and classes.dtype.kind in "biufU"
            and (y.dtype.kind == "U") == (classes.dtype.kind == "U")
            and len(classes) >= 2 and not binarizer.sparse_output
            and binarizer.pos_label == 1 and binarizer.neg_label == 0):
        if binarizer.y_type_ == "binary" and len(classes) == 2:
            return (y == classes[1]).reshape(-1, 1)
        if binarizer.y_type_ == "multiclass":
            return y[:, None] == classes[None, :]
    return binarizer.transform(y).astype(bool)


def _is_param_key(key):
    return key[:1] in "Wb" and key[1:].isdigit()


def _scipy_below_1_15():
    import scipy
    major, minor = (int(v) for v in scipy.__version__.split(".")[:2])
    return (major, minor) < (1, 15)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn's, trained by fastdnn's engine).

    Parameters are scikit-learn 1.9's ``MLPClassifier`` parameters, with the same names,
    defaults and meanings: ``hidden_layer_sizes=(100,)``, ``activation="relu"``
    ("identity", "logistic", "tanh", "relu"), ``solver="adam"`` ("lbfgs", "sgd",
    "adam"), ``alpha=1e-4`` (L2), ``batch_size="auto"`` (min(200, n_samples)),
    ``learning_rate="constant"`` ("invscaling", "adaptive"; sgd only),
    ``learning_rate_init=1e-3``, ``power_t=0.5``, ``max_iter=200``, ``shuffle=True``,
    ``random_state=None``, ``tol=1e-4``, ``verbose=False``, ``warm_start=False``,
    ``momentum=0.9``, ``nesterovs_momentum=True``, ``early_stopping=False``,
    ``validation_fraction=0.1``, ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-8``,
    ``n_iter_no_change=10``, ``max_fun=15000``.

    Fitted attributes: ``classes_``, ``loss_``, ``best_loss_``, ``loss_curve_``,
    ``validation_scores_``, ``best_validation_score_``, ``t_``, ``coefs_``,
    ``intercepts_``, ``n_features_in_``, ``feature_names_in_``, ``n_iter_``,
    ``n_layers_``, ``n_outputs_``, ``out_activation_`` ("logistic" for binary and
    multi-label y, "softmax" for multi-class).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    loss = "log_loss"  # fixed, as scikit-learn's classifier (not a constructor parameter)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = _label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X, _binarized(self._label_binarizer, y)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,) (or (n_samples, n_classes) multi-label)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); ``classes`` (all labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), columns ordered as ``classes_``."""
        check_is_fitted(self)
        p = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            p = p.ravel()
        if p.ndim == 1:
            return np.vstack([1 - p, p]).T
        return p

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn's, trained by fastdnn's engine).

    Parameters are scikit-learn 1.9's ``MLPRegressor`` parameters: ``loss="squared_error"``
    (half squared error, identity output) or ``"poisson"`` (half Poisson deviance, exp
    output; y >= 0), then the same as :class:`MLPClassifier`.

    Fitted attributes: ``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``t_``, ``coefs_``, ``intercepts_``, ``n_features_in_``,
    ``feature_names_in_``, ``n_iter_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``.
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def predict(self, X):
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.min(y) < 0:
            # scikit-learn documents y >= 0 but trains on, with NaN losses
            raise ValueError(f"loss='poisson' needs y >= 0, got min(y) = {np.min(y)}")
        return X, y

    # scikit-learn 1.9 tests ``est._check_solver`` (the bound method, always true) here,
    # so its regressor has partial_fit for every solver (lbfgs: a full fit that keeps the
    # current parameters); kept identical for drop-in behaviour.
    @available_if(lambda est: est._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y) with the stochastic solvers ("sgd", "adam").

        With solver="lbfgs" this runs L-BFGS from the current parameters, as scikit-learn's.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
