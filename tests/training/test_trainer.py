"""reglab.fit: what it records, the train/eval switch, decoupled decay, seeds, errors."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss, r2_score
from torch import Tensor, nn

import reglab
from reglab.errors import ConfigError, DataError, TrainingError
from reglab.layers import MLP
from reglab.regularizers import L1, L1L2, L2, MaxNorm, add_constraint, add_regularizer
from reglab.training import EarlyStopping, History
from reglab.training._data import infer_task
from reglab.training.metrics import Metric


def regression_data(n: int = 64, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return X, y


def classification_data(
    n: int = 90, d: int = 4, k: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + y[:, None]
    return X, y


def mlp(d: int = 4, out: int = 1, seed: int = 0, **kwargs: Any) -> MLP:
    torch.manual_seed(seed)
    return MLP(d, out, hidden=(16,), **kwargs)


class Recorder(nn.Module):
    """Wraps a model and records (training flag, grad enabled, rows) of every forward."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[bool, bool, int]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((self.training, torch.is_grad_enabled(), x.shape[0]))
        return self.inner(x)


# ----------------------------------------------------------------------------- history
def test_history_has_one_entry_per_epoch() -> None:
    X, y = regression_data()
    Xv, yv = regression_data(n=20, seed=1)
    history = reglab.fit(mlp(), X, y, epochs=5, lr=1e-2, validation_data=(Xv, yv), device="cpu")
    assert isinstance(history, History)
    assert history.epoch == [1, 2, 3, 4, 5]
    for name in ("train_loss", "running_loss", "penalty", "val_loss", "val_metric", "lr"):
        values = getattr(history, name)
        assert len(values) == 5 and all(math.isfinite(v) for v in values), name
    assert history.lr == [1e-2] * 5
    assert history.metric == "r2"
    assert (history.best_epoch, history.stopped_epoch) == (5, 0)
    frame = history.to_frame()
    assert list(frame.index) == [1, 2, 3, 4, 5]
    assert frame["val_r2"].tolist() == history.val_metric


def test_without_validation_the_validation_curves_are_nan() -> None:
    X, y = regression_data()
    history = reglab.fit(mlp(), X, y, epochs=2, device="cpu")
    assert all(math.isnan(v) for v in history.val_loss + history.val_metric)


def test_losses_and_metrics_match_sklearn_on_the_final_model() -> None:
    X, y = classification_data()
    Xv, yv = classification_data(n=30, seed=1)
    model = mlp(out=3)
    history = reglab.fit(model, X, y, epochs=3, lr=1e-2, validation_data=(Xv, yv))
    with torch.no_grad():
        p_train = torch.softmax(model(torch.tensor(X, dtype=torch.float32)), 1).numpy()
        p_val = torch.softmax(model(torch.tensor(Xv, dtype=torch.float32)), 1).numpy()
    assert history.train_loss[-1] == pytest.approx(log_loss(y, p_train), rel=1e-5)
    assert history.val_loss[-1] == pytest.approx(log_loss(yv, p_val), rel=1e-5)
    assert history.val_metric[-1] == pytest.approx(accuracy_score(yv, p_val.argmax(1)))
    assert history.metric == "accuracy"


def test_regression_loss_is_mse_without_half_and_metric_is_r2() -> None:
    X, y = regression_data()
    Xv, yv = regression_data(n=25, seed=2)
    model = mlp()
    history = reglab.fit(model, X, y, epochs=3, lr=1e-2, validation_data=(Xv, yv))
    with torch.no_grad():
        pred = model(torch.tensor(X, dtype=torch.float32)).numpy()[:, 0]
        pred_v = model(torch.tensor(Xv, dtype=torch.float32)).numpy()[:, 0]
    assert history.train_loss[-1] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert history.val_metric[-1] == pytest.approx(r2_score(yv, pred_v), rel=1e-5)


