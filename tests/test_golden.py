"""Golden model files: every file saved on any backend loads on the current one and gives the stored logits.

The files under tests/golden/<backend>/<cell>.keras were written by tests/golden/regenerate.py on each backend;
beside each, <cell>.npz holds the input batch, the logits computed on the saving backend, the vocabulary and the
expected hyper-parameters and metadata. Each tox env installs one backend, so together the envs cover every pair.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tangpoet.backend import BACKENDS
from tangpoet.model.poem_model import PoemModel, load_model, read_config
from tangpoet.data.vocab import Vocabulary

import keras  # noqa: E402  (after tangpoet.model.poem_model, which chooses the backend)

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*/*.keras"))
CELLS = ("rnn", "lstm", "gru")


def golden_id(path: Path) -> str:
    return f"{path.parent.name}-{path.stem}"


def expected_of(path: Path) -> dict:
    npz = path.with_suffix(".npz")
    assert npz.is_file(), f"{npz.relative_to(GOLDEN)} is missing: run tests/golden/regenerate.py"
    with np.load(npz, allow_pickle=False) as data:
        return {
            "inputs": data["inputs"],
            "logits": data["logits"],
            "vocabulary": [str(token) for token in data["vocabulary"]],
            **json.loads(str(data["expected_json"])),
        }


def test_every_backend_has_golden_files():
    for backend in BACKENDS:
        cells = sorted(path.stem for path in FILES if path.parent.name == backend)
        assert cells, f"no golden files for {backend} under {GOLDEN}: run tests/golden/regenerate.py"
        missing = sorted(set(CELLS) - set(cells))
        assert not missing, f"{backend}: no golden files for {missing}: run tests/golden/regenerate.py"


@pytest.mark.parametrize("path", FILES, ids=golden_id)
def test_golden_logits(path: Path):
    expected = expected_of(path)
    model = load_model(path)
    assert isinstance(model, PoemModel)
    inputs = expected["inputs"]
    assert inputs.dtype == np.int32 and inputs.shape == (3, 12)
    logits = keras.ops.convert_to_numpy(model(inputs))
    assert logits.shape == expected["logits"].shape == (3, 12, model.vocab_size)
    np.testing.assert_allclose(logits, expected["logits"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", FILES, ids=golden_id)
def test_golden_config_round_trips(path: Path):
    expected = expected_of(path)
    backend, cell = path.parent.name, path.stem
    model = load_model(path)

    assert model.vocab == Vocabulary(expected["vocabulary"])
    assert model.vocab.to_config() == expected["vocabulary"]
    assert model.cell_name == cell == expected["cell"]
    assert model.num_layers == 2 and len(model.recurrent) == 2
    assert model.units == 8 and model.embedding_dim == 6
    assert model.dropout_rate == pytest.approx(0.1)
    # files written before --tie-embeddings/--embedding-dropout existed load as untied, without embedding dropout
    new_defaults = {"embedding_dropout": 0.0, "tie_embeddings": False}
    assert model.hyperparameters() == {**new_defaults, **expected["hyperparameters"]}

    metadata = expected["metadata"]
    assert metadata["backend"] == backend and metadata["cell"] == cell
    assert dict(model.metadata) == metadata
    assert json.loads(json.dumps(model.metadata, ensure_ascii=False)) == metadata  # still plain JSON data
    assert model.metadata["title"] == "春晓"

    # read_config sees the same without building a model
    config = read_config(path)
    assert config["vocabulary"] == expected["vocabulary"]
    assert config["cell"] == cell and config["units"] == 8 and config["num_layers"] == 2
    assert config["metadata"] == metadata
