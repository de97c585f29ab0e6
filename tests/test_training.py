"""Masked loss, evaluation, training, checkpoints, resume, early stopping, interrupts, atomic writes."""

from __future__ import annotations

import io
import math
import zipfile

import h5py
import keras
import numpy as np
import pytest

from tangpoet.data.batching import Batches, pad_batch, shift
from tangpoet.data.corpus import read_corpus
from tangpoet.evaluate import evaluate
from tangpoet.model.poem_model import build_model, load_model, save_model
from tangpoet.training.trainer import TrainConfig, checkpoint_path, masked_loss, split_poems, train
from tangpoet.data.vocab import Vocabulary

TINY = dict(cell="lstm", num_layers=1, units=8, embedding_dim=4, batch_size=4, val_split=0.25, seed=7)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, poem_lines):
    path = tmp_path_factory.mktemp("train") / "poems.txt"
    path.write_text("\n".join(poem_lines * 2), encoding="utf-8")
    return read_corpus(path)


@pytest.fixture(scope="module")
def tiny_model():
    vocab = Vocabulary.build(["春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"])
    keras.utils.set_random_seed(1)
    return build_model(vocab, cell="gru", num_layers=2, units=8, embedding_dim=4)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_right_padding_never_changes_the_loss(tiny_model):
    ids = [tiny_model.vocab.encode(t) for t in ["春眠不觉晓", "花落知多少。夜来"]]
    pairs = [shift(i) for i in ids]
    loss = masked_loss()
    values = []
    for length in (9, 16, 40):
        x = pad_batch([p[0] for p in pairs], length)
        y = pad_batch([p[1] for p in pairs], length)
        values.append(float(numpy(loss(y, tiny_model(x)))))
    np.testing.assert_allclose(values, values[0], rtol=1e-6)
    # and it is the mean over real tokens only: compute it by hand
    x = pad_batch([p[0] for p in pairs], 16)
    y = pad_batch([p[1] for p in pairs], 16)
    logits = numpy(tiny_model(x)).astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token_nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    mask = y != 0
    assert values[0] == pytest.approx(token_nll[mask].mean(), rel=1e-5)


def test_evaluation_matches_hand_computation_and_ignores_batching(tiny_model):
    seqs = [tiny_model.vocab.encode(t) for t in ["春眠不觉晓", "花落知多少。夜来风雨声", "处处闻啼鸟"]]
    total, count = 0.0, 0
    for seq in seqs:
        x, y = shift(seq)
        logits = numpy(tiny_model(x[None]))[0].astype(np.float64)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total -= logp[np.arange(len(y)), y].sum()
        count += len(y)
    one = evaluate(tiny_model, seqs, batch_size=1)
    three = evaluate(tiny_model, seqs, batch_size=3)
    assert one.characters == count == three.characters
    assert one.nll == pytest.approx(total / count, rel=1e-5)
    assert three.nll == pytest.approx(one.nll, rel=1e-5)
    assert one.perplexity == pytest.approx(math.exp(one.nll))
    assert one.bits_per_char == pytest.approx(one.nll / math.log(2))
    two = evaluate(tiny_model, seqs, batch_size=2)  # a short batch's filler rows are not poems
    assert one.poems == two.poems == three.poems == 3 and two.nll == pytest.approx(one.nll, rel=1e-5)


def test_split_is_seeded_and_disjoint(corpus):
    poems, _ = corpus
    train_a, val_a = split_poems(poems, 0.25, 1)
    train_b, val_b = split_poems(poems, 0.25, 1)
    assert (train_a, val_a) == (train_b, val_b)
    assert len(val_a) == 4 and len(train_a) + len(val_a) == len(poems)
    assert split_poems(poems, 0.25, 2)[1] != val_a


