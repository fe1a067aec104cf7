"""The recurrent family on tiny sequences (160 rows of 8 steps × 2 features, two classes).

Contracts: the member-batched cell maths equal ``torch.nn.LSTM``/``torch.nn.GRU`` with the same
weights; a member is bit for bit the same alone and in a stack of different members (also
with two threads); the exported ``RecurrentNet`` loaded with its weights predicts what it
predicted; a one-member stack equals ``reglab.fit`` on the exported module (and, with
``grad-clip``, a plain loop calling ``clip_grad_norm_``); the noise acts where it should;
members learn; what does not apply is refused in one line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab.engine import MemberSpec, TrainConfig, initial_weights, stream_seeds, train_members
from reglab.engine.family import family_of
from reglab.engine.plan import member_bytes
from reglab.engine.rnn import RNN_FAMILY, RecurrentArchitecture, RecurrentPlace, parse_model
from reglab.engine.spec import Architecture, Strategy
from reglab.errors import ConfigError
from reglab.layers.recurrent import RecurrentNet, recurrent_sequence
from reglab.study.strategies import parse_strategy

N, T, F = 160, 8, 2
LSTM = RecurrentArchitecture(T * F, 2, units=(6, 5), steps=T, features=F, task="multiclass")
GRU = RecurrentArchitecture(T * F, 2, units=(6,), steps=T, features=F, cell="gru")


@pytest.fixture(scope="module")
def waves() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Class 0: slow waves, class 1: fast waves, random phases, noise; flat time-major rows."""
    rng = np.random.default_rng(0)
    y = (np.arange(N) % 2).astype(np.int64)
    t = np.arange(T)[None, :, None]
    freq = np.where(y == 0, 0.4, 1.3)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, size=(N, 1, F))
    x = np.sin(freq * t + phase) + 0.3 * rng.standard_normal((N, T, F))
    return {0: (x.reshape(N, T * F).astype(np.float32), y)}


def _member(arch: RecurrentArchitecture, strategy: str, seed: int, **train: Any) -> MemberSpec:
    idx = np.arange(N)
    config = TrainConfig(**{"epochs": 3, "patience": None, "batch_size": 16, "lr": 1e-2, **train})
    return MemberSpec(
        arch, parse_strategy(strategy), config, idx[:110], idx[110:130], idx[130:], seed=seed
    )


# -- the oracle: torch's own modules -----------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cell_maths_equal_torch_modules_member_by_member(cell: str) -> None:
    torch.manual_seed(0)
    kind = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    modules = [kind(3, 5, batch_first=True) for _ in range(3)]  # three members' weights
    x = torch.randn(3, 7, 4, 3)  # [M, B, T, F]
    names = ("weight_ih_l0", "bias_ih_l0", "weight_hh_l0", "bias_hh_l0")
    stacked = {n: torch.stack([getattr(mod, n) for mod in modules]).detach() for n in names}
    for n in ("bias_ih_l0", "bias_hh_l0"):
        stacked[n] = stacked[n].unsqueeze(2)
    with torch.no_grad():
        out = recurrent_sequence(cell, x.permute(0, 3, 2, 1), *(stacked[n] for n in names))
        for i, mod in enumerate(modules):
            expected = mod(x[i])[0]  # [B, T, H]
            torch.testing.assert_close(out[i].permute(2, 1, 0), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("arch", [LSTM, GRU], ids=["lstm-2-layers", "gru"])
def test_exported_module_predicts_what_the_member_predicted(waves: Any, arch: Any) -> None:
    x, _ = waves[0]
    specs = [_member(arch, s, seed) for seed, s in enumerate(["none", "dropout=0.2+l2=1e-3"])]
    for spec, r in zip(specs, train_members(specs, waves, device="cpu"), strict=True):
        assert r.status == "ok", r.error
        module = RNN_FAMILY.export(arch, spec.strategy)
        kind = torch.nn.LSTM if arch.cell == "lstm" else torch.nn.GRU
        assert isinstance(module.rnn0, kind)
        assert set(module.state_dict()) == set(r.weights)
        module.load_state_dict({k: torch.from_numpy(v) for k, v in r.weights.items()})
        with torch.no_grad():  # eval: torch's own LSTM/GRU run
            logits = module.eval()(torch.from_numpy(x[spec.test_idx]))
        np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), r.test_pred, atol=1e-5)


