"""The first fit compiles few shapes: JAX traces the train step once per bucket shape (over all epochs), TensorFlow
at most twice in all (Keras' ``reduce_retracing`` relaxes the signature to ``(None, None)`` after the second shape)."""

from __future__ import annotations

import pytest

from tangpoet.data.batching import Batches
from tangpoet.data.corpus import read_corpus
from tangpoet.model.poem_model import PoemModel
from tangpoet.training.trainer import TrainConfig, train


@pytest.fixture()
def traces(monkeypatch):
    """How often ``train_step``'s Python body runs: once per trace on JAX and TensorFlow (graphs run without it)."""
    count = []
    original = PoemModel.train_step

    def counted(self, *args):  # (data) on TensorFlow, (state, data) on JAX
        count.append(tuple(args[-1][0].shape))
        return original(self, *args)

    monkeypatch.setattr(PoemModel, "train_step", counted)
    return count


def fit_three_epochs(poem_lines, tmp_path):
    """Three epochs on 5 poems of 5 lengths, one per batch: 5 shapes."""
    text = "".join(line.split(":", 1)[-1] for line in poem_lines)
    path = tmp_path / "lengths.txt"
    path.write_text("\n".join(text[i * 7 : i * 7 + 6 + 4 * i] for i in range(5)) + "\n", encoding="utf-8")
    poems, report = read_corpus(path)
    config = TrainConfig(epochs=3, num_layers=1, units=8, embedding_dim=4, batch_size=1, val_split=0, patience=0)
    train(poems, report, config, tmp_path / "m.keras", verbose=0, log=lambda _: None)
    return Batches([list(range(len(p.content))) for p in poems], 1, seed=0)  # the plan train made (seed 0, no split)


@pytest.mark.jax
def test_jax_traces_each_bucket_shape_once_over_all_epochs(poem_lines, tmp_path, traces):
    plan = fit_three_epochs(poem_lines, tmp_path)
    assert len(plan.shapes()) == 5 and len(traces) == len(set(traces)) <= len(plan.shapes())


@pytest.mark.tensorflow
def test_tensorflow_traces_the_train_step_at_most_twice(poem_lines, tmp_path, traces):
    plan = fit_three_epochs(poem_lines, tmp_path)
    assert len(plan.shapes()) == 5 and len(traces) <= 2
