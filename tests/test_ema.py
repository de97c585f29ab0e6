"""``fit --ema``: a moving average of the weights is what is validated, kept and saved; training and --resume go on
from the raw weights."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.data.corpus import read_corpus
from tangpoet.evaluate import evaluate
from tangpoet.model.poem_model import load_model
from tangpoet.training.trainer import TrainConfig, checkpoint_path, read_checkpoint, train, training_split

TINY = dict(cell="gru", num_layers=1, units=8, embedding_dim=4, batch_size=2, val_split=0.25, seed=1, patience=0)
QUIET = dict(verbose=0, log=lambda _: None)


def weights_of(path):
    return [np.asarray(w) for w in load_model(path).get_weights()]


def test_the_saved_model_is_the_average_and_its_validation_figure_is_the_averages(corpus_file, tmp_path):
    poems, report = read_corpus(corpus_file)
    out = tmp_path / "m.keras"
    result = train(poems, report, TrainConfig(epochs=1, lr=0.05, ema=0.5, **TINY), out, **QUIET)
    raw, _, state = read_checkpoint(checkpoint_path(out))  # the checkpoint holds the raw weights, to train on from
    saved = load_model(out)
    assert any(not np.allclose(a, b) for a, b in zip(saved.get_weights(), raw.get_weights()))
    assert state["ema"] == 0.5 and saved.metadata["hyperparameters"]["ema"] == 0.5
    _, val, _ = training_split(poems, 0.25, 1)
    held_out = evaluate(saved, [saved.vocab.encode(p.content) for p in val], batch_size=2)
    assert held_out.nll == pytest.approx(result.best_val_nll, rel=1e-4)  # the average is what was validated
    raw_nll = evaluate(raw, [raw.vocab.encode(p.content) for p in val], batch_size=2).nll
    assert raw_nll != pytest.approx(result.best_val_nll, rel=1e-6)


def test_an_averaged_run_resumed_ends_where_the_straight_run_ends(corpus_file, tmp_path):
    # fit's end puts the average into the model; a straight run that went on from it would differ from a resumed one
    poems, report = read_corpus(corpus_file)
    config = dict(lr=0.05, ema=0.8, steps_per_epoch=3, **TINY)
    straight = train(poems, report, TrainConfig(epochs=3, **config), tmp_path / "a.keras", **QUIET)
    train(poems, report, TrainConfig(epochs=1, **config), tmp_path / "b.keras", **QUIET)
    resumed = train(poems, report, TrainConfig(epochs=3, **config), tmp_path / "b.keras", resume=True, **QUIET)
    assert [h["val_nll"] for h in straight.history] == pytest.approx([h["val_nll"] for h in resumed.history], rel=1e-5)
    for a, b in zip(weights_of(tmp_path / "a.keras"), weights_of(tmp_path / "b.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(read_checkpoint(checkpoint_path(tmp_path / "a.keras"))[1],
                    read_checkpoint(checkpoint_path(tmp_path / "b.keras"))[1]):  # the optimizer's state, average too
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_ema_in_the_cli_is_recorded_kept_on_resume_and_shown_by_info(corpus_file, tmp_path):
    out = tmp_path / "m.keras"
    tiny = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--val-split", "0.25"]
    run = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), "--epochs", "1", "--ema", "0.9", *tiny])
    assert run.exit_code == 0, run.output
    with zipfile.ZipFile(checkpoint_path(out)) as archive:
        assert json.loads(archive.read("state.json"))["ema"] == 0.9
    refused = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), "--epochs", "2", "--resume", "--ema", "0.99"])
    assert refused.exit_code == 2 and "--ema 0.99 (the checkpoint has --ema 0.9)" in refused.output
    resumed = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), "--epochs", "2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert load_model(out).metadata["hyperparameters"]["ema"] == 0.9
    info = CliRunner().invoke(main, ["info", "--model", str(out)])
    assert info.exit_code == 0 and "ema 0.9" in info.output


@pytest.mark.parametrize("value", ["1", "-0.1"])
def test_an_ema_outside_0_1_is_one_line(corpus_file, tmp_path, value):
    run = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--ema", value])
    assert run.exit_code == 2 and "--ema must be in [0, 1)" in run.output and "Traceback" not in run.output
