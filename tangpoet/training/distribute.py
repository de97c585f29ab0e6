"""Data-parallel training (``tangpoet fit --data-parallel``) on the engines the Keras backends already have.

- **JAX**: ``keras.distribution.DataParallel`` over every device JAX sees — local GPUs/TPUs (CPU devices when there
  are none), and every host's after ``jax.distributed.initialize`` (see :mod:`tangpoet.kernels.jax_distribute`).
- **TensorFlow**: ``tf.distribute.MirroredStrategy`` over the local GPUs (CPU devices when there are none)
  (:mod:`tangpoet.kernels.tensorflow_distribute`). Several hosts (``TF_CONFIG`` with several tasks) are refused with
  one line: Keras 3's TensorFlow trainer cannot ``fit`` under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).
- **torch**: Keras (3.15) has no data-parallel engine for torch: asking for one is a one-line error.

``--batch-size`` stays the *global* batch. Each length-bucketed batch is padded with fully masked rows (``<pad>``
inputs and targets) to a multiple of the number of replicas, so every device gets the same number of rows; the loss
is a mean over the real characters of the whole global batch, so the padding rows change neither the loss nor the
gradient (the TensorFlow strategy needs :func:`mean_over_replicas` for that; JAX computes the loss on the global
array). Only the chief process writes checkpoints and the model file.

This module is the backend-neutral front; the engine-specific code lives in ``tangpoet/kernels/*_distribute.py``:
a strategy scope is not a numerical kernel, but it is backend-specific code reached through a backend check, which
is what ``kernels/`` holds.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from tangpoet.errors import DistributionError

SUPPORTED = ("jax", "tensorflow")


class SingleDevice:
    """The plan when ``--data-parallel`` is off: Keras' default placement, nothing changes."""

    engine = None
    replicas = 1
    processes = 1
    is_chief = True

    def scope(self):
        return contextlib.nullcontext()

    def view(self, batches):
        return batches

    @property
    def devices(self) -> list[str]:
        return [default_device()]


_active = None  # the plan whose scope is entered (mean_over_replicas consults it)
_scratch: Path | None = None  # a non-chief process's throwaway copies of the files the chief writes


def plan(data_parallel: bool):
    """The placement for a training run: :class:`SingleDevice`, or the backend's data-parallel plan."""
    if not data_parallel:
        return SingleDevice()
    import keras

    backend = keras.backend.backend()
    check_supported(backend)
    if backend == "jax":
        from tangpoet.kernels.jax_distribute import Plan
    else:
        from tangpoet.kernels.tensorflow_distribute import Plan
    return Plan()


def check_supported(backend: str) -> None:
    """The one-line error for a backend without a data-parallel engine (no Keras import: the CLI checks first)."""
    if backend not in SUPPORTED:
        from importlib.metadata import version

        raise DistributionError(
            f"--data-parallel is supported on the {' and '.join(SUPPORTED)} backends, not on {backend}: "
            f"Keras {version('keras')} has no data-parallel engine for {backend}"
        )


@contextlib.contextmanager
def activate(placement):
    """Enter ``placement``'s scope (model, optimizer and ``fit`` are created and run inside it)."""
    global _active, _scratch
    previous, _active = _active, placement
    try:
        with placement.scope():
            yield placement
    finally:
        _active = previous
        if _scratch is not None and previous is None:
            shutil.rmtree(_scratch, ignore_errors=True)
            _scratch = None


def is_chief() -> bool:
    """Whether this process writes files (always, except on the non-chief hosts of a multi-host run)."""
    return _active is None or _active.is_chief


def output_path(path: str | Path) -> Path:
    """Where this process writes ``path`` (a checkpoint, the model): ``path`` itself, except on the non-chief hosts
    of a multi-host run, which write a private scratch copy that is deleted at the end. They must still save: on
    JAX, reading and re-placing the replicated variables is a collective every process has to join."""
    global _scratch
    path = Path(path)
    if is_chief():
        return path
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="tangpoet-worker-"))
    return _scratch / path.name


def global_scorer(scorer):
    """The validation scorer as every process must see it: the NLL over all hosts' rows (unchanged on one host)."""
    combine = getattr(_active, "global_scorer", None)
    return combine(scorer) if combine is not None else scorer


def mean_over_replicas(total, count):
    """The masked loss's last step, ``total / count`` over the real characters of the whole global batch.

    Under a TensorFlow strategy each replica sees only its rows; :func:`tensorflow_distribute.replica_mean` then
    divides by the global count (see there). Everywhere else (JAX computes the loss on the global array) it is the
    plain quotient."""
    if _active is not None and _active.replicas > 1 and getattr(_active, "strategy", None) is not None:
        from tangpoet.kernels.tensorflow_distribute import replica_mean

        return replica_mean(total, count)
    from keras import ops

    return total / ops.maximum(count, 1.0)


def describe(placement) -> str:
    """The line ``fit`` prints: which devices, which engine, how the global batch is cut."""
    devices = placement.devices
    shown = ", ".join(devices) if len(devices) <= 8 else ", ".join(devices[:4]) + f", … , {devices[-1]}"
    if placement.engine is None:
        return f"device {shown}"
    hosts = f" on {placement.processes} hosts" if placement.processes > 1 else ""
    return f"data parallel over {placement.replicas} devices{hosts} ({shown}) with {placement.engine}"


def default_device() -> str:
    """Where Keras puts a model when nothing is said: the first GPU/TPU, else the CPU."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return f"{device.platform}:{device.id}"
        if backend == "tensorflow":
            import tensorflow as tf

            return "gpu:0" if tf.config.list_logical_devices("GPU") else "cpu:0"
        if backend == "torch":
            from keras.src.backend.torch.core import get_device

            device = str(get_device())
            return device if ":" in device else f"{device}:0"
    except Exception:  # a description only: never fail training for it
        pass
    return "default"