# -- independence -------------------------------------------------------------------------------

STACKED = [
    "none",
    "dropout=0.3+recurrent-dropout=0.3",
    "weight-drop=0.4+l2=1e-3",
    "input-dropout=0.1+grad-clip=0.5",
    "l1=1e-4+activity-l2=1e-3+weight-decay=0.05",
]


@pytest.fixture(scope="module")
def stacked(waves: Any) -> tuple[list[MemberSpec], list[Any]]:
    specs = [_member(LSTM, s, seed, epochs=12) for seed, s in enumerate(STACKED, start=3)]
    return specs, train_members(specs, waves, device="cpu")


def test_members_learn(stacked: Any) -> None:
    specs, results = stacked
    for spec, r in zip(specs, results, strict=True):
        assert r.status == "ok", r.error
        assert r.test_scores["accuracy"] >= 0.75, (spec.strategy.name, r.test_scores)  # chance 0.5
    assert results[2].curves["penalty"][-1] > 0 and results[0].curves["penalty"][-1] == 0


@pytest.mark.parametrize("position", [1, 2, 3, 4])
def test_a_member_is_bit_identical_alone_and_stacked(
    waves: Any, stacked: Any, position: int
) -> None:
    specs, together = stacked
    (alone,) = train_members(specs[position : position + 1], waves, device="cpu")
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[position].weights[name]), name
    for name, curve in alone.curves.items():
        assert np.array_equal(curve, together[position].curves[name], equal_nan=True), name
    assert np.array_equal(alone.test_pred, together[position].test_pred)


def test_threads_and_gru_keep_a_members_bits(waves: Any) -> None:
    strategies = ["none", "weight-drop=0.3+recurrent-dropout=0.2", "l2=1e-3"]
    specs = [_member(GRU, s, seed, epochs=2) for seed, s in enumerate(strategies)]
    together = train_members(specs, waves, device="cpu", num_threads=2)
    (alone,) = train_members(specs[1:2], waves, device="cpu", num_threads=1)
    for name, value in alone.weights.items():
        assert np.array_equal(value, together[1].weights[name]), name


# -- equivalence with the single model -----------------------------------------------------------

EQUIVALENT: list[tuple[str, str, dict[str, Any], str]] = [
    ("plain-lstm", "none", {}, "lstm"),
    ("plain-gru", "none", {}, "gru"),
    ("l2-recurrent-kernels", "l2=1e-2", {}, "lstm"),
    ("l2-all-layers", "l2=1e-2", {"penalty_layers": "all"}, "gru"),
    ("l1-first-layer", "l1=1e-2", {"penalty_layers": "first"}, "lstm"),
    ("weight-decay", "weight-decay=0.1", {}, "lstm"),
    ("max-norm", "maxnorm=0.4", {}, "lstm"),
    ("sgd", "l2=1e-3", {"optimizer": "sgd"}, "gru"),
]


@pytest.mark.parametrize(
    ("strategy", "fields", "cell"), [c[1:] for c in EQUIVALENT], ids=[c[0] for c in EQUIVALENT]
)
def test_one_member_stack_equals_fit(
    waves: Any, strategy: str, fields: dict[str, Any], cell: str
) -> None:
    x, y = waves[0]
    fields = dict(fields)
    optimizer = fields.pop("optimizer", "adam")
    s = Strategy.from_dict({**parse_strategy(strategy).to_dict(), **fields})
    arch = LSTM if cell == "lstm" else GRU
    base = _member(arch, "none", 5, epochs=2, optimizer=optimizer)
    spec = MemberSpec(arch, s, base.train, base.train_idx, base.val_idx, base.test_idx, seed=5)
    (result,) = train_members([spec], waves, device="cpu")
    model = RNN_FAMILY.export(arch, s)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    history = reglab.fit(
        model,
        x[spec.train_idx],
        y[spec.train_idx],
        task="multiclass",
        optimizer=optimizer,
        lr=spec.lr,
        weight_decay=s.weight_decay,
        epochs=spec.train.epochs,
        batch_size=spec.train.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]),
        device="cpu",
        seed=stream_seeds(spec.seed)["order"],
    )
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(result.weights[key], value.numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=1e-4)
    np.testing.assert_allclose(result.curves["penalty"], history.penalty, rtol=1e-4, atol=1e-6)


