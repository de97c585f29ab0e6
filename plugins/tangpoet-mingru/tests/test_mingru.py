"""minGRU plugin: step equations, the sequence layer vs its cell, PoemModel save/load, step decoder, training.

Run on each backend: ``KERAS_BACKEND=jax|tensorflow|torch pytest plugins/tangpoet-mingru/tests -q``.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tangpoet.backend import ensure_backend

ensure_backend()
import keras  # noqa: E402

from tangpoet_mingru import CELL  # noqa: E402

TOL = 1e-5

POEMS = [
    "静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "相思:红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "江雪:千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "鹿柴:空山不见人，但闻人语响。返景入深林，复照青苔上。",
    "枫桥夜泊:月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "早发白帝城:朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
]


def numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reference_step(x, h_prev, kernel, bias):
    """minGRU in NumPy (float64): z = σ(x W_z + b_z), h̃ = x W_h + b_h, h = (1 − z) h_prev + z h̃."""
    units = h_prev.shape[-1]
    w_z, w_h = kernel[:, :units], kernel[:, units:]
    b_z, b_h = bias[:units], bias[units:]
    z = sigmoid(x @ w_z + b_z)
    candidate = x @ w_h + b_h
    return (1.0 - z) * h_prev + z * candidate


def random_cell(units: int, input_dim: int, seed: int):
    """A built MinGRUCell with random (non-zero) kernel and bias; returns (cell, kernel, bias) in float64."""
    from tangpoet_mingru.cell import MinGRUCell

    rng = np.random.default_rng(seed)
    cell = MinGRUCell(units)
    cell.build((None, input_dim))
    kernel = rng.normal(size=(input_dim, 2 * units))
    bias = rng.normal(size=(2 * units,))
    cell.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return cell, kernel.astype("float32").astype(np.float64), bias.astype("float32").astype(np.float64)


@pytest.fixture(scope="module")
def registered():
    """Make ``--cell mingru`` resolvable in this process even where tangpoet does not discover entry points yet."""
    from tangpoet.model.cells import CELLS, get_cell

    if "mingru" not in CELLS:
        CELLS.add("mingru", lambda: CELL)
    assert get_cell("mingru").name == "mingru"
    return CELL


# ------------------------------------------------------------------------------------------------ the package
def test_importing_the_package_does_not_import_keras():
    code = "import sys, tangpoet_mingru as m; assert 'keras' not in sys.modules, 'keras imported'; print(m.CELL.name)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mingru"


def test_the_entry_point_names_the_cell_object():
    from importlib.metadata import entry_points

    points = [ep for ep in entry_points(group="tangpoet.cells") if ep.name == "mingru"]
    assert len(points) == 1, "install the plugin: pip install -e plugins/tangpoet-mingru"
    assert points[0].value == "tangpoet_mingru:CELL"
    assert points[0].load() is CELL
    assert (CELL.name, CELL.distribution) == ("mingru", "tangpoet-mingru")


# ------------------------------------------------------------------------------------------------ the cell
def test_one_step_matches_the_numpy_reference():
    units, input_dim, batch = 8, 5, 3
    cell, kernel, bias = random_cell(units, input_dim, seed=0)
    assert cell.state_size == units and cell.output_size == units
    assert [tuple(w.shape) for w in cell.weights] == [(input_dim, 2 * units), (2 * units,)]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(batch, input_dim)).astype("float32")
    h_prev = rng.normal(size=(batch, units)).astype("float32")
    y, states = cell(x, [h_prev])
    expected = reference_step(x.astype(np.float64), h_prev.astype(np.float64), kernel, bias)
    assert isinstance(states, (list, tuple)) and len(states) == 1
    np.testing.assert_allclose(numpy(y), expected, atol=TOL, rtol=TOL)
    np.testing.assert_allclose(numpy(states[0]), numpy(y))
    # A bare state tensor (not in a list) is accepted too.
    np.testing.assert_allclose(numpy(cell(x, h_prev)[0]), expected, atol=TOL, rtol=TOL)


def test_gate_and_candidate_ignore_the_previous_state():
    """h_t is affine in h_{t−1} with slope (1 − z_t), z_t depending on x_t only: the two-state difference shows it."""
    cell, kernel, bias = random_cell(6, 4, seed=2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4)).astype("float32")
    h_a, h_b = rng.normal(size=(2, 2, 6)).astype("float32")
    z = sigmoid(x.astype(np.float64) @ kernel[:, :6] + bias[:6])
    diff = numpy(cell(x, [h_a])[0]).astype(np.float64) - numpy(cell(x, [h_b])[0])
    np.testing.assert_allclose(diff, (1.0 - z) * (h_a - h_b), atol=TOL, rtol=1e-4)


def test_the_cell_config_round_trips_through_keras_serialization():
    from tangpoet_mingru.cell import MinGRUCell

    cell = MinGRUCell(7, kernel_initializer="orthogonal", bias_initializer="ones", name="c")
    config = keras.layers.serialize(cell)
    assert config["registered_name"] == "tangpoet_mingru>MinGRUCell"
    again = keras.layers.deserialize(config)
    assert type(again) is MinGRUCell and again.units == 7 and again.name == "c"
    again.build((None, 3))
    np.testing.assert_array_equal(numpy(again.bias), np.ones(14, dtype="float32"))
    with pytest.raises(ValueError, match="units"):
        MinGRUCell(0)


# ------------------------------------------------------------------------------------------------ the layer
def test_layer_equals_stepping_its_cell():
    keras.utils.set_random_seed(4)
    layer = CELL.layer(
        8, return_sequences=True, return_state=True, name="mingru_test", bias_initializer="random_normal"
    )
    assert isinstance(layer, keras.layers.RNN) and layer.name == "mingru_test"
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    h0 = rng.normal(size=(2, 8)).astype("float32")
    for initial in (None, [h0]):
        outputs, state = layer(x, initial_state=initial)
        assert tuple(outputs.shape) == (2, 5, 8) and tuple(state.shape) == (2, 8)
        h = numpy(layer.cell.get_initial_state(batch_size=2)[0]) if initial is None else h0
        if initial is None:
            np.testing.assert_array_equal(h, np.zeros((2, 8), dtype="float32"))
        kernel, bias = (numpy(w).astype(np.float64) for w in layer.cell.weights)
        steps = []
        for t in range(5):
            expected = reference_step(x[:, t].astype(np.float64), numpy(h).astype(np.float64), kernel, bias)
            y, [h] = layer.cell(x[:, t], [h])
            np.testing.assert_allclose(numpy(y), expected, atol=TOL, rtol=1e-4)
            steps.append(numpy(y))
        np.testing.assert_allclose(numpy(outputs), np.stack(steps, axis=1), atol=TOL)
        np.testing.assert_allclose(numpy(state), numpy(h), atol=TOL)


def test_layer_options_are_split_between_cell_and_rnn():
    layer = CELL.layer(3, kernel_initializer="zeros", return_sequences=False, name="split")
    out = layer(np.ones((1, 2, 4), dtype="float32"))
    assert tuple(out.shape) == (1, 3) and layer.name == "split"
    np.testing.assert_array_equal(numpy(layer.cell.kernel), np.zeros((4, 6), dtype="float32"))


# ------------------------------------------------------------------------------------------------ in tangpoet
@pytest.fixture(scope="module")
def poem_model(registered):
    from tangpoet.model.poem_model import build_model
    from tangpoet.data.vocab import Vocabulary

    keras.utils.set_random_seed(6)
    vocab = Vocabulary.build(p.split(":", 1)[1] for p in POEMS[:3])
    model = build_model(vocab, cell="mingru", num_layers=2, units=8, embedding_dim=4)
    # Non-zero biases, so the test also covers the bias path.
    for layer in model.recurrent:
        kernel, bias = layer.cell.get_weights()
        layer.cell.set_weights([kernel, np.random.default_rng(7).normal(size=bias.shape).astype("float32")])
    return model


def test_poem_model_saves_and_loads_with_the_same_logits(poem_model, tmp_path):
    from tangpoet.model.poem_model import load_model, save_model
    from tangpoet_mingru.cell import MinGRUCell

    assert [type(layer.cell) for layer in poem_model.recurrent] == [MinGRUCell, MinGRUCell]
    tokens = np.asarray([poem_model.vocab.encode("床前明月光，疑是地上霜。", bos=True)], dtype=np.int32)
    before = numpy(poem_model(tokens))
    path = save_model(poem_model, tmp_path / "mingru.keras")
    loaded = load_model(path)
    assert loaded.cell_name == "mingru" and [type(layer.cell) for layer in loaded.recurrent] == [MinGRUCell] * 2
    np.testing.assert_allclose(numpy(loaded(tokens)), before, atol=1e-6)
    for a, b in zip(poem_model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_step_decoder_matches_the_full_model(poem_model):
    """The step decoder advances ``layer.cell`` one character at a time; it must agree with the sequence layers."""
    from tangpoet.decoding.stepper import StepDecoder

    prefix = poem_model.vocab.encode("春眠不觉晓，处处", bos=True)
    logits = numpy(poem_model(np.asarray([prefix], dtype=np.int32)))[0].astype(np.float64)
    expected = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    stepper = StepDecoder(poem_model)
    state = stepper.start(prefix[:3], batch=2)
    for position in range(3, len(prefix)):
        log_probs, state = stepper.step(np.full(2, prefix[position]), state)
        np.testing.assert_allclose(log_probs, np.broadcast_to(expected[position], log_probs.shape), atol=TOL)


def test_training_smoke(registered, tmp_path):
    from tangpoet.data.corpus import read_corpus
    from tangpoet.model.poem_model import load_model
    from tangpoet.training.trainer import TrainConfig, train

    corpus = tmp_path / "poems.txt"
    corpus.write_text("\n".join(POEMS * 2) + "\n", encoding="utf-8")
    poems, report = read_corpus(corpus)
    config = TrainConfig(
        cell="mingru", num_layers=1, units=8, embedding_dim=4, epochs=2, batch_size=4, val_split=0.25, lr=1e-2
    )
    result = train(poems, report, config, tmp_path / "mingru.keras", verbose=0, log=lambda _: None)
    losses = [record["loss"] for record in result.history]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert losses[1] < losses[0]
    model = load_model(result.out)
    assert model.cell_name == "mingru" and type(model.recurrent[0].cell).__name__ == "MinGRUCell"
    tokens = np.asarray([model.vocab.encode(poems[0].content, bos=True)], dtype=np.int32)
    assert np.isfinite(numpy(model(tokens))).all()


# ------------------------------------------------------------------------------------------------ end to end
def run_cli(*args, env_extra=None, cwd=None):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "tangpoet", *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def test_a_mingru_model_trains_loads_and_writes_in_fresh_processes(tmp_path):
    """Through the installed entry point only: each command is a new process that must find the plugin itself."""
    corpus = tmp_path / "poems.txt"
    corpus.write_text("\n".join(POEMS * 2) + "\n", encoding="utf-8")
    model = tmp_path / "mingru.keras"
    fit = run_cli(
        "fit", str(corpus), "--out", str(model), "--cell", "mingru", "--layers", "1", "--units", "8",
        "--embedding-dim", "4", "--epochs", "1", "--batch-size", "4", "--val-split", "0.25",
    )
    assert fit.returncode == 0, fit.stderr
    written = run_cli("write", "--model", str(model), "--form", "五言绝句", "--decoder", "greedy", "--seed", "1")
    assert written.returncode == 0, written.stderr
    lines = written.stdout.strip().splitlines()
    assert len(lines) == 4 and all(len(line) == 6 for line in lines), written.stdout

    # Without the plugin (its entry points switched off, as if uninstalled): one line naming the package, exit 2.
    missing = run_cli("write", "--model", str(model), env_extra={"TANGPOET_DISABLE_PLUGINS": "1"})
    assert missing.returncode == 2, missing.stderr
    errors = [line for line in missing.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, missing.stderr  # (backend libraries may log their own start-up lines to stderr)
    assert "pip install tangpoet-mingru" in errors[0]
    assert "Traceback" not in missing.stderr
