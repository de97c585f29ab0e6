"""Writing poems: step decoder → decoder (+ constraints) → ranked candidates.

* :mod:`~tangpoet.decoding.stepper` — :class:`StepDecoder` (explicit recurrent state, one step per character);
* :mod:`~tangpoet.decoding.constraints`, :mod:`~tangpoet.decoding.forms` — log-prob masks: forms, acrostic, begin,
  no-repeat;
* :mod:`~tangpoet.decoding.base` — the :class:`Decoder` contract; built-ins ``greedy``, ``sample``, ``top-k``,
  ``top-p``, ``beam``, looked up by name in :data:`DECODERS`.

Importing this package is cheap: decoder modules load when first asked for, and Keras only with the stepper.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tangpoet.registry import Registry

DECODERS: Registry = Registry("decoder")


def _lazy(module: str, attribute: str):
    return lambda: getattr(import_module(f"tangpoet.decoding.{module}"), attribute)


DECODERS.add("greedy", _lazy("greedy", "GreedyDecoder"))
DECODERS.add("sample", _lazy("sampling", "SampleDecoder"))
DECODERS.add("top-k", _lazy("sampling", "TopKDecoder"))
DECODERS.add("top-p", _lazy("sampling", "TopPDecoder"))
DECODERS.add("beam", _lazy("beam", "BeamDecoder"))


def get_decoder(name: str, **options: Any):
    """A decoder instance: the class registered as ``name`` built with ``options`` (``None`` values are dropped)."""
    cls = DECODERS.get(name)
    return cls(**{key: value for key, value in options.items() if value is not None})