def test_grad_clip_equals_a_loop_with_clip_grad_norm(waves: Any) -> None:
    x, y = waves[0]
    spec = _member(GRU, "grad-clip=0.05", 7, epochs=2)
    (result,) = train_members([spec], waves, device="cpu")
    (unclipped,) = train_members([_member(GRU, "none", 7, epochs=2)], waves, device="cpu")
    model = RNN_FAMILY.export(GRU, spec.strategy).train()
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    order = torch.Generator().manual_seed(stream_seeds(spec.seed)["order"])
    xt, yt = torch.from_numpy(x[spec.train_idx]), torch.from_numpy(y[spec.train_idx])
    for _ in range(spec.train.epochs):
        perm = torch.randperm(len(xt), generator=order)
        for start in range(0, len(xt), spec.batch_size):
            rows = perm[start : start + spec.batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[rows]), yt[rows]).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)
            opt.step()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(result.weights[key], value.detach().numpy(), atol=2e-5)
    moved = max(np.abs(result.weights[k] - unclipped.weights[k]).max() for k in result.weights)
    assert moved > 1e-3  # the clipping was active


# -- where the noise acts ------------------------------------------------------------------------


def test_recurrent_dropout_uses_the_same_mask_at_every_step() -> None:
    torch.manual_seed(1)
    w_ih, w_hh = torch.randn(1, 20, 3), torch.randn(1, 20, 5)
    b_ih, b_hh = torch.randn(1, 20, 1), torch.randn(1, 20, 1)
    x = torch.randn(1, 3, 6, 4)
    mask = torch.full((1, 5, 4), 2.0)
    mask[:, 2] = 0.0  # unit 2 dropped for every row: as if its column of W_hh were 0
    masked = recurrent_sequence("lstm", x, w_ih, b_ih, w_hh, b_hh, recurrent_mask=mask)
    cut = w_hh * 2.0
    cut[:, :, 2] = 0.0
    torch.testing.assert_close(masked, recurrent_sequence("lstm", x, w_ih, b_ih, cut, b_hh))
    weight_mask = (torch.rand(1, 20, 5) > 0.5).float() * 2.0
    dropped = recurrent_sequence("gru", x[:, :, :, :], w_ih[:, :15], b_ih[:, :15], w_hh[:, :15],
                                 b_hh[:, :15], kernel_mask=weight_mask[:, :15])  # fmt: skip
    expected = recurrent_sequence("gru", x, w_ih[:, :15], b_ih[:, :15],
                                  w_hh[:, :15] * weight_mask[:, :15], b_hh[:, :15])  # fmt: skip
    torch.testing.assert_close(dropped, expected)


def test_noise_places_layout_and_memory() -> None:
    spec = _member(LSTM, "dropout=0.1/0.2+recurrent-dropout=0.3+weight-drop=0.4", 0)
    places = RNN_FAMILY.noise_places([spec])
    assert places == [
        RecurrentPlace("output", 0, (6, 16)),
        RecurrentPlace("recurrent", 0, (6, 16)),
        RecurrentPlace("weightdrop", 0, (24, 6)),
        RecurrentPlace("output", 1, (5, 16)),
        RecurrentPlace("recurrent", 1, (5, 16)),
        RecurrentPlace("weightdrop", 1, (20, 5)),
    ]
    assert [p.rate(spec) for p in places] == [0.1, 0.3, 0.4, 0.2, 0.3, 0.4]
    layout = RNN_FAMILY.layout(LSTM)
    assert [(b.name, b.shape) for b in layout.blocks if b.kind.startswith("rnn")][:4] == [
        ("rnn0.weight_ih_l0", (24, 2)),
        ("rnn0.weight_hh_l0", (24, 6)),
        ("rnn0.bias_ih_l0", (24, 1)),
        ("rnn0.bias_hh_l0", (24, 1)),
    ]
    weights = initial_weights(spec)
    bound = 1 / np.sqrt(5)  # nn.LSTM's default: U(±1/√H)
    assert 0.9 * bound < np.abs(weights["rnn1.weight_hh_l0"]).max() <= bound
    assert weights["rnn1.bias_hh_l0"].shape == (20,)
    dense = MemberSpec(Architecture(16, 2, hidden=(6, 5)), spec.strategy, spec.train,
                       spec.train_idx, spec.val_idx, spec.test_idx)  # fmt: skip
    assert member_bytes(spec) > member_bytes(dense)
    assert family_of(LSTM) is RNN_FAMILY


