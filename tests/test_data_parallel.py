"""Data-parallel training (``fit --data-parallel``) on virtual CPU devices, against single-device training.

JAX (``--xla_force_host_platform_device_count=2``) and TensorFlow (two logical CPU devices) need their devices before
the backend starts, so the training runs in a fresh process (``tests/_dp_worker.py``): one run on one device, one
``tangpoet fit --data-parallel`` over two, and one interrupted after epoch 1 and resumed. The model files they write
are compared here; the data-parallel model is loaded with every installed backend (here, or in the sibling tox
environment of that backend) and must give the same logits. On torch, ``--data-parallel`` is a one-line error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet.training import distribute
from tangpoet.data.batching import Batches
from tangpoet.model.poem_model import build_model, load_model
from tangpoet.training.trainer import TrainConfig, masked_loss, train
from tangpoet.data.vocab import PAD_ID, Vocabulary

REPO = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("_dp_worker.py")
DEVICES = 2
# 8 poems: 6 train in 2 batches of 3 rows (4 with the filler row on two devices), 2 validation poems
OPTIONS = dict(cell="lstm", num_layers=1, units=8, embedding_dim=4, batch_size=3, epochs=2, val_split=0.25, seed=3, patience=0)
ENGINES = {"jax": "keras.distribution.DataParallel", "tensorflow": "tf.distribute.MirroredStrategy"}


def numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------------------------- every backend, in-process
def test_batches_split_evenly_with_fully_masked_filler_rows():
    seqs = [np.arange(4, 4 + n, dtype=np.int32) for n in (3, 5, 4, 6, 2)]
    plain = Batches(seqs, 3, shuffle=True, seed=1)
    even = Batches(seqs, 3, shuffle=True, seed=1, row_multiple=2)
    assert len(plain) == len(even) == 2
    for (x0, y0), (x1, y1) in zip(plain, even):
        assert len(x1) % 2 == 0 and len(x1) == len(x0) + len(x0) % 2
        np.testing.assert_array_equal(x1[: len(x0)], x0)
        np.testing.assert_array_equal(y1[: len(y0)], y0)
        assert (x1[len(x0) :] == PAD_ID).all() and (y1[len(y0) :] == PAD_ID).all()
    assert even.real_tokens == plain.real_tokens
    assert even.padded_tokens() == sum(x.size for x, _ in even)


def test_filler_rows_do_not_change_the_loss_a_mean_over_real_characters():
    vocab = Vocabulary.build(["春眠不觉晓处处闻啼鸟夜来风雨声"])
    keras.utils.set_random_seed(2)
    model = build_model(vocab, cell="gru", num_layers=1, units=8, embedding_dim=4)
    model.set_weights([w * 30 for w in model.get_weights()])  # far from uniform: tokens' NLLs differ a lot
    seqs = [vocab.encode(t) for t in ["春眠不觉晓", "处处闻啼鸟夜来", "风雨声"]]
    inputs, targets = Batches(seqs, 3, shuffle=False)[0]
    inputs4, targets4 = Batches(seqs, 3, shuffle=False, row_multiple=4)[0]
    assert len(inputs4) == 4 and (targets4[3] == PAD_ID).all()
    logits = numpy(model(inputs4)).astype(np.float64)
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(
        -1, keepdims=True
    )
    nll = -np.take_along_axis(log_probs, targets4[..., None], -1)[..., 0]
    real = targets4 != PAD_ID
    by_hand = nll[real].mean()
    assert abs(by_hand - nll.mean()) > 0.05  # counting the padding (or the filler row) would show
    loss = masked_loss()
    assert float(numpy(loss(targets4, model(inputs4)))) == pytest.approx(by_hand, rel=1e-5)
    assert float(numpy(loss(targets, model(inputs)))) == pytest.approx(by_hand, rel=1e-5)


def test_without_data_parallel_fit_names_its_one_device():
    placement = distribute.plan(False)
    assert placement.replicas == 1 and placement.is_chief
    line = distribute.describe(placement)
    assert line.startswith("device ") and ":" in line


@pytest.mark.torch
def test_torch_data_parallel_is_one_line_error(corpus_file, tmp_path):
    from tangpoet.cli import main
    from tangpoet.errors import DistributionError

    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--data-parallel"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    expected = (
        "error: --data-parallel is supported on the jax and tensorflow backends, not on torch: "
        f"Keras {keras.__version__} has no data-parallel engine for torch"
    )
    assert lines == [expected]
    assert "Traceback" not in result.output and not (tmp_path / "m.keras").exists()
    assert "poems" not in result.output  # refused before the corpus is read
    with pytest.raises(DistributionError):
        train([], None, TrainConfig(data_parallel=True), tmp_path / "n.keras")


@pytest.mark.tensorflow
def test_tensorflow_across_hosts_is_one_line_error(monkeypatch):
    from tangpoet.errors import DistributionError

    cluster = {"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    with pytest.raises(DistributionError, match=r"TF_CONFIG names 2 tasks.*keras-team/keras#20585.*jax backend"):
        distribute.plan(True)


def fit_flags(options):
    flags = []
    for name, value in options.items():
        flags += [{"num_layers": "--layers"}.get(name, f"--{name.replace('_', '-')}"), str(value)]
    return flags


# ------------------------------------------------------------------------------------- jax / tensorflow: 2 devices
@pytest.fixture(scope="module")
def runs(tmp_path_factory, poem_lines, backend):
    if backend not in ENGINES:
        pytest.skip(f"no data parallel on {backend}")
    folder = tmp_path_factory.mktemp("data_parallel")
    corpus = folder / "poems.txt"
    corpus.write_text("\n".join(poem_lines) + "\n", encoding="utf-8")
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"devices": DEVICES, "corpus": str(corpus), "dir": str(folder), "options": OPTIONS}))
    done = subprocess.run(
        [sys.executable, str(WORKER), "train", str(spec)], capture_output=True, text=True, timeout=900, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["dir"] = folder
    return result


def weights(path):
    return [np.asarray(w) for w in load_model(path).get_weights()]


def history(path):
    return load_model(path).metadata["training"]["history"]


@pytest.mark.multi_device
@pytest.mark.jax
@pytest.mark.tensorflow
def test_fit_prints_the_devices_it_splits_batches_over(runs, backend):
    code, output = runs["parallel"]
    assert code == 0, output
    assert f"data parallel over 2 devices (cpu:0, cpu:1) with {ENGINES[backend]}" in output


@pytest.mark.multi_device
@pytest.mark.jax
@pytest.mark.tensorflow
def test_data_parallel_equals_single_device_on_the_same_global_batches(runs):
    folder = runs["dir"]
    single, parallel = runs["single_history"], history(folder / "parallel.keras")
    assert [h["epoch"] for h in parallel] == [1, 2]
    for one, two in zip(single, parallel):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert two["val_nll"] == pytest.approx(one["val_nll"], rel=1e-5)
    for a, b in zip(weights(folder / "single.keras"), weights(folder / "parallel.keras")):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.multi_device
@pytest.mark.jax
@pytest.mark.tensorflow
def test_interrupted_then_resumed_equals_uninterrupted(runs):
    folder = runs["dir"]
    code, output = runs["interrupted"]
    assert code == 130 and "continue with --resume" in output
    code, output = runs["resumed"]
    assert code == 0 and "resuming after epoch 1" in output and "data parallel over 2 devices" in output
    assert [h["epoch"] for h in history(folder / "resumed.keras")] == [1, 2]
    assert history(folder / "resumed.keras")[-1]["val_nll"] == pytest.approx(
        history(folder / "parallel.keras")[-1]["val_nll"], rel=1e-6
    )
    for a, b in zip(weights(folder / "parallel.keras"), weights(folder / "resumed.keras")):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def python_for(backend: str) -> str | None:
    """An interpreter with ``backend`` and tangpoet installed: this one, or the sibling tox environment's."""
    if importlib.util.find_spec(backend) is not None:
        return sys.executable
    for env in (f"py3-{backend}-cpu", f"py3-{backend}-gpu"):
        candidate = REPO / ".tox" / env / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return None


