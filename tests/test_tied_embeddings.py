"""Tied embeddings (``--tie-embeddings``) and embedding dropout: the output layer reuses the embedding matrix.

The head computes ``(x · P) · Eᵀ + b`` (``P`` only when ``units != embedding_dim``). Checked on every backend: the
arithmetic, the weight count, the round trip through a file, the compiled step, and training. The step decoder's
equality with the full model for tied models is part of tests/test_stepper.py.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from _writing_helpers import randomize, vocab
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.decoding.stepper import StepDecoder
from tangpoet.kernels import use_fast_paths
from tangpoet.model.poem_model import TiedHead, build_model, load_model, save_model
from tangpoet.model.info import describe, parameter_count
from tangpoet.training.trainer import TrainConfig, train
from tangpoet.data.vocab import BOS_ID

TOL = 1e-5


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tied_model(units: int, embedding_dim: int = 6, num_layers: int = 1, seed: int = 0):
    model = build_model(
        vocab(), cell="lstm", num_layers=num_layers, units=units, embedding_dim=embedding_dim, tie_embeddings=True
    )
    randomize(model, seed)
    return model


@pytest.mark.parametrize("units", [8, 6])  # 8: projected to the embedding width; 6: the widths match, no projection
def test_head_is_the_embedding_matrix_transposed(units):
    model = tied_model(units)
    assert isinstance(model.head, TiedHead)
    assert (model.head.projection is None) == (units == 6)
    x = np.random.default_rng(1).normal(size=(2, 3, units)).astype("float32")
    projected = x @ numpy(model.head.projection.kernel) if model.head.projection is not None else x
    expected = projected @ numpy(model.embedding.embeddings).T + numpy(model.head.bias)
    np.testing.assert_allclose(numpy(model.head(x)), expected, atol=1e-5)
    # one matrix, two uses: changing the embeddings changes the output layer too
    model.embedding.embeddings.assign(numpy(model.embedding.embeddings) * 2.0)
    np.testing.assert_allclose(numpy(model.head(x)), 2.0 * (expected - numpy(model.head.bias)) + numpy(model.head.bias), atol=1e-4)


@pytest.mark.parametrize("units", [8, 6])
def test_the_weight_count_has_no_vocabulary_by_units_matrix(units):
    model = tied_model(units)
    untied = build_model(vocab(), cell="lstm", num_layers=1, units=units, embedding_dim=6)
    assert model.count_params() == parameter_count("lstm", 1, units, 6, len(vocab()), tie_embeddings=True)
    assert untied.count_params() == parameter_count("lstm", 1, units, 6, len(vocab()))
    assert untied.count_params() - model.count_params() == units * len(vocab()) - (units * 6 if units != 6 else 0)
    assert len({id(w) for w in model.weights}) == len(model.weights), "a variable is tracked twice"


@pytest.mark.parametrize("units", [8, 6])
def test_a_tied_model_round_trips_through_its_file(units, tmp_path):
    model = tied_model(units, seed=2)
    path = save_model(model, tmp_path / "tied.keras")
    loaded = load_model(path)
    assert loaded.tie_embeddings and isinstance(loaded.head, TiedHead)
    tokens = np.array([[BOS_ID, 5, 6, 7, 8]], dtype="int32")
    np.testing.assert_allclose(numpy(loaded(tokens)), numpy(model(tokens)), atol=1e-6)
    info = describe(path)
    assert info["tie_embeddings"] is True and info["parameters"] == loaded.count_params()


def test_compiled_step_equals_the_generic_step_and_sees_new_embeddings():
    model = tied_model(8, seed=4)
    stepper = StepDecoder(model)
    state = stepper.start([BOS_ID, 5, 6], batch=2)
    ids = np.array([7, 8])
    fast, _ = stepper.step(ids, state)
    with use_fast_paths(False):
        slow, _ = stepper.step(ids, state)
    np.testing.assert_allclose(fast, slow, atol=TOL)
    model.embedding.embeddings.assign(numpy(model.embedding.embeddings)[::-1].copy())
    changed, _ = stepper.step(ids, state)
    with use_fast_paths(False):
        expected, _ = stepper.step(ids, state)
    np.testing.assert_allclose(changed, expected, atol=TOL)
    assert not np.allclose(changed, fast, atol=1e-3)


def test_training_a_tied_model_with_embedding_dropout(corpus_file, tmp_path):
    from tangpoet.data.corpus import read_corpus

    poems, report = read_corpus(corpus_file)
    config = dict(cell="gru", num_layers=1, units=8, embedding_dim=4, batch_size=4, val_split=0.25, seed=3, patience=0)
    out = tmp_path / "tied.keras"
    quiet = dict(verbose=0, log=lambda _: None)
    train(poems, report, TrainConfig(epochs=1, tie_embeddings=True, embedding_dropout=0.2, **config), out, **quiet)
    # resuming takes the checkpoint's architecture, tying and dropout included, whatever the new config says
    resumed_config = TrainConfig(epochs=3, **config)
    result = train(poems, report, resumed_config, out, resume=True, **quiet)
    assert resumed_config.tie_embeddings and resumed_config.embedding_dropout == 0.2
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    model = load_model(out)
    assert model.tie_embeddings and model.embedding_dropout_rate == 0.2
    assert model.metadata["hyperparameters"]["tie_embeddings"] is True
    # dropout is off at inference: two calls give the same logits
    tokens = np.array([[BOS_ID, 5, 6]], dtype="int32")
    np.testing.assert_array_equal(numpy(model(tokens)), numpy(model(tokens)))


def test_fit_cli_ties_embeddings_and_info_says_so(corpus_file, tmp_path):
    out = tmp_path / "m.keras"
    args = ["fit", str(corpus_file), "--out", str(out), "--layers", "1", "--units", "8", "--embedding-dim", "4"]
    args += ["--batch-size", "4", "--epochs", "1", "--val-split", "0.25", "--tie-embeddings", "--embedding-dropout", "0.1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    info = json.loads(CliRunner().invoke(main, ["info", "--model", str(out), "--json"]).output)
    assert info["tie_embeddings"] is True and info["embedding_dropout"] == 0.1
    assert info["parameters"] == load_model(out).count_params()
    text = CliRunner().invoke(main, ["info", "--model", str(out)]).output
    assert "tied to the output layer" in text and "embedding dropout 0.1" in text


def test_embedding_dropout_out_of_range_is_a_user_error(corpus_file, tmp_path):
    result = CliRunner().invoke(
        main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--embedding-dropout", "1.5"]
    )
    assert result.exit_code == 2, result.output
    assert "--embedding-dropout must be in [0, 1)" in result.output and "Traceback" not in result.output