# -- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "match"),
    [
        ("dropconnect=0.2", r"`dropconnect` \(weight-drop=p is DropConnect on the recurrent"),
        ("gaussian-dropout=0.2", r"`gaussian-dropout`"),
        ("l1=1e-3+proximal", r"`proximal`"),
        ("group-l1=1", r"`group-l1` \(a projection of dense kernels\)"),
    ],
    ids=["dropconnect", "gaussian", "proximal", "projection"],
)
def test_terms_that_do_not_apply_are_refused(waves: Any, strategy: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        train_members([_member(LSTM, strategy, 0)], waves, device="cpu")
    assert "\n" not in str(info.value)


def test_recurrent_terms_on_an_mlp_member_are_refused() -> None:
    idx = np.arange(40)
    x = np.zeros((40, 4), dtype=np.float32)
    y = (np.arange(40) % 2).astype(np.int64)
    for term in ("recurrent-dropout=0.2", "weight-drop=0.2", "grad-clip=1"):
        config = TrainConfig(epochs=1, patience=None)
        arch = Architecture(4, 2, hidden=(4,))
        spec = MemberSpec(arch, parse_strategy(term), config, idx[:30], idx[:0], idx[30:])
        key = term.split("=")[0]
        with pytest.raises(ConfigError, match=f"free of `{key}`, which acts on rnn members only"):
            train_members([spec], {0: (x, y)}, device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"in_features": 10}, r"`in_features` must be steps·features = 16; got 10"),
        ({"hidden": (4,)}, r"`hidden` must be \(\) \(the output layer reads the last state\)"),
        ({"cell": "rnn"}, r"`cell` must be one of"),
        ({"units": ()}, r"`units` must be at least one recurrent layer"),
        ({"batch_norm": True}, r"`batch_norm` must be False"),
    ],
    ids=["features", "hidden", "cell", "units", "batch-norm"],
)
def test_bad_architectures_name_the_field(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"in_features": 16, "out_features": 2, "steps": 8, "features": 2}
    with pytest.raises(ConfigError, match=match):
        RecurrentArchitecture(**{**args, **kwargs})


def test_model_options_are_parsed_and_checked() -> None:
    assert parse_model("rnn?cell=gru") == ("rnn", {"cell": "gru"})
    with pytest.raises(ConfigError, match=re.escape("`model option cell` must be lstm or gru")):
        parse_model("rnn?cell=tcn")
    with pytest.raises(ConfigError, match="Did you mean 'cell'"):
        parse_model("rnn?cel=gru")
    with pytest.raises(ConfigError, match=re.escape("options (after ?) are for 'rnn' only")):
        parse_model("cnn?cell=gru")
    with pytest.raises(ConfigError, match="`recurrent_dropout` must be"):
        RecurrentNet("lstm", 4, 1, 1, recurrent_dropout=1.5)


def test_the_documented_example_runs() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    (block,) = [b for b in blocks if "RNN_FAMILY.export" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, str(doc), "exec"), namespace)
    results = namespace["results"]
    assert [r.status for r in results] == ["ok"] * 3
    assert min(r.test_scores["r2"] for r in results) > 0.5
    assert isinstance(namespace["model"].rnn0, torch.nn.LSTM)


def test_weight_summary_covers_every_kernel(stacked: Any) -> None:
    _, results = stacked
    r = results[3]
    assert list(r.weight_hist) == ["rnn0.weight_ih", "rnn0.weight_hh", "rnn1.weight_ih",
                                   "rnn1.weight_hh", "output"]  # fmt: skip
    edges, counts = r.weight_hist["rnn0.weight_hh"]
    assert sum(counts) == 24 * 6 and len(edges) == len(counts) + 1
    expected = np.linalg.norm(r.weights["rnn0.weight_ih_l0"].astype(np.float64), axis=0)
    np.testing.assert_allclose(r.feature_norms, expected)  # one per input feature (F = 2)