@pytest.mark.multi_device
@pytest.mark.jax
@pytest.mark.tensorflow
@pytest.mark.parametrize("other", ["jax", "tensorflow", "torch"])
def test_data_parallel_model_loads_and_writes_on_every_backend(runs, other, tmp_path):
    path = runs["dir"] / "parallel.keras"
    model = load_model(path)
    tokens = np.array([[2, 4, 5, 6, 7, 8], [2, 9, 10, 11, 0, 0]], dtype="int32")
    if other == keras.backend.backend():  # the training backend itself: load and write here
        from tangpoet.writing import write

        assert write(model, begin=next(c for c in model.vocab.tokens[4:] if c not in "，。？！；、："), decoder="greedy", max_len=12)[0].text
        return
    python = python_for(other)
    if python is None:
        pytest.skip(f"{other} is not installed here (nor in a sibling .tox/py3-{other}-* environment)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XLA_FLAGS", "KERAS_BACKEND"))}
    env.update(KERAS_BACKEND=other, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    out = tmp_path / f"{other}.npz"
    done = subprocess.run(
        [python, str(WORKER), "logits", str(path), str(out)], capture_output=True, text=True, timeout=600, env=env, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    theirs = np.load(out)
    np.testing.assert_allclose(theirs["logits"], numpy(model(tokens)), rtol=1e-4, atol=1e-5)
    assert len(str(theirs["poem"])) >= 1


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.multi_device
@pytest.mark.jax
def test_jax_two_processes_like_two_hosts_equal_one_device(runs, tmp_path):
    """The multi-host recipe on one machine: two processes, one CPU device each, joined by jax.distributed."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2")
    command = [sys.executable, "-m", "tangpoet", "fit", str(runs["dir"] / "poems.txt"), "--data-parallel", *fit_flags(OPTIONS)]
    processes = [
        subprocess.Popen(
            [*command, "--out", str(tmp_path / f"m{i}.keras")],
            env=dict(env, JAX_PROCESS_ID=str(i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        for i in (0, 1)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=600)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
        assert "data parallel over 2 devices on 2 hosts" in output
    # only process 0 writes; every process reports the same (global) validation NLL
    assert (tmp_path / "m0.keras").is_file() and not (tmp_path / "m1.keras").exists()
    assert not (tmp_path / "m1.keras.ckpt").exists()
    nll_lines = [[line for line in output.splitlines() if "val_nll" in line] for output in outputs]
    assert nll_lines[0] and [l.split("val_nll")[1] for l in nll_lines[0]] == [l.split("val_nll")[1] for l in nll_lines[1]]
    for a, b in zip(weights(runs["dir"] / "single.keras"), weights(tmp_path / "m0.keras")):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
