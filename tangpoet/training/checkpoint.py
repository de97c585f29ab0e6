"""Reading a checkpoint (``OUT.ckpt``, for ``fit --resume``) as untrusted input, and cleaning what a killed save left.

A checkpoint is a zip of ``model.keras`` (the model with its optimizer's variables), ``optimizer.npz``,
``best_weights.npz`` and ``state.json``. It gets the model file's protections and its own: no member beyond those
four; ``state.json`` bounded in size and depth, a JSON object whose fields have the types and ranges ``fit`` writes
(an epoch past :data:`~tangpoet.limits.MAX_EPOCHS` is refused); every array's header checked before anything is
allocated, the optimizer's against a multiple of the model's weights and the best weights against the model's own
shapes (:mod:`tangpoet.data.untrusted`). Every problem is one line naming the checkpoint.

A save is written to a temporary file beside the checkpoint and renamed over it; ``kill -9`` during the save leaves
that temporary behind. :func:`clean_stale_temporaries` removes those of an output at the start of the next run (the
output lock, taken first, says no other run is writing them).
"""

from __future__ import annotations

import glob
import math
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tangpoet import limits
from tangpoet.errors import ModelFileError, TangpoetError
from tangpoet.data.untrusted import npz_arrays, numbered, read_json

MEMBERS = ("model.keras", "optimizer.npz", "best_weights.npz", "state.json")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _optional(check):
    return lambda v: v is None or check(v)


#: state.json's fields that fit reads back, and what each must be (a field absent is fine: older checkpoints)
STATE_FIELDS = {
    "epoch": lambda v: _is_int(v) and 0 <= v <= limits.MAX_EPOCHS,
    "history": lambda v: isinstance(v, list) and len(v) <= limits.MAX_EPOCHS and all(isinstance(r, dict) for r in v),
    "best_val_nll": _optional(_is_number),
    "best_epoch": _optional(lambda v: _is_int(v) and 0 <= v <= limits.MAX_EPOCHS),
    "stale_epochs": lambda v: _is_int(v) and 0 <= v <= limits.MAX_EPOCHS,
    "seconds": lambda v: _is_number(v) and v >= 0,
    "seed": lambda v: _is_int(v) and 0 <= v <= limits.MAX_SEED,
    "val_split": lambda v: _is_number(v) and 0 <= v < 1,
    "optimizer": lambda v: isinstance(v, str),
    "ema": lambda v: _is_number(v) and 0 <= v < 1,
    "steps_per_epoch": _optional(lambda v: _is_int(v) and 1 <= v <= 2**31),
    "fingerprint": _optional(lambda v: isinstance(v, str)),
    "lineage_before": lambda v: isinstance(v, list) and all(isinstance(s, dict) for s in v),
    "from_file": _optional(lambda v: isinstance(v, (str, dict))),
}


def check_state(state: Any, path: Path) -> dict[str, Any]:
    """``state`` (state.json parsed) if it is what fit writes, else one :class:`TangpoetError` naming the field."""
    if not isinstance(state, dict):
        raise TangpoetError(f"checkpoint {path} is damaged: its state.json is not an object")
    for key, check in STATE_FIELDS.items():
        if key in state and not check(state[key]):
            raise TangpoetError(f"checkpoint {path} is damaged: its state.json has an invalid {key!r}")
    epoch = state.get("epoch", 0)
    if state.get("best_epoch") is not None and state["best_epoch"] > epoch:
        raise TangpoetError(f"checkpoint {path} is damaged: its best epoch is after its last epoch")
    return state


def members(archive: zipfile.ZipFile, path: Path) -> dict[str, int]:
    sizes = {}
    for info in archive.infolist():
        if info.filename not in MEMBERS:
            raise TangpoetError(
                f"checkpoint {path} is damaged or hostile: it holds {info.filename!r}, which is not part of a"
                " checkpoint; it was not read"
            )
        sizes[info.filename] = info.file_size
    missing = [name for name in MEMBERS if name not in sizes]
    if missing:
        raise TangpoetError(f"checkpoint {path} is damaged: it has no {', '.join(missing)}")
    if sizes["state.json"] > limits.MAX_STATE_BYTES:
        raise TangpoetError(
            f"checkpoint {path} is damaged or hostile: its state.json inflates to {sizes['state.json']:,} bytes, more"
            f" than a checkpoint's may ({limits.MAX_STATE_BYTES:,}); it was not read"
        )
    if sizes["model.keras"] > limits.MAX_MEMBER_BYTES:
        raise TangpoetError(f"checkpoint {path} is damaged or hostile: its model is {sizes['model.keras']:,} bytes")
    return sizes


