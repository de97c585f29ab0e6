"""The backend fast paths (tangpoet/kernels) give the same results as the generic Keras path on the same backend.

On torch the built-in LSTM/GRU run through torch's fused kernels; with the fast paths off they run through Keras'
own layers. Values, final states and training steps (so gradients) must agree. On TensorFlow and JAX no recurrent
fast path exists and the tests check that none is used. The compiled decode step exists on every backend.
"""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from tangpoet import kernels
from tangpoet.kernels import fast_paths_enabled, recurrent_fast_path, use_fast_paths
from tangpoet.model.poem_model import build_model
from tangpoet.data.vocab import Vocabulary

BACKEND = keras.backend.backend()
HAS_FAST_PATH = BACKEND == "torch"
VOCAB = Vocabulary.build(["床前明月光，疑是地上霜。举头望明月，低头思故乡。", "春眠不觉晓，处处闻啼鸟。"])


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def twin_models(cell, layers, seed=3):
    keras.utils.set_random_seed(seed)
    a = build_model(VOCAB, cell=cell, num_layers=layers, units=12, embedding_dim=6)
    b = build_model(VOCAB, cell=cell, num_layers=layers, units=12, embedding_dim=6)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.4, size=w.shape).astype("float32") for w in a.get_weights()]
    a.set_weights(weights)
    b.set_weights(weights)
    return a, b


