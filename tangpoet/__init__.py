"""tangpoet: learn Tang poetry character by character and write new poems (Keras 3).

Importing the package does no work and does not import Keras: the backend is chosen first
(see :mod:`tangpoet.backend`) by whichever module needs Keras.

The data path, folder by folder: :mod:`tangpoet.data` (corpus → vocabulary → batches) → :mod:`tangpoet.model`
(PoemModel, cells, the model file) → :mod:`tangpoet.training` (fit, fine-tuning) → :mod:`tangpoet.decoding`
(step decoder, decoders, constraints, scoring, planning) → :mod:`tangpoet.writing` / :mod:`tangpoet.checking`
(the front doors the CLI :mod:`tangpoet.cli` and the server :mod:`tangpoet.serve` call). Plugins of every kind are
found through :mod:`tangpoet.registry`.
"""

__version__ = "0.1.0"

from tangpoet import compat as _compat  # noqa: E402  (old import paths: tangpoet.vocab, tangpoet.cells, ...)

_compat.install()
