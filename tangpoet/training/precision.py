"""``fit --precision``: the numeric precision training computes in — ``fp32``, ``bf16`` or ``auto``.

``bf16`` is Keras' ``mixed_bfloat16`` dtype policy on every layer of the model (not the model itself): the variables
stay float32 and the optimizer updates them in float32; the layers compute in bfloat16 (activations, matrix
products, the recurrent state). The loss gets float32 logits (a Keras ``Loss`` converts its inputs to its own
float32 dtype), so the log-softmax and the cross-entropy are float32, and the validation NLL is computed with every
layer back in float32 — the figure of the model that is saved, the one ``tangpoet eval`` gives.

The policies live on the layer objects of one training run only: ``PoemModel.get_config`` does not serialise its
layers, so a model file or a checkpoint written by a bfloat16 run holds the same float32 weights and config as one
written in float32, and loads in float32 (writing, ``eval``, ``--from``). ``--resume`` applies the precision of the
resumed run, whatever the checkpoint's was.

``auto`` picks bfloat16 only where it pays: a CPU with native bfloat16 instructions (``avx512_bf16`` / ``amx_bf16``
on x86, ``bf16`` on Arm, read from ``/proc/cpuinfo``) **and** the backend measured faster in bfloat16 on the model's
own matrix products (a short probe, :func:`probe_speedup`); float32 everywhere else, including accelerators (pass
``--precision bf16`` there yourself). Without native instructions bfloat16 is emulated and far slower (measured:
``benchmarks/precision_peak.py``, docs/benchmarks.md#precision).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PRECISIONS = ("auto", "bf16", "fp32")
POLICIES = {"bf16": "mixed_bfloat16", "fp32": "float32"}
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX-512 BF16 and AMX; Arm (aarch64 "Features")
MIN_SPEEDUP = 1.25  # auto: bfloat16 only when the probe's products run at least this much faster
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Choice:
    """The precision a run computes in (``bf16`` / ``fp32``), what was asked for, and why."""

    precision: str
    requested: str
    reason: str

    def describe(self) -> str:
        return f"precision {self.precision} ({self.reason})"


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native bfloat16 instruction flags of this CPU (from ``/proc/cpuinfo``, or the given text); ``[]`` if none
    or unknown (no ``/proc/cpuinfo``: macOS, Windows)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            flags.update(value.split())
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


def _on_accelerator(backend: str) -> bool:
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    return False


def probe_shapes(units: int, embedding_dim: int, vocab_size: int, tokens: int = 1024) -> list[tuple[int, int, int]]:
    """``(m, k, n)`` of a training step's largest products: the recurrent gates (``[tokens, units] @ [units,
    4·units]``) and the output layer (``[tokens, embedding] @ [embedding, vocab]``)."""
    return [(tokens, units, 4 * units), (tokens, embedding_dim, vocab_size)]


def matmul_seconds(shape: tuple[int, int, int], dtype: str, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of one ``[m, k] @ [k, n]`` product in ``dtype`` through ``keras.ops`` on the
    current backend (after one warm-up, which also compiles it on JAX)."""
    import keras
    import numpy as np

    m, k, n = shape
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((m, k)).astype("float32"), dtype=dtype)
    b = keras.ops.convert_to_tensor(rng.standard_normal((k, n)).astype("float32"), dtype=dtype)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[:1, :1])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[:1, :1])  # waits for the result on every backend
        best = min(best, time.perf_counter() - start)
    return best


def probe_speedup(shapes: list[tuple[int, int, int]]) -> float:
    """float32 time / bfloat16 time of ``shapes``' products on the current backend (> 1: bfloat16 is faster)."""
    fp32 = sum(matmul_seconds(shape, "float32") for shape in shapes)
    bf16 = sum(matmul_seconds(shape, "bfloat16") for shape in shapes)
    return fp32 / bf16


def choose(requested: str, backend: str, shapes: list[tuple[int, int, int]] | None = None, *, cpuinfo=None) -> Choice:
    """The precision for ``requested`` (``auto`` / ``bf16`` / ``fp32``) on ``backend``; ``shapes`` for ``auto``'s
    probe (:func:`probe_shapes`)."""
    if requested not in PRECISIONS:
        from tangpoet.errors import TangpoetError

        raise TangpoetError(f"--precision must be one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return Choice(requested, requested, "as asked")
    if _on_accelerator(backend):
        return Choice("fp32", "auto", "auto picks bfloat16 on CPUs only; pass --precision bf16 on an accelerator")
    flags = cpu_bf16_flags(cpuinfo)
    if not flags:
        return Choice(
            "fp32", "auto",
            "auto: this CPU has no native bfloat16 instructions (no avx512_bf16 / amx_bf16 / bf16 flag), "
            "so bfloat16 would be emulated and slower",
        )
    speedup = probe_speedup(shapes or probe_shapes(768, 256, 7000))
    measured = f"{backend} ran the model's matrix products {speedup:.2f}× as fast in bfloat16"
    if speedup >= MIN_SPEEDUP:
        return Choice("bf16", "auto", f"auto: the CPU has {', '.join(flags)} and {measured}")
    return Choice("fp32", "auto", f"auto: the CPU has {', '.join(flags)} but {measured} (needs {MIN_SPEEDUP}×)")


# ------------------------------------------------------------------------------------------ the model's layers
def layers_of(model) -> list:
    """Every layer inside ``model`` (not ``model`` itself), found through public attributes: the layers it holds
    directly or in lists, and theirs (an RNN layer's ``cell``, a head's ``projection``, a plugin cell's own
    layers)."""
    import keras

    found: dict[int, object] = {}

    def visit(layer) -> None:
        for value in vars(layer).values():
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, keras.layers.Layer) and id(item) not in found and item is not model:
                    found[id(item)] = item
                    visit(item)

    visit(model)
    return list(found.values())


def apply(model, precision: str) -> None:
    """Set every layer of ``model`` to ``precision``'s dtype policy (``bf16``: ``mixed_bfloat16``; ``fp32``:
    ``float32``). Variables are untouched (float32 either way). Call it before ``compile`` on JAX / TensorFlow,
    whose compiled steps keep the policies they were traced with."""
    policy = POLICIES[precision]
    for layer in layers_of(model):
        layer.dtype_policy = policy


def current(model) -> str:
    """``bf16`` if any layer of ``model`` computes in bfloat16, else ``fp32``."""
    return "bf16" if any(layer.compute_dtype == "bfloat16" for layer in layers_of(model)) else "fp32"


@contextlib.contextmanager
def float32_compute(model) -> Iterator[None]:
    """Inside: ``model`` computes in float32 (validation, saving), then back to the precision it had."""
    before = current(model)
    if before == "fp32":
        yield
        return
    apply(model, "fp32")
    try:
        yield
    finally:
        apply(model, before)