def tokens(batch=3, time=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(1, len(VOCAB), size=(batch, time)).astype("int32")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fast_path_is_used_exactly_where_it_exists(cell):
    model, _ = twin_models(cell, 1)
    x = model.embedding(tokens())
    assert (recurrent_fast_path(model.recurrent[0], x) is not None) == HAS_FAST_PATH
    with use_fast_paths(False):
        assert not fast_paths_enabled()
        assert recurrent_fast_path(model.recurrent[0], x) is None
    assert fast_paths_enabled()


def test_rnn_and_non_standard_layers_take_the_generic_path():
    model, _ = twin_models("rnn", 1)
    assert recurrent_fast_path(model.recurrent[0], model.embedding(tokens())) is None
    layer = keras.layers.LSTM(4, return_sequences=True, return_state=True, recurrent_dropout=0.1)
    layer.build((None, None, 6))
    assert recurrent_fast_path(layer, keras.ops.ones((2, 3, 6))) is None
    gru = keras.layers.GRU(4, return_sequences=True, return_state=True, reset_after=False)
    gru.build((None, None, 6))
    assert recurrent_fast_path(gru, keras.ops.ones((2, 3, 6))) is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_fast_path_equals_keras_layers(cell, layers):
    model, _ = twin_models(cell, layers)
    ids = tokens()
    rng = np.random.default_rng(1)
    states = [
        tuple(rng.normal(size=(3, 12)).astype("float32") for _ in range(2 if cell == "lstm" else 1))
        for _ in range(layers)
    ]
    for initial in (None, states):
        fast_logits, fast_states = model.run(ids, initial)
        with use_fast_paths(False):
            slow_logits, slow_states = model.run(ids, initial)
        np.testing.assert_allclose(numpy(fast_logits), numpy(slow_logits), atol=2e-5)
        for fast_layer, slow_layer in zip(fast_states, slow_states):
            assert len(fast_layer) == len(slow_layer)
            for f, s in zip(fast_layer, slow_layer):
                np.testing.assert_allclose(numpy(f), numpy(s), atol=2e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_steps_equal_with_and_without_fast_paths(cell):
    from tangpoet.training.trainer import TrainConfig, compile_for_training

    fast, slow = twin_models(cell, 2)
    ids = tokens(batch=4, time=10, seed=5)
    targets = np.roll(ids, -1, axis=1)
    targets[:, -3:] = 0  # right padding in the targets: the masked loss must agree too
    config = TrainConfig(lr=0.05)
    losses = {}
    for name, model, enabled in (("fast", fast, True), ("slow", slow, False)):
        with use_fast_paths(enabled):
            compile_for_training(model, config)
            losses[name] = [float(model.train_on_batch(ids, targets)) for _ in range(3)]
    np.testing.assert_allclose(losses["fast"], losses["slow"], rtol=1e-4)
    for wf, ws in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(wf, ws, atol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_compiled_step_equals_the_generic_step(cell):
    from tangpoet.decoding.stepper import StepDecoder

    model, _ = twin_models(cell, 2)
    stepper = StepDecoder(model)
    state = stepper.start([2, 5, 6, 7], batch=3)
    ids = np.array([8, 9, 10])
    fast_log_probs, fast_state = stepper.step(ids, state)
    with use_fast_paths(False):
        slow_log_probs, slow_state = stepper.step(ids, state)
        assert stepper._compiled[1] == stepper._generic_step
    np.testing.assert_allclose(fast_log_probs, slow_log_probs, atol=1e-5)
    for fast_layer, slow_layer in zip(fast_state, slow_state):
        for f, s in zip(fast_layer, slow_layer):
            np.testing.assert_allclose(f, s, atol=1e-5)
    # the compiled step sees weight changes made after it was compiled
    model.head.bias.assign(np.linspace(-3, 3, len(VOCAB)).astype("float32"))
    changed, _ = stepper.step(ids, state)
    assert stepper._compiled[1] != stepper._generic_step  # fast paths back on: the compiled step again
    with use_fast_paths(False):
        expected, _ = stepper.step(ids, state)
    np.testing.assert_allclose(changed, expected, atol=1e-5)
    assert not np.allclose(changed, fast_log_probs, atol=1e-3)


@pytest.mark.parametrize("tie", [False, True])
def test_output_layer_as_one_2d_product_equals_the_3d_layer(tie):
    """``PoemModel.run`` applies the output layer to ``[batch·time, units]`` (XLA on CPU runs a 3-D matmul and its
    gradient much slower); the logits must equal the layer applied to the 3-D tensor."""
    from tangpoet.model.poem_model import _per_position

    keras.utils.set_random_seed(2)
    model = build_model(VOCAB, cell="lstm", num_layers=1, units=12, embedding_dim=6, tie_embeddings=tie)
    x = keras.ops.convert_to_tensor(np.random.default_rng(4).normal(size=(3, 9, 12)).astype("float32"))
    flat = numpy(_per_position(model.head, x))
    assert flat.shape == (3, 9, len(VOCAB))
    np.testing.assert_allclose(flat, numpy(model.head(x)), atol=1e-5)


def test_masked_loss_equals_with_and_without_the_loss_kernel():
    """The per-token cross-entropy kernel (torch: kernels/torch_loss.py, jax: kernels/jax_loss.py) gives Keras' value;
    on TensorFlow there is none."""
    from tangpoet.kernels import token_nll
    from tangpoet.training.trainer import masked_character_nll

    rng = np.random.default_rng(7)
    logits = keras.ops.convert_to_tensor(rng.normal(scale=3.0, size=(4, 5, len(VOCAB))).astype("float32"))
    targets = rng.integers(1, len(VOCAB), size=(4, 5)).astype("int32")
    targets[:, -2:] = 0  # padding
    targets = keras.ops.convert_to_tensor(targets)
    flat = keras.ops.reshape(logits, (-1, len(VOCAB)))
    assert (token_nll(keras.ops.reshape(targets, (-1,)), flat) is not None) == (BACKEND in ("torch", "jax"))
    fast = float(numpy(masked_character_nll(targets, logits)))
    with use_fast_paths(False):
        assert token_nll(keras.ops.reshape(targets, (-1,)), flat) is None
        slow = float(numpy(masked_character_nll(targets, logits)))
    np.testing.assert_allclose(fast, slow, rtol=1e-6)
    assert fast > 0


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX loss kernel")
def test_jax_loss_kernel_value_and_gradient_equal_keras_under_jit():
    """jax: ``logsumexp - logits[target]`` gives Keras' masked loss and its gradient, jitted as the train step is;
    other dtypes, 3-D or non-JAX input take the generic path."""
    import jax
    import jax.numpy as jnp

    from tangpoet.kernels.jax_loss import token_nll
    from tangpoet.training.trainer import masked_character_nll

    rng = np.random.default_rng(5)
    logits = jnp.asarray(rng.normal(scale=4.0, size=(3, 7, 41)).astype("float32"))
    targets = rng.integers(0, 41, size=(3, 7)).astype("int32")
    targets[0, -3:] = 0
    targets = jnp.asarray(targets)
    results = {}
    for name, enabled in (("kernel", True), ("keras", False)):
        with use_fast_paths(enabled):
            results[name] = jax.jit(jax.value_and_grad(lambda x: masked_character_nll(targets, x)))(logits)
    np.testing.assert_allclose(results["kernel"][0], results["keras"][0], rtol=1e-6)
    np.testing.assert_allclose(results["kernel"][1], results["keras"][1], rtol=1e-5, atol=1e-8)
    assert float(jnp.abs(results["kernel"][1]).max()) > 1e-3
    assert float(jnp.abs(results["kernel"][1][0, -3:]).max()) == 0.0  # padding targets: no gradient
    flat = logits.reshape(-1, 41)
    assert token_nll(targets.reshape(-1), flat[None]) is None
    assert token_nll(targets.reshape(-1), flat.astype(jnp.bfloat16)) is None
    assert token_nll(targets.reshape(-1), np.asarray(flat)) is None


@pytest.mark.skipif(not HAS_FAST_PATH, reason="the loss kernel exists on torch only")
def test_loss_kernel_gradient_equals_cross_entropy():
    """torch: the per-token loss kernel's values and gradient equal ``F.cross_entropy``'s for any upstream gradient
    (zero, negative, per-row), float32 logits of any scale; other dtypes and shapes take the generic path."""
    import torch
    import torch.nn.functional as F

    from tangpoet.kernels.torch_loss import token_nll

    rng = np.random.default_rng(11)
    logits = torch.tensor(rng.normal(scale=4.0, size=(23, 37)).astype("float32"))
    targets = torch.tensor(rng.integers(0, 37, size=23).astype("int32"))
    upstream = torch.tensor(rng.normal(size=23).astype("float32"))
    upstream[::5] = 0.0
    results = {}
    for name, fn in (("kernel", token_nll), ("torch", lambda t, x: F.cross_entropy(x, t.long(), reduction="none"))):
        x = logits.clone().requires_grad_()
        nll = fn(targets, x)
        (nll * upstream).sum().backward()
        results[name] = (nll.detach().numpy(), x.grad.numpy())
    np.testing.assert_allclose(results["kernel"][0], results["torch"][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(results["kernel"][1], results["torch"][1], rtol=1e-5, atol=1e-7)
    assert np.abs(results["kernel"][1]).max() > 0.1
    assert token_nll(targets, logits.double()) is None
    assert token_nll(targets, logits.reshape(23, 37, 1)) is None
    with torch.no_grad():
        np.testing.assert_allclose(token_nll(targets, logits).numpy(), results["torch"][0], rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(not HAS_FAST_PATH, reason="the loss kernel exists on torch only")
def test_loss_kernel_refuses_a_second_backward_instead_of_a_wrong_gradient():
    """The backward pass writes over its saved log-probabilities: going through the graph twice must raise."""
    import torch

    from tangpoet.kernels.torch_loss import token_nll

    x = torch.randn(4, 9, requires_grad=True)
    loss = token_nll(torch.tensor([1, 2, 3, 0]), x).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()


def _head_input(seed=4, rows=27, units=12):
    return keras.ops.convert_to_tensor(np.random.default_rng(seed).normal(size=(rows, units)).astype("float32"))


@pytest.mark.parametrize("tie", [False, True])
def test_output_fast_path_equals_the_keras_layer(tie):
    """torch: the output layer (Dense or TiedHead) as one addmm gives the layer's own logits; elsewhere none exists."""
    from tangpoet.kernels import output_fast_path

    keras.utils.set_random_seed(2)
    model = build_model(VOCAB, cell="lstm", num_layers=1, units=12, embedding_dim=6, tie_embeddings=tie)
    model.head.bias.assign(np.linspace(-1, 1, len(VOCAB)).astype("float32"))  # a bias that matters
    x = _head_input()
    fast = output_fast_path(model.head, x)
    assert (fast is not None) == HAS_FAST_PATH
    with use_fast_paths(False):
        assert output_fast_path(model.head, x) is None
    if fast is not None:
        np.testing.assert_allclose(numpy(fast(model.head, x)), numpy(model.head(x)), atol=1e-5)
        assert output_fast_path(model.head, keras.ops.reshape(x, (3, 9, 12))) is None  # 2-D only


@pytest.mark.skipif(not HAS_FAST_PATH, reason="the output-layer fast path exists on torch only")
def test_output_fast_path_only_takes_plain_layers():
    from tangpoet.kernels import output_fast_path

    x = _head_input(units=5)
    for layer in (
        keras.layers.Dense(7, activation="relu"),
        keras.layers.Dense(7, use_bias=False),
        keras.layers.Dense(7, dtype="float64"),
    ):
        layer.build((None, 5))
        assert output_fast_path(layer, x) is None
    plain = keras.layers.Dense(7)
    plain.build((None, 5))
    assert output_fast_path(plain, x) is not None
    assert output_fast_path(plain, keras.ops.cast(x, "float64")) is None


@pytest.mark.skipif(not HAS_FAST_PATH, reason="the output-layer fast path exists on torch only")
@pytest.mark.parametrize("tie", [False, True])
def test_output_fast_path_gradients_equal(tie):
    import torch

    from tangpoet.kernels import output_fast_path

    keras.utils.set_random_seed(2)
    model = build_model(VOCAB, cell="lstm", num_layers=1, units=12, embedding_dim=6, tie_embeddings=tie)
    model.head.bias.assign(np.linspace(-1, 1, len(VOCAB)).astype("float32"))
    weights = [model.embedding.embeddings, *model.head.trainable_weights]
    grads = {}
    for name, enabled in (("fast", True), ("slow", False)):
        x = _head_input().clone().requires_grad_()
        for w in weights:
            w.value.grad = None
        with use_fast_paths(enabled):
            fast = output_fast_path(model.head, x)
            assert (fast is not None) == enabled
            logits = fast(model.head, x) if fast is not None else model.head(x)
        (torch.log_softmax(logits, dim=-1)[:, 3].sum()).backward()
        grads[name] = [numpy(x.grad)] + [numpy(w.value.grad) for w in weights if w.value.grad is not None]
    assert len(grads["fast"]) == len(grads["slow"]) == len(weights) + 1 - (0 if tie else 1)
    for f, s in zip(grads["fast"], grads["slow"]):
        np.testing.assert_allclose(f, s, atol=1e-5)


@pytest.mark.parametrize("tie", [False, True])
def test_training_steps_equal_with_and_without_the_output_fast_path(tie, tmp_path, monkeypatch):
    """Training runs the output layer through the fast path (torch); three steps give the same losses and weights
    as Keras' own Dense / TiedHead call, and the file saved from the trained model loads as usual."""
    import tangpoet.model.poem_model as model_module
    from tangpoet.training.trainer import TrainConfig, compile_for_training

    taken = []

    def spy(layer, inputs):
        fast = kernels.output_fast_path(layer, inputs)
        taken.append(fast is not None)
        return fast

    monkeypatch.setattr(model_module, "output_fast_path", spy)

    keras.utils.set_random_seed(6)
    fast = build_model(VOCAB, cell="lstm", num_layers=1, units=12, embedding_dim=6, tie_embeddings=tie)
    slow = build_model(VOCAB, cell="lstm", num_layers=1, units=12, embedding_dim=6, tie_embeddings=tie)
    slow.set_weights(fast.get_weights())
    ids = tokens(batch=4, time=10, seed=8)
    targets = np.roll(ids, -1, axis=1)
    targets[:, -2:] = 0
    losses = {}
    for name, model, enabled in (("fast", fast, True), ("slow", slow, False)):
        with use_fast_paths(enabled):
            compile_for_training(model, TrainConfig(lr=0.05))
            losses[name] = [float(model.train_on_batch(ids, targets)) for _ in range(3)]
    assert taken and any(taken) == HAS_FAST_PATH  # the fast path ran (torch), or none exists
    np.testing.assert_allclose(losses["fast"], losses["slow"], rtol=1e-5)
    assert losses["fast"][-1] < losses["fast"][0]  # it trained
    for wf, ws in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(wf, ws, atol=1e-5)
    from tangpoet.model.poem_model import load_model, save_model

    loaded = load_model(save_model(fast, tmp_path / "fast.keras"))
    np.testing.assert_allclose(numpy(loaded(ids)), numpy(fast(ids)), atol=1e-5)


# ------------------------------------------------------------------ saving without importing TensorFlow
def test_a_model_file_is_the_same_with_and_without_the_saving_fast_path(tmp_path):
    import zipfile

    from tangpoet.data.vocab import Vocabulary
    from tangpoet.model.poem_model import build_model, save_model

    model = build_model(Vocabulary.build(["床前明月光", "疑是地上霜"]), cell="lstm", num_layers=1, units=8, embedding_dim=4)
    model(np.zeros((1, 3), dtype="int32"))
    with kernels.use_fast_paths(True):
        fast = save_model(model, tmp_path / "fast.keras")
    with kernels.use_fast_paths(False):
        plain = save_model(model, tmp_path / "plain.keras")
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(plain) as b:
        assert a.read("config.json") == b.read("config.json")
        assert sorted(a.namelist()) == sorted(b.namelist())


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="TensorFlow is the backend: it is imported anyway")
def test_saving_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys\nimport numpy as np\n"
        "from tangpoet.data.vocab import Vocabulary\n"
        "from tangpoet.model.poem_model import build_model, save_model\n"
        "m = build_model(Vocabulary.build(['床前明月光']), cell='lstm', num_layers=1, units=4, embedding_dim=4)\n"
        "m(np.zeros((1, 3), dtype='int32'))\n"
        f"save_model(m, {str(tmp_path / 'm.keras')!r})\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
