"""``fit --precision``: bfloat16 compute with float32 weights, ``auto``'s choice, the kernels' bfloat16 paths, and model
files that load and write in float32 whatever precision trained them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet import kernels
from tangpoet.cli import main
from tangpoet.data.corpus import read_corpus
from tangpoet.data.vocab import Vocabulary
from tangpoet.model.poem_model import build_model, load_model, save_model
from tangpoet.training import precision
from tangpoet.training.trainer import TrainConfig, checkpoint_path, masked_loss, read_checkpoint, train

REPO = Path(__file__).resolve().parents[1]
TINY = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--val-split", "0.25",
        "--patience", "0", "--lr", "0.05"]
QUIET = dict(verbose=0, log=lambda _: None)
TEXT = "床前明月光疑是地上霜举头望明月低头思故乡春眠不觉晓处处闻啼鸟"


def numpy(x):
    return keras.ops.convert_to_numpy(keras.ops.cast(x, "float32"))


def compute_dtypes(model) -> set[str]:
    return {layer.compute_dtype for layer in precision.layers_of(model)}


# ------------------------------------------------------------------------------------------ choosing (backend-free)
CPUINFO_BF16 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
CPUINFO_PLAIN = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"
CPUINFO_ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.torch
def test_native_bf16_flags_are_read_from_cpuinfo():
    assert precision.cpu_bf16_flags(CPUINFO_BF16) == ["avx512_bf16", "amx_bf16"]
    assert precision.cpu_bf16_flags(CPUINFO_ARM) == ["bf16"]
    assert precision.cpu_bf16_flags(CPUINFO_PLAIN) == []
    assert precision.cpu_bf16_flags("") == []


@pytest.mark.torch
def test_auto_needs_native_instructions_and_a_measured_speedup(monkeypatch):
    monkeypatch.setattr(precision, "_on_accelerator", lambda backend: False)
    probed = []
    monkeypatch.setattr(precision, "probe_speedup", lambda shapes: probed.append(shapes) or 3.1)
    plain = precision.choose("auto", "torch", cpuinfo=CPUINFO_PLAIN)
    assert plain.precision == "fp32" and "no native bfloat16 instructions" in plain.reason and not probed
    fast = precision.choose("auto", "torch", [(8, 8, 32)], cpuinfo=CPUINFO_BF16)
    assert fast.precision == "bf16" and probed == [[(8, 8, 32)]]
    assert "avx512_bf16, amx_bf16" in fast.reason and "3.10× as fast in bfloat16" in fast.reason
    monkeypatch.setattr(precision, "probe_speedup", lambda shapes: 0.6)
    slow = precision.choose("auto", "jax", cpuinfo=CPUINFO_BF16)
    assert slow.precision == "fp32" and "0.60× as fast" in slow.reason
    assert precision.choose("bf16", "jax", cpuinfo=CPUINFO_PLAIN).precision == "bf16"  # asked for: no probe
    monkeypatch.setattr(precision, "_on_accelerator", lambda backend: True)
    assert precision.choose("auto", "torch", cpuinfo=CPUINFO_BF16).precision == "fp32"


def test_the_probe_times_both_dtypes_on_this_backend():
    seconds = precision.matmul_seconds((16, 8, 32), "bfloat16", repeats=1)
    assert 0 < seconds < 10 and precision.probe_speedup([(16, 8, 32)]) > 0


# ------------------------------------------------------------------------------------------ the policies
def tiny_model(cell="lstm", tie=True, seed=3):
    keras.utils.set_random_seed(seed)
    model = build_model(Vocabulary.build([TEXT]), cell=cell, num_layers=2, units=16, embedding_dim=8,
                        tie_embeddings=tie)
    model.set_weights([w * 4 for w in model.get_weights()])  # logits far from zero: a wrong dtype path would show
    return model


def tokens(model, seed=0):
    return np.random.default_rng(seed).integers(3, model.vocab_size, (3, 9)).astype("int32")


def test_bf16_computes_in_bfloat16_with_float32_variables_and_goes_back():
    model = tiny_model()
    x = tokens(model)
    fp32 = numpy(model(x))
    precision.apply(model, "bf16")
    assert compute_dtypes(model) == {"bfloat16"} and model.compute_dtype == "float32"  # the model itself is not
    assert {w.dtype for w in model.weights} == {"float32"}
    logits = model(x)
    assert keras.backend.standardize_dtype(logits.dtype) == "bfloat16"
    scale = np.abs(fp32).max()
    assert 0 < np.abs(numpy(logits) - fp32).max() < 0.05 * scale  # bfloat16: close, not equal
    with precision.float32_compute(model):
        np.testing.assert_allclose(numpy(model(x)), fp32, rtol=1e-6, atol=1e-6)
    assert precision.current(model) == "bf16"
    precision.apply(model, "fp32")
    np.testing.assert_allclose(numpy(model(x)), fp32, rtol=1e-6, atol=1e-6)


def test_the_loss_is_float32_on_bfloat16_logits():
    model = tiny_model()
    x = tokens(model)
    precision.apply(model, "bf16")
    logits = model(x[:, :-1])
    loss = masked_loss()(x[:, 1:], logits)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    by_float32 = masked_loss()(x[:, 1:], keras.ops.cast(logits, "float32"))
    assert float(numpy(loss)) == pytest.approx(float(numpy(by_float32)), rel=1e-6)


# ------------------------------------------------------------------------------------------ torch kernels in bf16
def loss_and_grads(model, x):
    import torch

    model.zero_grad()
    loss = masked_loss()(x[:, 1:], model(x[:, :-1], training=True))
    loss.backward()
    grads = [numpy(v.value.grad) for v in model.trainable_variables]
    for v in model.trainable_variables:
        v.value.grad = None
    return float(numpy(loss)), grads, torch


@pytest.mark.torch
@pytest.mark.parametrize("cell,tie", [("lstm", True), ("gru", False)])
def test_torch_bf16_kernels_equal_keras_generic_bf16_path(cell, tie):
    from tangpoet.kernels import torch_dense, torch_rnn

    model = tiny_model(cell, tie)
    x = tokens(model)
    precision.apply(model, "bf16")
    assert torch_rnn.plain_recurrent_layer(model.recurrent[0]) == cell  # the bf16 path is taken, not skipped
    import torch

    assert torch_dense.fast_path(model.head, torch.zeros(4, 16, dtype=torch.bfloat16)) is not None
    assert torch_dense.fast_path(model.head, torch.zeros(4, 16)) is None  # not the head's compute dtype
    with kernels.use_fast_paths(True):
        fast_logits, fast_states = model.run(x)
        fast_loss, fast_grads, _ = loss_and_grads(model, x)
    with kernels.use_fast_paths(False):
        slow_logits, slow_states = model.run(x)
        slow_loss, slow_grads, _ = loss_and_grads(model, x)
    assert fast_logits.dtype == slow_logits.dtype and str(fast_logits.dtype) == "torch.bfloat16"
    scale = np.abs(numpy(slow_logits)).max()
    np.testing.assert_allclose(numpy(fast_logits), numpy(slow_logits), atol=0.03 * scale)  # bfloat16 rounding
    for a, b in zip(fast_states, slow_states):
        for s, t in zip(a, b):
            np.testing.assert_allclose(numpy(s), numpy(t), atol=0.03 * max(1.0, np.abs(numpy(t)).max()))
    assert fast_loss == pytest.approx(slow_loss, rel=0.01)
    for g, h in zip(fast_grads, slow_grads):
        assert g.dtype == np.float32 and np.linalg.norm(g - h) <= 0.05 * np.linalg.norm(h) + 1e-6


@pytest.mark.torch
def test_torch_kernels_take_the_float32_path_in_fp32():
    from tangpoet.kernels import torch_rnn

    model = tiny_model()
    x = tokens(model)
    with kernels.use_fast_paths(True):
        fast = numpy(model(x))
    with kernels.use_fast_paths(False):
        slow = numpy(model(x))
    assert torch_rnn.plain_recurrent_layer(model.recurrent[0]) == "lstm"
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ fit --precision
def fit(corpus, out, *args):
    return CliRunner().invoke(main, ["fit", str(corpus), "--out", str(out), *TINY, *args])


def test_fit_bf16_resumes_across_precisions_and_saves_a_float32_model(corpus_file, tmp_path):
    out = tmp_path / "m.keras"
    first = fit(corpus_file, out, "--epochs", "1", "--precision", "bf16")
    assert first.exit_code == 0, first.output
    assert "precision bf16 (as asked)" in first.output
    resumed = fit(corpus_file, out, "--epochs", "2", "--resume", "--precision", "fp32")
    assert resumed.exit_code == 0, resumed.output
    assert "precision fp32 (as asked)" in resumed.output and "resuming after epoch 1" in resumed.output
    again = fit(corpus_file, out, "--epochs", "3", "--resume", "--precision", "bf16")
    assert again.exit_code == 0, again.output
    model = load_model(out)
    assert [h["precision"] for h in model.metadata["training"]["history"]] == ["bf16", "fp32", "bf16"]
    assert model.metadata["training"]["precision"] == "bf16" and model.metadata["hyperparameters"]["precision"] == "bf16"
    assert compute_dtypes(model) == {"float32"} and {w.dtype for w in model.weights} == {"float32"}
    checkpoint, _, _ = read_checkpoint(checkpoint_path(out))
    assert compute_dtypes(checkpoint) == {"float32"}
    with zipfile.ZipFile(out) as archive:  # no bfloat16 policy anywhere in the file
        assert "bfloat16" not in archive.read("config.json").decode()
    assert np.isfinite([h["val_nll"] for h in model.metadata["training"]["history"]]).all()
    info = CliRunner().invoke(main, ["info", "--model", str(out)])
    assert info.exit_code == 0 and "precision bf16" in info.output


def test_validation_in_a_bf16_run_is_the_float32_figure_of_the_saved_model(corpus_file, tmp_path):
    from tangpoet.evaluate import evaluate
    from tangpoet.training.trainer import training_split

    poems, report = read_corpus(corpus_file)
    config = dict(cell="gru", num_layers=1, units=8, embedding_dim=4, batch_size=2, val_split=0.25, seed=1,
                  patience=0, lr=0.05)
    out = tmp_path / "m.keras"
    result = train(poems, report, TrainConfig(epochs=2, precision="bf16", ema=0.5, **config), out, **QUIET)
    saved = load_model(out)
    _, val, _ = training_split(poems, 0.25, 1)
    held_out = evaluate(saved, [saved.vocab.encode(p.content) for p in val], batch_size=2)
    assert held_out.nll == pytest.approx(result.best_val_nll, rel=1e-5)  # float32, and --ema's average


def test_a_bf16_trained_model_writes_the_poems_of_its_weights_in_float32(corpus_file, tmp_path):
    out = tmp_path / "bf16.keras"
    assert fit(corpus_file, out, "--epochs", "2", "--precision", "bf16").exit_code == 0
    trained = load_model(out)
    copy = build_model(trained.vocab, **{k: v for k, v in trained.hyperparameters().items() if k != "vocab_size"})
    copy.set_weights(trained.get_weights())  # the same weights, in a model that never saw bfloat16
    copy.metadata = trained.metadata
    x = tokens(trained)
    np.testing.assert_array_equal(numpy(trained(x)), numpy(copy(x)))
    save_model(copy, tmp_path / "fp32.keras")
    poems = []
    for path in (out, tmp_path / "fp32.keras"):
        run = CliRunner().invoke(main, ["write", "--model", str(path), "--seed", "5", "--num", "3", "--max-len", "24"])
        assert run.exit_code == 0, run.output
        poems.append(run.output)
    assert poems[0] == poems[1] and poems[0].strip()


def test_an_unknown_precision_is_one_line(corpus_file, tmp_path):
    run = fit(corpus_file, tmp_path / "m.keras", "--precision", "fp16")
    assert run.exit_code == 2 and "Traceback" not in run.output and "fp16" in run.output


def test_auto_says_what_it_chose_and_why(corpus_file, tmp_path):
    run = fit(corpus_file, tmp_path / "m.keras", "--epochs", "1")
    assert run.exit_code == 0, run.output
    line = next(line for line in run.output.splitlines() if line.startswith("precision "))
    expected = precision.choose("auto", keras.backend.backend(), precision.probe_shapes(8, 4, 40)).precision
    assert line.startswith(f"precision {expected} (auto")
    assert load_model(tmp_path / "m.keras").metadata["training"]["precision"] == expected


# ------------------------------------------------------------------------------------------ --data-parallel in bf16
@pytest.mark.multi_device
@pytest.mark.jax
@pytest.mark.tensorflow
def test_data_parallel_trains_in_bf16(corpus_file, tmp_path, backend):
    out = tmp_path / "dp.keras"
    args = ["fit", str(corpus_file), "--out", str(out), *TINY, "--epochs", "1", "--precision", "bf16", "--data-parallel"]
    script = (
        "import sys, json; sys.path.insert(0, 'tests'); from _dp_worker import virtual_devices, cli; "
        f"virtual_devices({backend!r}, 2); print(json.dumps(cli({args!r})))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "KERAS_BACKEND": backend}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    code, output = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, output
    assert "data parallel over 2 devices" in output and "precision bf16 (as asked)" in output
    model = load_model(out)
    assert model.metadata["training"]["precision"] == "bf16"
    assert np.isfinite(model.metadata["training"]["history"][0]["val_nll"])
