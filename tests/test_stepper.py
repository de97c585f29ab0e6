"""StepDecoder: start + steps give the same next-token log-probs as the full model over the whole prefix."""

from __future__ import annotations

import numpy as np
import pytest
from _writing_helpers import tiny_model

from tangpoet.decoding.stepper import PREFILL_BUCKET, StepDecoder
from tangpoet.data.vocab import BOS_ID

import keras  # noqa: E402

TOL = 1e-5


def full_log_probs(model, prefix) -> np.ndarray:
    """Log-softmax of the full model's logits at every position of ``prefix`` ([time, vocab])."""
    logits = keras.ops.convert_to_numpy(model.run(np.asarray([prefix], dtype=np.int32))[0])[0].astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def random_prefix(model, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([[BOS_ID], rng.integers(4, len(model.vocab), length - 1)]).astype(np.int32)


@pytest.mark.parametrize(
    "cell, num_layers, tie_embeddings",
    [(cell, layers, False) for cell in ("rnn", "lstm", "gru") for layers in (1, 2)]
    + [("lstm", 1, True), ("lstm", 2, True)],  # tied output layer (units 8 projected to the embedding's 6)
)
def test_start_then_steps_equal_the_full_model(cell, num_layers, tie_embeddings):
    model = tiny_model(cell, num_layers, tie_embeddings=tie_embeddings)
    stepper = StepDecoder.of(model)
    prefix = random_prefix(model, 19, seed=num_layers)
    expected = full_log_probs(model, prefix)
    for k in (1, 4, len(prefix)):  # k tokens stepped after start(prefix[:-k]); k = len: start from the zero state
        state = stepper.start(prefix[:-k], batch=3)
        for i, token in enumerate(prefix[-k:]):
            log_probs, state = stepper.step(np.full(3, token), state)
            position = len(prefix) - k + i
            assert log_probs.shape == (3, len(model.vocab)) and log_probs.dtype == np.float32
            np.testing.assert_allclose(log_probs, np.broadcast_to(expected[position], log_probs.shape), atol=TOL)
    final = model.run(prefix[None])[1]
    for layer_state, layer_final in zip(state, final):
        for s, f in zip(layer_state, layer_final):
            np.testing.assert_allclose(s[0], keras.ops.convert_to_numpy(f)[0], atol=TOL)


@pytest.mark.parametrize("length", [PREFILL_BUCKET - 1, PREFILL_BUCKET, PREFILL_BUCKET + 1, 2])
def test_prefill_padding_to_a_bucket_is_exact(length):
    model = tiny_model("gru", 2)
    stepper = StepDecoder.of(model)
    prefix = random_prefix(model, length + 1, seed=length)
    log_probs, _ = stepper.prime(prefix, batch=2)
    np.testing.assert_allclose(log_probs[1], full_log_probs(model, prefix)[-1], atol=TOL)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_short_prefixes_are_stepped_and_equal_the_prefill(cell, monkeypatch):
    import tangpoet.decoding.stepper as stepper_module

    model = tiny_model(cell, 2)
    stepper = StepDecoder.of(model)
    prefix = random_prefix(model, 5, seed=7)
    assert len(prefix) <= stepper_module.STEPPED_PREFIX
    stepped = stepper.start(prefix, batch=2)
    monkeypatch.setattr(stepper_module, "STEPPED_PREFIX", 0)  # force the prefill
    prefilled = stepper.start(prefix, batch=2)
    for a_layer, b_layer in zip(stepped, prefilled):
        for a, b in zip(a_layer, b_layer):
            assert a.shape == b.shape == (2, a.shape[1])
            np.testing.assert_allclose(a, b, atol=TOL)


def test_state_is_explicit_data_and_nothing_leaks_between_calls():
    stepper = StepDecoder.of(tiny_model("lstm", 2))
    state = stepper.start([BOS_ID, 10, 11], batch=2)
    first, after_first = stepper.step([12, 13], state)
    again, _ = stepper.step([12, 13], state)  # the same state again: the same answer, the input state unchanged
    np.testing.assert_array_equal(first, again)
    other, _ = stepper.step([12, 13], after_first)
    assert not np.allclose(other, first), "stepping from the advanced state must differ"
    assert [len(layer) for layer in state] == [2, 2]  # LSTM: (h, c) per layer
    zero = stepper.start([], batch=4)
    assert all(np.array_equal(s, np.zeros((4, 8), np.float32)) for layer in zero for s in layer)


def test_reorder_gathers_rows():
    stepper = StepDecoder.of(tiny_model("gru", 2))
    state = stepper.start([BOS_ID], batch=3)
    log_probs, state = stepper.step([10, 11, 12], state)
    reordered = stepper.reorder(state, [2, 2, 0])
    next_reordered, _ = stepper.step([5, 5, 5], reordered)
    next_plain, _ = stepper.step([5, 5, 5], state)
    np.testing.assert_allclose(next_reordered, next_plain[[2, 2, 0]], atol=1e-6)
    assert not np.allclose(next_plain[0], next_plain[2])


def test_batch_mismatch_is_an_error():
    stepper = StepDecoder.of(tiny_model("rnn", 1))
    with pytest.raises(ValueError, match="2 tokens for a state of 3 rows"):
        stepper.step([4, 5], stepper.start([BOS_ID], batch=3))


def test_steps_see_weights_changed_after_the_first_step():
    """The compiled step reads the variables' current values at every call (training and writing in one process)."""
    model = tiny_model("lstm", 1)
    stepper = StepDecoder.of(model)
    state = stepper.start([BOS_ID], batch=1)
    before, _ = stepper.step([10], state)
    head = model.head.weights[0]
    head.assign(keras.ops.convert_to_numpy(head) * 3.0)
    after, _ = stepper.step([10], state)
    prefix = np.asarray([BOS_ID, 10], dtype=np.int32)
    np.testing.assert_allclose(after[0], full_log_probs(model, prefix)[-1], atol=TOL)
    assert not np.allclose(after, before, atol=1e-3)
