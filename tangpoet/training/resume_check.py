"""``fit --resume`` continues the checkpoint's run: options that would change it are refused, not ignored.

The checkpoint's architecture, seed and validation split win on resume (the run goes on as it began). An option the
user typed that differs from them would be silently ignored, so :func:`check_resume_options` refuses it in one line,
naming each. Read from the checkpoint without Keras (its ``state.json`` and the ``config.json`` of the model inside).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any

from tangpoet.errors import TangpoetError

# TrainConfig field -> the fit option that sets it, for what --resume takes from the checkpoint
RESUMED_OPTIONS = {
    "cell": "--cell",
    "num_layers": "--layers",
    "units": "--units",
    "embedding_dim": "--embedding-dim",
    "dropout": "--dropout",
    "embedding_dropout": "--embedding-dropout",
    "tie_embeddings": "--tie-embeddings",
    "seed": "--seed",
    "val_split": "--val-split",
    "optimizer": "--optimizer",
    "steps_per_epoch": "--steps-per-epoch",
    "ema": "--ema",
    "titles": "--titles",
    "untitled_fraction": "--untitled-fraction",
}
_FROM_STATE = ("seed", "val_split", "optimizer", "steps_per_epoch", "ema", "titles", "untitled_fraction")  # in state.json, not the model's config
_DEFAULTS = {"tie_embeddings": False, "dropout": 0.0, "embedding_dropout": 0.0}  # absent from older model files
_STATE_DEFAULTS = {"optimizer": "adam", "ema": 0.0, "titles": False, "untitled_fraction": 0.2}  # absent from checkpoints before --optimizer / --ema existed


def checkpoint_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """The checkpoint's values of :data:`RESUMED_OPTIONS`, or ``None`` when it cannot be read (``train`` says why)."""
    from tangpoet import limits
    from tangpoet.errors import TangpoetError
    from tangpoet.training.checkpoint import members

    try:  # untrusted: read only within the checkpoint's bounds (else read_checkpoint says what is wrong)
        with zipfile.ZipFile(path) as archive:
            members(archive, path)
            state = json.loads(archive.read("state.json"))
            with archive.open("model.keras") as member, zipfile.ZipFile(member) as model:
                if model.getinfo("config.json").file_size > limits.MAX_CONFIG_BYTES:
                    return None
                config = json.loads(model.read("config.json"))["config"]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, RecursionError, TangpoetError):
        return None
    if not isinstance(state, dict) or not isinstance(config, dict):
        return None
    architecture = [name for name in RESUMED_OPTIONS if name not in _FROM_STATE]
    settings = {name: config.get(name, _DEFAULTS.get(name)) for name in architecture}
    settings.update({name: state.get(name, _STATE_DEFAULTS.get(name)) for name in _FROM_STATE})
    return settings


def same_value(given: Any, saved: Any) -> bool:
    """Whether an option's typed value equals the saved one (floats compared with a tolerance)."""
    if isinstance(given, float) or isinstance(saved, float):
        try:
            return math.isclose(float(given), float(saved), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return given == saved


def show_option(name: str, value: Any) -> str:
    """``--units 8``, ``--tie-embeddings`` / ``no --tie-embeddings``: how the option ``name`` with ``value`` is typed."""
    option = RESUMED_OPTIONS[name]
    if isinstance(value, bool):
        return option if value else f"no {option}"
    if value is None:  # --steps-per-epoch not given: an epoch is one pass
        return f"no {option}"
    return f"{option} {value}"


def check_resume_options(checkpoint: str | os.PathLike, given: dict[str, Any]) -> None:
    """Raise one line naming every option in ``given`` (typed by the user) that differs from ``checkpoint``."""
    saved = checkpoint_settings(checkpoint)
    if saved is None:
        return
    differing = [
        f"{show_option(name, value)} (the checkpoint has {show_option(name, saved[name])})"
        for name, value in given.items()
        if name in RESUMED_OPTIONS
        and (saved.get(name) is not None or name == "steps_per_epoch")
        and not same_value(value, saved.get(name))
    ]
    if differing:
        raise TangpoetError(
            f"--resume continues the run in {checkpoint}, but "
            + ", ".join(differing)
            + ": leave these options out to continue, or pass --force without --resume to start over"
        )