@pytest.mark.parametrize("outputs", [1, 2], ids=["one-logit-bce", "two-logits-ce"])
def test_binary_task_trains_with_one_or_two_logits(outputs: int) -> None:
    X, y = classification_data(k=2)
    model = mlp(out=outputs)
    history = reglab.fit(model, X, y, epochs=20, lr=1e-2)
    with torch.no_grad():
        out = model(torch.tensor(X, dtype=torch.float32))
    p1 = torch.sigmoid(out[:, 0]) if outputs == 1 else torch.softmax(out, 1)[:, 1]
    assert history.train_loss[-1] == pytest.approx(log_loss(y, p1.numpy()), rel=1e-5)
    assert history.train_loss[-1] < history.train_loss[0]


def test_train_loss_is_measured_in_eval_mode_without_penalty() -> None:
    X, y = regression_data()
    model = mlp(dropout=0.5, kernel_regularizer=L2(0.05))
    history = reglab.fit(model, X, y, epochs=4, lr=1e-2)
    assert not model.training  # left in evaluation mode
    with torch.no_grad():
        pred = model(torch.tensor(X, dtype=torch.float32))[:, 0].numpy()
    assert history.train_loss[-1] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    # the running loss is the training-mode objective (dropout on, penalty included): different
    assert all(
        abs(r - t) > 1e-3 for r, t in zip(history.running_loss, history.train_loss, strict=True)
    )


def test_penalty_shares_sum_to_the_total_and_match_the_weights() -> None:
    X, y = regression_data()
    l1, l2 = 1e-3, 1e-2
    model = MLP(4, 1, hidden=(8, 8), kernel_regularizer=L1L2(l1, l2), regularize_output=True)
    history = reglab.fit(model, X, y, epochs=3, lr=1e-2)
    assert set(history.penalty_shares) == {"dense0.weight", "dense1.weight", "output.weight"}
    for i in range(3):
        total = sum(shares[i] for shares in history.penalty_shares.values())
        assert total == pytest.approx(history.penalty[i], rel=1e-6)
    for name, values in history.penalty_shares.items():
        w = model.get_parameter(name).detach().double()
        expected = l1 * w.abs().sum() + l2 * (w**2).sum()
        assert values[-1] == pytest.approx(float(expected), rel=1e-5), name


def test_validation_and_measurements_never_run_in_training_mode() -> None:
    X, y = regression_data(n=40)
    Xv, yv = regression_data(n=7, seed=3)
    model = Recorder(mlp(dropout=0.3))
    reglab.fit(model, X, y, epochs=3, batch_size=16, validation_data=(Xv, yv))
    training = [c for c in model.calls if c[0]]
    measuring = [c for c in model.calls if not c[0]]
    assert [rows for _, _, rows in training] == [16, 16, 8] * 3
    assert all(grad for _, grad, _ in training)
    assert not any(grad for _, grad, _ in measuring)
    # every validation forward (7 rows) and every training-set measurement (40 rows) in eval mode
    assert sorted({rows for _, _, rows in measuring}) == [2, 7, 40]  # 2 rows: output probe
    assert sum(rows == 7 for _, _, rows in measuring) == 3


@pytest.mark.parametrize("batch_size", [None, "full"], ids=["None", "full"])
def test_full_batch_takes_one_step_per_epoch(batch_size: Any) -> None:
    X, y = regression_data(n=30)
    model = Recorder(mlp())
    reglab.fit(model, X, y, epochs=4, batch_size=batch_size)
    assert [rows for training, _, rows in model.calls if training] == [30] * 4


def test_batch_norm_skips_a_last_batch_of_one_row() -> None:
    X, y = regression_data(n=33)
    model = Recorder(mlp(batch_norm=True))
    reglab.fit(model, X, y, epochs=2, batch_size=16)
    assert [rows for training, _, rows in model.calls if training] == [16, 16] * 2