def read_checkpoint(path: Path):
    """``(model, optimizer values, state)`` from the checkpoint ``path``, each part checked before it is read."""
    from tangpoet.model.poem_model import atomic_path, load_model

    if not path.is_file():
        raise TangpoetError(f"no checkpoint to resume from: {path} does not exist")
    error = TangpoetError
    try:
        with zipfile.ZipFile(path) as archive:
            members(archive, path)
            state = check_state(read_json(archive.read("state.json"), f"checkpoint {path}: its state.json", error), path)
            model_tmp = atomic_path(path)
            try:
                with archive.open("model.keras") as member, open(model_tmp, "wb") as copy:
                    shutil.copyfileobj(member, copy, 2**20)
                model = load_model(model_tmp, training_state=True)  # the model file's checks, all of them
            finally:
                model_tmp.unlink(missing_ok=True)
            weights = [tuple(w.shape) for w in model.weights]
            weight_bytes = sum(math.prod(shape) for shape in weights) * limits.WEIGHTS_BYTES_PER_PARAMETER
            with archive.open("optimizer.npz") as member:
                optimizer_values = numbered(
                    npz_arrays(member, f"checkpoint {path}: its optimizer.npz", error,
                               max_bytes=limits.MAX_OPTIMIZER_FACTOR * weight_bytes + 2**16),
                    f"checkpoint {path}: its optimizer.npz", error,
                )
            if not optimizer_values:
                raise error(f"checkpoint {path} is damaged: its optimizer.npz holds no optimizer state")
            if archive.getinfo("best_weights.npz").file_size:
                with archive.open("best_weights.npz") as member:
                    best = numbered(
                        npz_arrays(member, f"checkpoint {path}: its best_weights.npz", error,
                                   max_bytes=weight_bytes + 2**16),
                        f"checkpoint {path}: its best_weights.npz", error,
                    )
                if [b.shape for b in best] != [tuple(shape) for shape in weights_shapes(model)]:
                    raise error(f"checkpoint {path} is damaged: its best weights do not fit its model")
                state["best_weights"] = best
    except TangpoetError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, ModelFileError) as exc:
        raise TangpoetError(f"checkpoint {path} is damaged: {exc}") from None
    return model, optimizer_values, state


def weights_shapes(model) -> list[tuple[int, ...]]:
    return [tuple(np.shape(w)) for w in model.get_weights()]


def check_optimizer_shapes(variables, values, path) -> None:
    """Each saved optimizer array has its variable's shape (else one line, not Keras' assignment traceback)."""
    if len(values) != len(variables):
        raise TangpoetError("checkpoint optimizer state does not match the model")
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != tuple(np.shape(value)):
            raise TangpoetError(
                f"checkpoint {path} is damaged: an optimizer array is {tuple(np.shape(value))}, its variable"
                f" {tuple(variable.shape)}"
            )


def stale_temporaries(out: str | Path) -> list[Path]:
    """The temporary files a killed save of ``out`` or of its checkpoint left beside them (``.NAME.*.tmp.keras``,
    ``.NAME.ckpt.*.tmp.ckpt``, the names :func:`~tangpoet.model.poem_model.atomic_path` gives)."""
    out = Path(out)
    found = []
    for name in (out.name, out.name + ".ckpt"):
        for suffix in (".tmp.keras", ".tmp.ckpt"):
            found += [p for p in out.parent.glob(f".{glob.escape(name)}.*{suffix}") if p.is_file()]
    return sorted(set(found))


def clean_stale_temporaries(out: str | Path, log=None) -> list[Path]:
    """Remove :func:`stale_temporaries` of ``out`` (call it holding the output lock); say so through ``log``."""
    removed = []
    for path in stale_temporaries(out):
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed and log is not None:
        log(f"removed {len(removed)} temporary {'file' if len(removed) == 1 else 'files'} a stopped save left"
            f" beside {Path(out).name}")
    return removed