def test_training_writes_a_model_with_metadata_and_a_checkpoint(corpus, tmp_path, backend):
    poems, report = corpus
    out = tmp_path / "m.keras"
    result = train(poems, report, TrainConfig(epochs=2, **TINY), out, verbose=0, log=lambda _: None)
    assert out.is_file() and checkpoint_path(out).is_file()
    assert result.epochs_run == 2 and len(result.history) == 2
    assert all(math.isfinite(h["val_nll"]) for h in result.history)
    assert result.history[1]["loss"] < result.history[0]["loss"]
    model = load_model(out)
    meta = model.metadata
    assert meta["backend"] == backend
    assert meta["keras_version"] == keras.__version__
    assert meta["cells"][0]["name"] == "lstm"
    assert meta["corpus"]["kept"] == report.kept
    assert meta["hyperparameters"]["units"] == 8
    assert meta["training"]["val_nll"] == pytest.approx(result.best_val_nll)
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"
    # the model file holds the weights only; the optimizer state lives in the checkpoint
    with zipfile.ZipFile(out) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
            assert "optimizer" not in weights


def test_resume_continues_exactly_where_the_checkpoint_left_off(corpus, tmp_path):
    poems, report = corpus
    quiet = dict(verbose=0, log=lambda _: None)
    straight = train(poems, report, TrainConfig(epochs=3, patience=0, **TINY), tmp_path / "a.keras", **quiet)
    train(poems, report, TrainConfig(epochs=1, patience=0, **TINY), tmp_path / "b.keras", **quiet)
    resumed = train(poems, report, TrainConfig(epochs=3, patience=0, **TINY), tmp_path / "b.keras", resume=True, **quiet)
    assert resumed.epochs_run == 3 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.history[-1]["val_nll"] == pytest.approx(straight.history[-1]["val_nll"], rel=1e-6)
    a, b = load_model(tmp_path / "a.keras"), load_model(tmp_path / "b.keras")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_lr_decay_sets_each_epochs_learning_rate_and_resumes_exactly(corpus, tmp_path):
    poems, report = corpus
    quiet = dict(verbose=0, log=lambda _: None)
    config = dict(patience=0, lr=0.01, lr_decay=0.5, **TINY)
    straight = train(poems, report, TrainConfig(epochs=3, **config), tmp_path / "a.keras", **quiet)
    assert [round(r["lr"], 6) for r in straight.history] == [0.01, 0.005, 0.0025]
    train(poems, report, TrainConfig(epochs=2, **config), tmp_path / "b.keras", **quiet)
    resumed = train(poems, report, TrainConfig(epochs=3, **config), tmp_path / "b.keras", resume=True, **quiet)
    a, b = load_model(tmp_path / "a.keras"), load_model(tmp_path / "b.keras")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert resumed.history[-1]["lr"] == pytest.approx(0.0025)


def test_resume_takes_the_checkpoints_architecture(corpus, tmp_path):
    poems, report = corpus
    out = tmp_path / "m.keras"
    train(poems, report, TrainConfig(epochs=1, **TINY), out, verbose=0, log=lambda _: None)
    config = TrainConfig(epochs=2, **{**TINY, "units": 32, "cell": "gru", "seed": 99, "val_split": 0.5})
    train(poems, report, config, out, resume=True, verbose=0, log=lambda _: None)
    model = load_model(out)
    assert model.hyperparameters()["units"] == 8
    assert config.cell == "lstm"
    assert model.metadata["split"]["seed"] == TINY["seed"]  # same split as the run it continues
    assert model.metadata["split"]["val_poems"] == 4


def test_resume_without_checkpoint_is_a_clear_error(corpus, tmp_path):
    from tangpoet.errors import TangpoetError

    poems, report = corpus
    with pytest.raises(TangpoetError, match="no checkpoint"):
        train(poems, report, TrainConfig(**TINY), tmp_path / "none.keras", resume=True, verbose=0)


def test_damaged_checkpoint_is_a_clear_error(corpus, tmp_path):
    from tangpoet.errors import TangpoetError

    poems, report = corpus
    out = tmp_path / "m.keras"
    checkpoint_path(out).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TangpoetError, match="damaged"):
        train(poems, report, TrainConfig(**TINY), out, resume=True, verbose=0)


