"""Writing poems: step decoder → decoder (+ constraints) → ranked candidates.

* :mod:`~tangpoet.decoding.stepper` — :class:`StepDecoder` (explicit recurrent state, one step per character);
* :mod:`~tangpoet.decoding.constraints`, :mod:`~tangpoet.decoding.forms` — log-prob masks: forms, acrostic, begin,
  no-repeat;
* :mod:`~tangpoet.decoding.base` — the :class:`Decoder` contract; built-ins ``greedy``, ``sample``, ``top-k``,
  ``top-p``, ``beam``, looked up by name in :data:`DECODERS`.

Importing this package is cheap: decoder modules load when first asked for, and Keras only with the stepper.
"""

from __future__ import annotations

from typing import Any

from tangpoet.registry import DECODERS

# The one decoder registry (tangpoet.registry.kinds): built-ins from entry points (group ``tangpoet.decoders``, the path
# plugins take too), or the fallback table in a source tree without installed metadata; each loads when first asked.
__all__ = ["DECODERS", "get_decoder"]


def get_decoder(name: str, **options: Any):
    """A decoder instance: the class registered as ``name`` built with ``options`` (``None`` values are dropped)."""
    cls = DECODERS.get(name)
    return cls(**{key: value for key, value in options.items() if value is not None})
