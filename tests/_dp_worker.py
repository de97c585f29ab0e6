"""Subprocess side of tests/test_data_parallel.py (virtual devices must exist before the backend starts).

    python tests/_dp_worker.py train SPEC.json    # KERAS_BACKEND=jax|tensorflow; SPEC: devices, corpus, dir, options
    python tests/_dp_worker.py logits MODEL OUT.npz   # any backend: the model's logits on fixed tokens + a greedy poem

``train`` runs, in one process with ``devices`` virtual CPU devices (JAX: ``--xla_force_host_platform_device_count``;
TensorFlow: logical CPU devices):

1. ``single.keras`` — ``train()`` on one device (no data parallel);
2. ``parallel.keras`` — ``tangpoet fit --data-parallel`` (the CLI), uninterrupted;
3. ``resumed.keras`` — the same command interrupted (Ctrl-C) after epoch 1, then ``--resume``d to the end;

and prints one JSON line: the single-device history, each command's exit status and output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path


def virtual_devices(backend: str, count: int) -> None:
    """Make ``count`` CPU devices visible; must run before the backend is imported."""
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()
    elif backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def cli(args: list[str]) -> tuple[int, str]:
    from tangpoet.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(args, standalone_mode=False)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def train_mode(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    backend = os.environ["KERAS_BACKEND"]
    virtual_devices(backend, spec["devices"])

    import tangpoet.training.trainer as training
    from tangpoet.data.corpus import read_corpus
    from tangpoet.training.trainer import TrainConfig, train

    folder, options = spec["dir"], spec["options"]
    poems, report = read_corpus(spec["corpus"])
    single = train(poems, report, TrainConfig(**options), f"{folder}/single.keras", verbose=0, log=lambda _: None)

    flags = []
    for name, value in options.items():
        flags += [f"--{name.replace('_', '-')}".replace("num-layers", "layers"), str(value)]
    command = ["fit", spec["corpus"], "--data-parallel", *flags, "--backend", backend]
    parallel = cli([*command, "--out", f"{folder}/parallel.keras"])

    original = training._Trainer.end_epoch

    def end_epoch_then_interrupt(self, epoch, logs):  # Ctrl-C right after the first epoch's checkpoint
        original(self, epoch, logs)
        raise KeyboardInterrupt

    training._Trainer.end_epoch = end_epoch_then_interrupt
    interrupted = cli([*command, "--out", f"{folder}/resumed.keras"])
    training._Trainer.end_epoch = original
    resumed = cli([*command, "--out", f"{folder}/resumed.keras", "--resume"])
    print(
        json.dumps(
            {
                "single_history": single.history,
                "parallel": parallel,
                "interrupted": interrupted,
                "resumed": resumed,
            }
        )
    )


def logits_mode(model_path: str, out_path: str) -> None:
    import keras
    import numpy as np

    from tangpoet.model.poem_model import load_model
    from tangpoet.writing import write

    model = load_model(model_path)
    tokens = np.array([[2, 4, 5, 6, 7, 8], [2, 9, 10, 11, 0, 0]], dtype="int32")  # <bos> + ids, and a padded row
    logits = keras.ops.convert_to_numpy(model(tokens))
    poem = write(model, begin=next(c for c in model.vocab.tokens[4:] if c not in "，。？！；、："), decoder="greedy", max_len=12)[0].text
    np.savez(out_path, logits=logits, poem=np.array(poem))


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train_mode(sys.argv[2])
    else:
        logits_mode(sys.argv[2], sys.argv[3])