def test_early_stopping_keeps_the_best_epoch(corpus, tmp_path, monkeypatch):
    import tangpoet.training.trainer as training
    from tangpoet.evaluate import Evaluation

    scores = iter([3.0, 2.0, 2.5, 2.6, 2.7, 2.8])

    class FakeScorer:
        def __init__(self, model):
            pass

        def __call__(self, batches):
            nll = next(scores)
            return Evaluation(nll, nll, math.exp(nll), 10, 1, 0)

    monkeypatch.setattr(training, "Scorer", FakeScorer)
    poems, report = corpus
    result = train(poems, report, TrainConfig(epochs=6, patience=2, **TINY), tmp_path / "m.keras", verbose=0, log=lambda _: None)
    assert result.stopped_early and result.epochs_run == 4
    assert result.best_epoch == 2 and result.best_val_nll == 2.0


def test_ctrl_c_saves_the_model_and_keeps_the_checkpoint(corpus, tmp_path, monkeypatch):
    import tangpoet.training.trainer as training

    original = training._Trainer.end_epoch

    def end_epoch_then_interrupt(self, epoch, logs):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training._Trainer, "end_epoch", end_epoch_then_interrupt)
    poems, report = corpus
    out = tmp_path / "m.keras"
    result = train(poems, report, TrainConfig(epochs=5, **TINY), out, verbose=0, log=lambda _: None)
    assert result.interrupted and result.epochs_run == 1
    assert load_model(out).metadata["training"]["epochs"] == 1
    assert checkpoint_path(out).is_file()


def test_a_failed_save_leaves_the_previous_file_intact(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "m.keras"
    save_model(tiny_model, out)
    before = out.read_bytes()

    def broken_save(self, path, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(type(tiny_model), "save", broken_save)
    with pytest.raises(OSError):
        save_model(tiny_model, out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_checkpoint_is_one_zip_with_model_optimizer_and_state(corpus, tmp_path):
    poems, report = corpus
    out = tmp_path / "m.keras"
    train(poems, report, TrainConfig(epochs=1, **TINY), out, verbose=0, log=lambda _: None)
    with zipfile.ZipFile(checkpoint_path(out)) as archive:
        assert {"model.keras", "optimizer.npz", "state.json", "best_weights.npz"} <= set(archive.namelist())


@pytest.mark.parametrize(
    "field, value", [("epochs", 0), ("batch_size", 0), ("dropout", 1.0), ("val_split", 1.0), ("lr", 0.0), ("min_count", 0)]
)
def test_invalid_config_is_a_user_error(field, value):
    from tangpoet.errors import TangpoetError

    with pytest.raises(TangpoetError):
        TrainConfig(**{field: value}).validate()


def test_batches_feed_fit_without_masking_layers(tiny_model):
    # the recurrent layers carry no Keras mask (it would disable the fused kernels on torch and JAX)
    assert not tiny_model.embedding.mask_zero
    x, _ = Batches([tiny_model.vocab.encode("春眠不觉晓")], 1)[0]
    assert tiny_model.embedding.compute_mask(x) is None


@pytest.mark.tensorflow
def test_tensorflow_input_yields_the_same_batches_as_the_generic_path():
    from tangpoet.kernels.tensorflow_input import as_dataset

    rng = np.random.default_rng(0)
    batches = Batches([rng.integers(4, 30, size=n) for n in rng.integers(2, 40, size=23)], 4, seed=5)
    fast = [(x.numpy(), y.numpy()) for x, y in as_dataset(batches)]
    generic = list(batches)
    assert len(fast) == len(generic) == len(batches)
    for (fx, fy), (gx, gy) in zip(fast, generic):
        np.testing.assert_array_equal(fx, gx)
        np.testing.assert_array_equal(fy, gy)
    assert len({x.shape[1] for x, _ in generic}) > 1  # the point: batches of several lengths


@pytest.mark.tensorflow
def test_tensorflow_input_has_no_autotune_thread():
    """tf.data's autotune thread made ``fit`` wait up to ~5 s when it ended (the iterator's destructor waits for the
    thread's next wake-up; tensorflow_input.py): the epoch's dataset must run without it."""
    from tangpoet.kernels.tensorflow_input import as_dataset

    dataset = as_dataset(Batches([np.arange(4, 9)] * 6, 2))
    assert dataset.options().autotune.enabled is False
    assert [x.shape[0] for x, _ in dataset] == [2, 2, 2]