# --------------------------------------------------------------------- early stopping
def test_early_stopping_restores_the_best_validation_weights() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 5)), rng.normal(size=20)  # pure noise: memorizing overfits
    Xv, yv = rng.normal(size=(50, 5)), rng.normal(size=50)
    torch.manual_seed(0)
    model = MLP(5, 1, hidden=(64, 64))
    es = EarlyStopping(patience=3)
    history = reglab.fit(
        model, X, y, epochs=200, lr=1e-2, batch_size=None, validation_data=(Xv, yv),
        early_stopping=es,
    )  # fmt: skip
    assert history.stopped_epoch > 0 and len(history) == history.stopped_epoch
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1 == es.best_epoch_
    assert history.stopped_epoch - history.best_epoch == 3
    with torch.no_grad():
        pred = model(torch.tensor(Xv, dtype=torch.float32))[:, 0].numpy()
    assert np.mean((pred - yv) ** 2) == pytest.approx(min(history.val_loss), rel=1e-5)


def test_early_stopping_true_uses_defaults_and_auto_direction_of_the_metric() -> None:
    X, y = classification_data()
    es = EarlyStopping(monitor="val_accuracy", patience=2)
    reglab.fit(mlp(out=3), X, y, epochs=3, validation_split=0.2, early_stopping=es)
    assert es.mode_ == "max"  # from accuracy's higher_is_better, not from the name
    history = reglab.fit(mlp(out=3), X, y, epochs=2, validation_split=0.2, early_stopping=True)
    assert history.best_epoch in (1, 2)


def test_early_stopping_on_val_loss_needs_validation_data() -> None:
    X, y = regression_data()
    with pytest.raises(ConfigError, match=r"fit: `validation_data` must be given .*'val_loss'"):
        reglab.fit(mlp(), X, y, epochs=2, early_stopping=True)


def test_early_stopping_monitor_typo_is_reported() -> None:
    X, y = regression_data()
    with pytest.raises(ConfigError, match=r"got 'val_los'\. Did you mean 'val_loss'\?"):
        reglab.fit(
            mlp(), X, y, epochs=2, validation_split=0.25,
            early_stopping=EarlyStopping(monitor="val_los"),
        )  # fmt: skip


