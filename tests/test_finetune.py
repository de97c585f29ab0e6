"""Fine-tuning (`fit --from`, `--extend-vocab`), `--optimizer`, `--steps-per-epoch`, `--val-from`, lineage in `info`."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.data.corpus import Poem, read_corpus
from tangpoet.training.finetune import extend_vocabulary, file_fingerprint
from tangpoet.model.poem_model import load_model
from tangpoet.training.trainer import TrainConfig, checkpoint_path, train
from tangpoet.data.vocab import UNK_ID

TINY = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--val-split", "0.25"]
NEW_POEMS = ["龙蛇走马，鹦鹉啼猿。", "鹦鹉啼猿处，龙蛇走马时。", "猿啼鹦鹉树，马走龙蛇川。", "龙马蛇猿鹦，鹉啼走处时。"]


def fit(*args) -> object:
    result = CliRunner().invoke(main, ["fit", *map(str, args)])
    return result


@pytest.fixture(scope="module")
def base(tmp_path_factory, corpus_file) -> Path:
    out = tmp_path_factory.mktemp("base") / "base.keras"
    result = fit(corpus_file, "--out", out, "--epochs", "1", "--seed", "3", *TINY)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def new_corpus(tmp_path) -> Path:
    path = tmp_path / "new.txt"
    path.write_text("\n".join(NEW_POEMS * 3) + "\n", encoding="utf-8")
    return path


def weights_of(path):
    return [np.asarray(w) for w in load_model(path).get_weights()]


def test_from_starts_at_the_base_weights_and_keeps_its_vocabulary(base, new_corpus, tmp_path):
    out = tmp_path / "tuned.keras"
    result = fit(new_corpus, "--from", base, "--out", out, "--epochs", "1", "--lr", "1e-9", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert "read as <unk> (--extend-vocab adds them)" in result.output  # the new characters are counted
    tuned, original = load_model(out), load_model(base)
    assert tuned.vocab == original.vocab and tuned.hyperparameters() == original.hyperparameters()
    for a, b in zip(tuned.get_weights(), original.get_weights()):  # lr 1e-9: one epoch barely moves the weights
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_from_refuses_options_that_change_the_architecture_naming_them(base, new_corpus, tmp_path):
    result = fit(new_corpus, "--from", base, "--out", tmp_path / "x.keras", "--units", "16", "--cell", "gru")
    assert result.exit_code == 2
    assert "--units 16 (the base has --units 8)" in result.output and "--cell gru" in result.output
    assert not (tmp_path / "x.keras").exists()
    same = fit(new_corpus, "--from", base, "--out", tmp_path / "y.keras", "--units", "8", "--epochs", "1")
    assert same.exit_code == 0, same.output  # typing the base's own value changes nothing


def test_from_a_missing_file_and_extend_vocab_without_from_are_one_line_errors(new_corpus, tmp_path):
    result = fit(new_corpus, "--from", tmp_path / "none.keras", "--out", tmp_path / "x.keras")
    assert result.exit_code == 2 and "no such model file" in result.output and "Traceback" not in result.output
    result = fit(new_corpus, "--extend-vocab", "--out", tmp_path / "x.keras")
    assert result.exit_code == 2 and "--extend-vocab needs --from" in result.output


def test_extend_vocab_adds_rows_and_keeps_every_known_probability(base):
    model = load_model(base)
    texts = ["龙蛇龙蛇鹦", "春"]
    grown, added = extend_vocabulary(model, texts, min_count=1)
    assert added == ["龙", "蛇", "鹦"] and len(grown.vocab) == len(model.vocab) + 3
    assert grown.vocab.tokens[: len(model.vocab)] == model.vocab.tokens
    tokens = np.array([model.vocab.encode("春眠不觉晓", bos=True)])
    before = keras.ops.convert_to_numpy(keras.ops.log_softmax(model(tokens), axis=-1)).astype(np.float64)
    after = keras.ops.convert_to_numpy(keras.ops.log_softmax(grown(tokens), axis=-1)).astype(np.float64)
    known = [i for i in range(len(model.vocab)) if i != UNK_ID]
    np.testing.assert_allclose(after[..., known], before[..., known], atol=1e-5)
    shared = np.exp(after[..., [UNK_ID, *range(len(model.vocab), len(grown.vocab))]]).sum(-1)
    np.testing.assert_allclose(shared, np.exp(before[..., UNK_ID]), rtol=1e-4)  # <unk>'s mass, now shared
    emb = grown.embedding.get_weights()[0]
    np.testing.assert_array_equal(emb[len(model.vocab) :], np.repeat(emb[UNK_ID : UNK_ID + 1], 3, axis=0))
    assert extend_vocabulary(model, ["春"], 1) == (model, [])


def test_extend_vocab_fit_learns_the_new_characters(base, new_corpus, tmp_path):
    out = tmp_path / "grown.keras"
    result = fit(new_corpus, "--from", base, "--extend-vocab", "--out", out, "--epochs", "1", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    assert "vocabulary extended by" in result.output
    model = load_model(out)
    assert "龙" in model.vocab and "鹦" in model.vocab
    assert model.vocab.encode("龙蛇走马").tolist().count(UNK_ID) == 0


def test_lineage_is_recorded_and_info_shows_it(base, new_corpus, tmp_path):
    out = tmp_path / "tuned.keras"
    assert fit(new_corpus, "--from", base, "--out", out, "--epochs", "2", "--batch-size", "4").exit_code == 0
    info = json.loads(CliRunner().invoke(main, ["info", "--model", str(out), "--json"]).output)
    stages = info["lineage"]
    assert len(stages) == 2
    assert stages[0]["file"] == "base.keras" and stages[0]["file_fingerprint"] == file_fingerprint(base)
    assert stages[0]["epochs"] == 1 and stages[1]["epochs"] == 2
    assert stages[1]["from"] == {"file": "base.keras", "fingerprint": file_fingerprint(base)}
    assert stages[1]["corpus_files"] == ["new.txt"]
    low, high = load_model(out).metadata["corpus"]["verse_chars"]  # what free verse's bounds default to
    assert (low, high) == (4, 5)  # NEW_POEMS: verses of 4 and 5 characters
    text = CliRunner().invoke(main, ["info", "--model", str(out)]).output
    assert "lineage" in text and f"from base.keras ({file_fingerprint(base)})" in text
    # a third stage keeps the first two
    third = tmp_path / "third.keras"
    assert fit(new_corpus, "--from", out, "--out", third, "--epochs", "1", "--batch-size", "4").exit_code == 0
    assert [s["epochs"] for s in json.loads(CliRunner().invoke(main, ["info", "-m", str(third), "--json"]).output)["lineage"]] == [1, 2, 1]


def test_from_bundled_names_the_bundled_model(new_corpus, tmp_path):
    result = fit(new_corpus, "--from", "bundled", "--out", tmp_path / "b.keras", "--units", "9")
    assert result.exit_code == 2 and "--units 9 (the base has --units 768)" in result.output


@pytest.mark.parametrize("optimizer", ["rmsprop", "sgd"])
def test_optimizer_is_used_recorded_in_the_checkpoint_and_kept_on_resume(corpus_file, tmp_path, optimizer):
    out = tmp_path / "m.keras"
    result = fit(corpus_file, "--out", out, "--epochs", "1", "--optimizer", optimizer, *TINY)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(checkpoint_path(out)) as archive:
        assert json.loads(archive.read("state.json"))["optimizer"] == optimizer
    assert load_model(out).metadata["hyperparameters"]["optimizer"] == optimizer
    refused = fit(corpus_file, "--out", out, "--epochs", "2", "--resume", "--optimizer", "adam")
    assert refused.exit_code == 2 and f"the checkpoint has --optimizer {optimizer}" in refused.output
    resumed = fit(corpus_file, "--out", out, "--epochs", "2", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert load_model(out).metadata["hyperparameters"]["optimizer"] == optimizer


def test_optimizers_differ_in_what_they_train(corpus_file, tmp_path):
    weights = {}
    for optimizer in ("adam", "rmsprop"):
        out = tmp_path / f"{optimizer}.keras"
        assert fit(corpus_file, "--out", out, "--epochs", "1", "--optimizer", optimizer, *TINY).exit_code == 0
        weights[optimizer] = weights_of(out)
    assert any(not np.allclose(a, b) for a, b in zip(weights["adam"], weights["rmsprop"]))


def poems_of(texts):
    return [Poem("", t) for t in texts]


def test_steps_per_epoch_streams_through_passes_and_resumes_exactly(corpus_file, tmp_path):
    poems, report = read_corpus(corpus_file)
    config = dict(cell="gru", num_layers=1, units=8, embedding_dim=4, batch_size=2, val_split=0.25, seed=1, patience=0)
    quiet = dict(verbose=0, log=lambda _: None)
    straight = train(poems, report, TrainConfig(epochs=3, steps_per_epoch=3, **config), tmp_path / "a.keras", **quiet)
    assert [h["epoch"] for h in straight.history] == [1, 2, 3]
    train(poems, report, TrainConfig(epochs=1, steps_per_epoch=3, **config), tmp_path / "b.keras", **quiet)
    train(poems, report, TrainConfig(epochs=3, steps_per_epoch=3, **config), tmp_path / "b.keras", resume=True, **quiet)
    for a, b in zip(weights_of(tmp_path / "a.keras"), weights_of(tmp_path / "b.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_stream_epochs_cover_every_batch_of_each_pass_once():
    from tangpoet.data.batching import Batches
    from tangpoet.training.trainer import Stream

    batches = Batches([np.arange(4, 4 + n) for n in range(1, 12)], 2, seed=0)  # 11 poems: 6 batches a pass
    stream = Stream(batches, 4)
    seen = []
    for epoch in range(3):  # 12 batches = two passes
        stream.set_epoch(epoch)
        seen += [tuple(sorted((y != 0).sum(1).tolist())) for _, y in stream]  # poems told apart by their lengths
    first, second = seen[:6], seen[6:]
    assert len(set(first)) == 6 and len(set(second)) == 6
    assert sorted(first) == sorted(second) and first != second  # each pass re-planned (a new order)


def test_val_from_holds_out_only_that_corpus_and_drops_copies_from_training(tmp_path):
    from tangpoet.data.split import training_split

    held = poems_of([f"春{i}" for i in range(20)])
    other = poems_of(["夏一", "夏二"]) + [held[0], held[1], held[2]]  # another corpus holding copies of held poems
    train_poems, val, dropped = training_split(other, 0.25, seed=0, val_from=held)
    assert len(val) == 5 and all(p in held for p in val)
    contents = {p.content for p in val}
    assert not contents & {p.content for p in train_poems}
    assert dropped == sum(p.content in contents for p in other + held) - len(val)
    assert {"夏一", "夏二"} <= {p.content for p in train_poems}


def test_val_from_must_be_a_corpus_argument(corpus_file, new_corpus, tmp_path):
    result = fit(new_corpus, "--val-from", corpus_file, "--out", tmp_path / "x.keras")
    assert result.exit_code == 2 and "must be one of the CORPUS arguments" in result.output
    ok = fit(new_corpus, corpus_file, "--val-from", corpus_file, "--out", tmp_path / "y.keras", "--epochs", "1", *TINY)
    assert ok.exit_code == 0, ok.output
    assert load_model(tmp_path / "y.keras").metadata["split"]["val_poems"] == round(
        read_corpus(corpus_file)[1].kept * 0.25
    )


FIXTURES = Path(__file__).with_name("fixtures") / "finetune"  # made by the commands in its README.md


def test_a_fine_tune_begun_on_one_backend_continues_on_another(tmp_path, backend):
    """Epoch 1 of a fine-tune (RMSprop) checkpointed on another backend (a committed fixture: each tox env has one
    backend), continued here with --resume: the same run goes on, on this backend."""
    other = "torch" if backend == "jax" else "jax"
    base = FIXTURES / "base.keras"
    out = tmp_path / "tuned.keras"
    shutil.copy(FIXTURES / f"{other}.keras.ckpt", checkpoint_path(out))
    with zipfile.ZipFile(checkpoint_path(out)) as archive:
        assert json.loads(archive.read("state.json"))["epoch"] == 1
    resumed = fit(FIXTURES / "new.txt", "--from", base, "--out", out, "--epochs", "2", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1" in resumed.output
    model = load_model(out)
    assert model.metadata["backend"] == backend and model.metadata["training"]["epochs"] == 2
    assert [h["epoch"] for h in model.metadata["training"]["history"]] == [1, 2]
    assert model.metadata["hyperparameters"]["optimizer"] == "rmsprop"
    assert model.metadata["lineage"][-1]["from"] == {"file": "base.keras", "fingerprint": file_fingerprint(base)}