# ------------------------------------------------------------------------ NaN losses
class BlowsUp(nn.Module):
    """Outputs NaN from its ``after``-th training forward on."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)
        self.after = after
        self.steps = 0

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            self.steps += 1
        out = self.linear(x)
        return out * math.nan if self.steps >= self.after else out


def test_nan_loss_raises_training_error_naming_the_epoch() -> None:
    X, y = regression_data(n=32)
    with pytest.raises(
        TrainingError, match=r"fit: the training loss must stay finite; got nan at epoch 3 "
    ):
        reglab.fit(BlowsUp(after=9), X, y, epochs=10, batch_size=8)  # 4 steps per epoch


def test_divergence_raises_training_error() -> None:
    X, y = regression_data()
    with pytest.raises(TrainingError, match=r"at epoch \d+"):
        reglab.fit(nn.Linear(4, 1), X, 1e3 * y, optimizer="sgd", lr=50.0, epochs=200)


# --------------------------------------------------------------------- weight decay
def linear_model(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(4, 1, dtype=torch.float64)


def test_sgd_weight_decay_equals_l2_with_half_the_strength() -> None:
    # plain SGD: decoupled decay w ← w − lr·wd·w equals the gradient of L2(wd/2)·Σw², 2·l2·w
    X, y = regression_data()
    wd = 0.2
    decayed, penalized = linear_model(), linear_model()
    add_regularizer(penalized, L2(wd / 2))
    h1 = reglab.fit(
        decayed, X, y, optimizer="sgd", lr=0.05, weight_decay=wd, epochs=5, batch_size=16
    )
    h2 = reglab.fit(penalized, X, y, optimizer="sgd", lr=0.05, epochs=5, batch_size=16)
    torch.testing.assert_close(decayed.weight, penalized.weight)
    torch.testing.assert_close(decayed.bias, penalized.bias)
    # decay is not a penalty: nothing is recorded for it
    assert h1.penalty == [0.0] * 5 and h2.penalty[-1] > 0


def test_adam_weight_decay_is_not_l2() -> None:
    X, y = regression_data()
    wd = 0.2
    decayed, penalized = linear_model(), linear_model()
    add_regularizer(penalized, L2(wd / 2))
    reglab.fit(decayed, X, y, optimizer="adam", lr=0.05, weight_decay=wd, epochs=10)
    reglab.fit(penalized, X, y, optimizer="adam", lr=0.05, epochs=10)
    assert (decayed.weight - penalized.weight).abs().max() > 1e-2


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_weight_decay_matches_torch_adamw_on_weights_only(name: str) -> None:
    X, y = regression_data(n=32)
    ours, reference = linear_model(), linear_model()
    reglab.fit(
        ours, X, y, optimizer=name, lr=0.05, weight_decay=0.1, epochs=3, batch_size=None,
        shuffle=False,
    )  # fmt: skip
    opt = torch.optim.AdamW(
        [
            {"params": [reference.weight], "weight_decay": 0.1},
            {"params": [reference.bias], "weight_decay": 0.0},
        ],
        lr=0.05,
    )
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(reference(Xt)[:, 0], yt).backward()
        opt.step()
    torch.testing.assert_close(ours.weight, reference.weight)
    torch.testing.assert_close(ours.bias, reference.bias)


def test_optimizer_factory_gets_param_groups_and_lr() -> None:
    X, y = regression_data()
    model = linear_model()
    history = reglab.fit(model, X, y, optimizer=torch.optim.RMSprop, lr=1e-2, epochs=5)
    assert history.lr == [1e-2] * 5
    assert history.train_loss[-1] < history.train_loss[0]


# ---------------------------------------------------- proximal L1 and constraints
def test_proximal_l1_gives_exact_zeros_with_adam() -> None:
    X, y = regression_data(d=10)
    y = X[:, 0] * 2.0  # only the first feature matters
    model = linear_model()
    model = nn.Linear(10, 1)
    add_regularizer(model, L1(0.05, mode="proximal"))
    reglab.fit(model, X, y, optimizer="adam", lr=0.05, epochs=100)
    w = model.weight.detach()[0]
    assert (w[1:] == 0).all() and w[0] > 1.5


def test_constraints_are_applied_after_every_step() -> None:
    X, y = regression_data()
    model = mlp()
    add_constraint(model, MaxNorm(0.5))
    reglab.fit(model, X, 10 * y, lr=0.05, epochs=5)
    for layer in (model.dense0, model.output):
        assert layer.weight.detach().norm(dim=1).max() <= 0.5 + 1e-5


# ----------------------------------------------------------------------- randomness
def test_same_seed_same_result_and_global_rng_untouched() -> None:
    X, y = classification_data()
    base = mlp(out=3, dropout=0.5, input_dropout=0.2, drop_connect=0.3)
    runs = []
    for seed in (0, 0, 1):
        model = copy.deepcopy(base)
        state = torch.random.get_rng_state()
        history = reglab.fit(model, X, y, epochs=3, seed=seed, validation_split=0.2)
        assert torch.equal(torch.random.get_rng_state(), state), "global RNG was used"
        runs.append((history, model))
    (h0, m0), (h1, m1), (_, m2) = runs
    assert h0.to_dict() == h1.to_dict()
    torch.testing.assert_close(m0.state_dict(), m1.state_dict(), rtol=0, atol=0)
    assert not torch.equal(m0.dense0.weight, m2.dense0.weight)
    # the seeded generators are lent for training only
    assert base.dropout0.generator is None and m0.dropout0.generator is None


def test_cpu_device() -> None:
    X, y = regression_data()
    model = mlp()
    reglab.fit(model, X, y, epochs=1, device="cpu")
    assert {p.device.type for p in model.parameters()} == {"cpu"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_auto_device_is_cpu_without_cuda_and_cuda_is_refused() -> None:
    X, y = regression_data()
    model = mlp()
    reglab.fit(model, X, y, epochs=1, device="auto")
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(ConfigError, match=r"`device` must be 'cpu' or 'auto' \(CUDA is not"):
        reglab.fit(model, X, y, epochs=1, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    X, y = regression_data()
    cpu, gpu = linear_model(), linear_model()
    reglab.fit(cpu, X, y, epochs=3, device="cpu", optimizer="sgd", lr=0.05)
    reglab.fit(gpu, X, y, epochs=3, device="cuda", optimizer="sgd", lr=0.05)
    torch.testing.assert_close(cpu.weight, gpu.weight.cpu())


# ------------------------------------------------------------------------ the task
@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.array([0.5, 1.5, 2.0, 3.0]), "regression"),
        (np.array([0.0, 1.0, 1.0, 0.0]), "binary"),
        (np.array([0, 1, 1, 0]), "binary"),
        (np.array([True, False, True, True]), "binary"),
        (np.array([0, 1, 2, 1]), "multiclass"),
        (np.array(["a", "b", "c", "a"]), "multiclass"),
        (np.array(["yes", "no", "no", "yes"]), "binary"),
        (np.zeros((4, 2)), "regression"),
    ],
    ids=[
        "float-non-integer", "float-integers-2", "int-2", "bool", "int-3", "strings-3",
        "strings-2", "2-d-targets",
    ],
)  # fmt: skip
def test_task_inference(y: np.ndarray, task: str) -> None:
    assert infer_task("fit", y) == task


def test_string_labels_train_as_sorted_class_indices() -> None:
    X, y = classification_data()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    a, b = mlp(out=3), mlp(out=3)
    ha = reglab.fit(a, X, names, epochs=2)
    hb = reglab.fit(b, X, y, epochs=2)
    assert ha.to_dict() == hb.to_dict()


def test_custom_loss_and_metric() -> None:
    X, y = regression_data()
    mae = Metric("mae_custom", lambda out, t: float((out - t).abs().mean()), False)
    history = reglab.fit(
        mlp(), X, y, epochs=2, loss=nn.L1Loss(), metric=mae, validation_split=0.25,
        early_stopping=EarlyStopping(monitor="val_metric", patience=5),
    )  # fmt: skip
    assert history.metric == "mae_custom"
    assert history.val_metric == pytest.approx(history.val_loss, rel=1e-5)  # both are MAE


def test_verbose_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = regression_data()
    reglab.fit(mlp(), X, y, epochs=3, verbose=True, validation_split=0.25)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3 - train_loss ")
    assert "val_r2" in lines[-1]


# ----------------------------------------------------------------------- bad inputs
X0, Y0 = regression_data(n=10)
XC, YC = classification_data(n=12)


def bad(id: str, kwargs: dict[str, Any], error: type[Exception], match: str) -> Any:
    return pytest.param(kwargs, error, match, id=id)


NAN_X = np.where(np.eye(10, 4) > 0, np.nan, X0)
BAD = [
    bad("X-with-nan", {"X": NAN_X}, DataError,
        r"fit: `X` must be free of NaN and infinite values; got 4 in columns \[0, 1, 2, 3\]\."),
    bad("X-1d", {"X": X0[:, 0]}, DataError,
        r"fit: `X` must be an array of shape \(n_samples, n_features\); got shape \(10,\)\."),
    bad("X-strings", {"X": np.array([["a"]] * 10)}, DataError,
        r"fit: `X` must be a numeric array; got dtype <U1\."),
    bad("y-length", {"y": Y0[:9]}, DataError,
        r"fit: `y` must be an array with one entry per row of `X` \(10\); got 9\."),
    bad("y-nan", {"y": np.r_[Y0[:9], np.nan]}, DataError,
        r"fit: `y` must be free of NaN and infinite values; got 1 such values\."),
    bad("batch-size-0", {"batch_size": 0}, ConfigError,
        r"fit: `batch_size` must be an integer >= 1; got 0\."),
    bad("batch-size-all", {"batch_size": "all"}, ConfigError,
        r"`batch_size` must be an integer >= 1; got 'all'\."),
    bad("optimizer-typo", {"optimizer": "adma"}, ConfigError,
        r"`optimizer` must be one of 'adam', 'adamw', 'sgd'; got 'adma'\. Did you mean 'adam'\?"),
    bad("momentum-with-adam", {"momentum": 0.9}, ConfigError,
        r"`momentum` must be 0 with optimizer 'adam' \(SGD only\); got 0\.9\."),
    bad("task-typo", {"task": "regresion"}, ConfigError,
        r"`task` must be one of .*Did you mean 'regression'\?"),
    bad("lr-negative", {"lr": -1.0}, ConfigError,
        r"`lr` must be a finite float > 0; got -1\.0\."),
    bad("epochs-0", {"epochs": 0}, ConfigError, r"`epochs` must be an integer >= 1; got 0\."),
    bad("split-and-data", {"validation_split": 0.2, "validation_data": (X0, Y0)}, ConfigError,
        r"`validation_split` must be 0 when `validation_data` is given; got 0\.2\."),
    bad("validation-width", {"validation_data": (X0[:, :3], Y0)}, DataError,
        r"`validation_data\[0\]` must be rows shaped like those of `X` \(4,\); got \(3,\)\."),
    bad("metric-for-regression", {"metric": "accuracy"}, ConfigError,
        r"fit: `metric` must be one of 'r2', 'mse', 'rmse', 'mae'; got 'accuracy'\."),
    bad("model-not-module", {"model": "mlp"}, ConfigError,
        r"fit: `model` must be a torch.nn.Module; got 'str'\."),
    bad("regression-width", {"model": nn.Linear(4, 2)}, DataError,
        r"`model` must be a model with 1 output\(s\) per sample \(the width of `y`\); got 2\."),
    bad("labels-beyond-logits",
        {"y": YC, "X": XC, "model": nn.Linear(4, 2), "task": "multiclass"}, DataError,
        r"`model` must be a model with one logit per class \(3 or more\) for task 'multiclass'; "
        r"got 2\."),
    bad("binary-three-logits", {"y": YC % 2, "X": XC, "model": nn.Linear(4, 3)}, DataError,
        r"`model` must be a model with 1 logit \(or 2\) per sample for task 'binary'; got 3\."),
    bad("binary-labels-1-2", {"y": YC % 2 + 1, "X": XC}, DataError,
        r"`y` must be class indices 0 and 1 for task 'binary'; got \[1, 2\]\."),
    bad("single-class", {"y": np.zeros(10, dtype=int)}, DataError,
        r"`y` must be labels of at least 2 classes to infer the task \(or pass `task`\); "
        r"got 1 class\."),
    bad("several-problems", {"lr": 0.0, "epochs": -1}, ConfigError,
        r"`lr` .*; got 0\.0\. fit: `epochs`"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_inputs_raise_one_line_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"model": nn.Linear(4, 1), "X": X0, "y": Y0, "epochs": 1, **kwargs}
    with pytest.raises(error, match=match) as info:
        reglab.fit(args.pop("model"), args.pop("X"), args.pop("y"), **args)
    assert "\n" not in str(info.value)


def test_validation_split_is_seeded_and_stratified() -> None:
    X, y = classification_data(n=60)
    model = Recorder(mlp(out=3))
    reglab.fit(model, X, y, epochs=1, validation_split=0.25)
    rows = {r for t, _, r in model.calls if not t}
    assert rows == {2, 45, 15}  # probe, training set, validation set


def test_error_messages_follow_the_shape() -> None:
    X, y = regression_data()
    with pytest.raises(ConfigError) as info:
        reglab.fit(mlp(), X, y, shuffle="yes")  # type: ignore[arg-type]
    assert re.fullmatch(r"fit: `shuffle` must be a bool; got 'yes'\.", str(info.value))


def test_validation_split_takes_the_last_rows_as_keras_does() -> None:
    from reglab.training._data import prepare

    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.array([0, 1] * 10)
    _, last = prepare("fit", X, y, None, None, 0.25, 0)
    assert last.x_val is not None and last.x_val[:, 0].tolist() == X[15:, 0].tolist()
    _, strat = prepare("fit", X, y, None, None, 0.25, 0, "stratified")
    assert strat.x_val is not None and strat.x_val[:, 0].tolist() != X[15:, 0].tolist()
    assert sorted(strat.t_val.tolist()) in ([0, 0, 1, 1, 1], [0, 0, 0, 1, 1])
