"""PoemModel: Embedding → N recurrent layers → Dense over the vocabulary, and its one-file save/load.

One ``.keras`` file holds the architecture, the weights, the vocabulary and the metadata (cells used, corpus report,
hyper-parameters, tangpoet/keras versions, backend trained on). Keras' recurrent weights have the same layout on
every backend, so a file saved on one backend loads on the others and gives the same logits.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from tangpoet.backend import ensure_backend
from tangpoet.errors import ModelFileError
from tangpoet.model.info import read_config
from tangpoet.data.vocab import Vocabulary

ensure_backend()
import keras  # noqa: E402
from keras import ops  # noqa: E402

from tangpoet.model.cells import CELLS, KerasCell, get_cell  # noqa: E402
from tangpoet.kernels import output_fast_path, recurrent_fast_path  # noqa: E402
from tangpoet.kernels.saving import no_tensorflow_probe  # noqa: E402


_placeholder_initialisers = False


@contextlib.contextmanager
def _weights_will_be_loaded():
    """Inside: new PoemModels start from zeros instead of random weights, because the caller overwrites them at
    once. Random initialisers are not free — the orthogonal recurrent initialiser is a QR decomposition, compiled
    on JAX — and loading a model would otherwise pay seconds for weights it throws away."""
    global _placeholder_initialisers
    previous, _placeholder_initialisers = _placeholder_initialisers, True
    try:
        yield
    finally:
        _placeholder_initialisers = previous


@keras.saving.register_keras_serializable(package="tangpoet")
class TiedHead(keras.layers.Layer):
    """Output layer that shares the embedding matrix ``E`` (weight tying): ``logits = (x · P) · Eᵀ + b``.

    ``P`` projects the recurrent output (``units`` wide) to the embedding width; it is left out when the two are equal.
    Tying removes the ``units × vocab`` output matrix (most of a small model's weights, and most of its rare-character
    overfitting) and, with a projection to a narrower embedding, most of the output layer's compute as well.
    The embedding layer is referenced, not tracked, so its matrix is saved once, with the embedding.
    """

    # Read by the torch output kernel (kernels/torch_dense.py), which must not import this module: this exact class
    # computes ``(x · P) · Eᵀ + b`` from :meth:`embedding_matrix`, ``projection`` and ``bias`` (a subclass may not).
    tied_output = True

    def __init__(self, vocab_size: int, embedding_dim: int, units: int, *, placeholder: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim, self.units = int(vocab_size), int(embedding_dim), int(units)
        self.projection = None
        if self.units != self.embedding_dim:
            init = {"kernel_initializer": "zeros"} if placeholder else {}
            self.projection = keras.layers.Dense(self.embedding_dim, use_bias=False, name="projection", **init)
        self._embedding_matrix = None  # a function returning E, set by bind(); a plain callable is not tracked

    def bind(self, embedding: keras.layers.Embedding) -> None:
        self._embedding_matrix = lambda: embedding.embeddings

    def embedding_matrix(self):
        """``E`` (the bound embedding's variable), or ``None`` before :meth:`bind`."""
        return None if self._embedding_matrix is None else self._embedding_matrix()

    def build(self, input_shape):
        if self.projection is not None:
            self.projection.build(input_shape)
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, x):
        if self.projection is not None:
            x = self.projection(x)
        matrix = ops.cast(self._embedding_matrix(), x.dtype)
        return ops.matmul(x, ops.transpose(matrix)) + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.vocab_size,)


def _per_position(layer, x):
    """``layer`` applied to ``[batch, time, features]`` as one 2-D ``[batch·time, features]`` product.

    Same values; but XLA on CPU runs the 3-D form of the output projection and of its gradient much slower (a JAX
    train step of a 1 x 256 LSTM over a 7,144-character vocabulary spent ~20 % more time with it; see
    benchmarks/README.md)."""
    if keras.backend.is_keras_tensor(x) or len(x.shape) != 3:
        return layer(x)
    batch, steps = ops.shape(x)[0], ops.shape(x)[1]
    flat = ops.reshape(x, (-1, x.shape[-1]))
    fast = output_fast_path(layer, flat)  # torch: the product and the bias in one addmm (kernels/torch_dense.py)
    y = fast(layer, flat) if fast is not None else layer(flat)
    return ops.reshape(y, (batch, steps, y.shape[-1]))


@keras.saving.register_keras_serializable(package="tangpoet")
class PoemModel(keras.Model):
    """A character language model over poems.

    ``call(tokens)`` maps int token ids ``[batch, time]`` to logits ``[batch, time, vocab]``.
    :meth:`run` also takes and returns the recurrent states (a tuple of tensors per layer).
    """

    def __init__(
        self,
        vocabulary: list[str],
        cell: str = "lstm",
        num_layers: int = 2,
        units: int = 256,
        embedding_dim: int = 128,
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        tie_embeddings: bool = False,
        cell_options: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        cell_distribution: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.vocab = Vocabulary.from_config(vocabulary)
        self.cell_name = cell
        self.num_layers = int(num_layers)
        self.units = int(units)
        self.embedding_dim = int(embedding_dim)
        self.dropout_rate = float(dropout)
        self.embedding_dropout_rate = float(embedding_dropout)
        self.tie_embeddings = bool(tie_embeddings)
        self.cell_options = dict(cell_options or {})
        self.metadata = dict(metadata or {})
        if self.num_layers < 1 or self.units < 1 or self.embedding_dim < 1:
            raise ValueError("num_layers, units and embedding_dim must be positive")
        if not 0.0 <= self.dropout_rate < 1.0 or not 0.0 <= self.embedding_dropout_rate < 1.0:
            raise ValueError("dropout must be in [0, 1)")
        spec = get_cell(cell)
        # Which distribution provides the cell, so that loading can name the package to install when it is missing.
        self.cell_distribution = cell_distribution or CELLS.entry(cell).distribution
        placeholder = _placeholder_initialisers
        zeros = {"embeddings_initializer": "zeros"} if placeholder else {}
        self.embedding = keras.layers.Embedding(len(self.vocab), self.embedding_dim, name="embedding", **zeros)
        recurrent_zeros = {}
        if placeholder and isinstance(spec, KerasCell):  # a plugin cell's options are its own business
            recurrent_zeros = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
        self.recurrent = [
            spec.layer(
                self.units,
                return_sequences=True,
                return_state=True,
                name=f"{cell}_{i}",
                **{**recurrent_zeros, **self.cell_options},
            )
            for i in range(self.num_layers)
        ]
        self.dropouts = [keras.layers.Dropout(self.dropout_rate, name=f"dropout_{i}") for i in range(self.num_layers)]
        self.embedding_dropout = keras.layers.Dropout(self.embedding_dropout_rate, name="embedding_dropout")
        if self.tie_embeddings:
            self.head = TiedHead(len(self.vocab), self.embedding_dim, self.units, placeholder=placeholder, name="head")
            self.head.bind(self.embedding)
        else:
            init = {"kernel_initializer": "zeros"} if placeholder else {}
            self.head = keras.layers.Dense(len(self.vocab), name="head", **init)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def build(self, input_shape=None):
        batch = None
        self.embedding.build((batch, None))
        features = self.embedding_dim
        for layer in self.recurrent:
            layer.build((batch, None, features))
            features = self.units
        self.head.build((batch, None, features))
        self.built = True

    def run(self, tokens, states=None, training=False):
        """Logits ``[batch, time, vocab]`` and the final states (one tuple per layer)."""
        x = self.embedding(tokens)
        if self.embedding_dropout_rate:
            x = self.embedding_dropout(x, training=training)
        final_states = []
        for i, layer in enumerate(self.recurrent):
            initial = None if states is None else list(states[i])
            fast = recurrent_fast_path(layer, x)  # torch/JAX fused kernels for Keras' own LSTM/GRU (kernels/)
            if fast is not None:
                x, layer_states = fast(layer, x, initial, training=bool(training))
            else:
                outputs = layer(x, initial_state=initial, training=training)
                x, layer_states = outputs[0], tuple(outputs[1:])
            final_states.append(layer_states)
            x = self.dropouts[i](x, training=training)
        return _per_position(self.head, x), final_states

    def call(self, tokens, training=False):
        logits, _ = self.run(tokens, training=training)
        return logits

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocab.to_config(),
            cell=self.cell_name,
            num_layers=self.num_layers,
            units=self.units,
            embedding_dim=self.embedding_dim,
            dropout=self.dropout_rate,
            embedding_dropout=self.embedding_dropout_rate,
            tie_embeddings=self.tie_embeddings,
            cell_options=self.cell_options,
            metadata=self.metadata,
            cell_distribution=self.cell_distribution,
        )
        return config

    @property
    def title_aware(self) -> bool:
        """Whether the model was trained with titles (``fit --titles``; its metadata records the format)."""
        from tangpoet.data.titles import is_title_aware

        return is_title_aware(self.metadata)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "cell": self.cell_name,
            "num_layers": self.num_layers,
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout_rate,
            "embedding_dropout": self.embedding_dropout_rate,
            "tie_embeddings": self.tie_embeddings,
            "cell_options": self.cell_options,
            "vocab_size": self.vocab_size,
        }


def build_model(vocab: Vocabulary, **hyperparameters: Any) -> PoemModel:
    model = PoemModel(vocab.to_config(), **hyperparameters)
    model.build()
    return model


def atomic_path(path: Path, suffix: str = ".keras") -> Path:
    """A fresh temporary path beside ``path`` (same filesystem, so ``os.replace`` is atomic).

    ``mkstemp`` creates the file private (0600); it gets the usual umask-based mode instead, as a plain ``open``
    would give, so the file that replaces ``path`` is readable like any other.
    """
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


def _without_training_state(model: PoemModel) -> PoemModel:
    """``model`` itself, or for a compiled model an uncompiled copy with the same weights: Keras would otherwise
    store the optimizer's variables (Adam: twice the weights) in the file. Checkpoints keep them; models do not."""
    if getattr(model, "optimizer", None) is None:
        return model
    with _weights_will_be_loaded():
        copy = PoemModel.from_config(model.get_config())
        copy.build()
    copy.set_weights(model.get_weights())
    return copy


def save_model(model: PoemModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically (a crash mid-write never leaves a half-written file at ``path``), without
    optimizer state."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"model files end in .keras: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic_path(path)
    try:
        with no_tensorflow_probe():  # Keras would import TensorFlow to check its types (kernels/saving.py)
            _without_training_state(model).save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# A valid distribution name (PEP 508 / the packaging spec): only such a name is echoed into a `pip install` line,
# because a model file is untrusted input and users copy-paste that line into a shell.
_DISTRIBUTION_NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)


def require_cell(config: dict[str, Any], path: Path) -> None:
    """Load the cell plugin a model file names, or fail with the package to install."""
    name = config.get("cell", "lstm")
    if name not in CELLS:
        dist = config.get("cell_distribution")
        if dist and not dist.startswith("<") and not _DISTRIBUTION_NAME.fullmatch(dist):
            hint = "which is not installed, and the file names an invalid plugin distribution (not a package name)"
        elif dist and not dist.startswith("<"):
            hint = f"from the package {dist!r}, which is not installed: pip install {dist}"
        else:
            hint = "which is not registered: install or register the plugin that provides it"
        raise ModelFileError(f"{path} needs the cell {name!r} {hint}")
    get_cell(name)  # imports exactly that entry point; a broken plugin is reported by name


def load_model(path: str | os.PathLike, *, training_state: bool = False) -> PoemModel:
    """Load a model file written by :func:`save_model` (on any backend); ``training_state``: the model of a
    checkpoint, whose weights member holds its optimizer's variables too (bounded accordingly)."""
    path = Path(path)
    require_cell(read_config(path, training_state=training_state), path)  # clear errors before Keras sees the file
    try:
        with _weights_will_be_loaded():
            model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many kinds for damaged archives and weights
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} could not be loaded: {message}") from None
    if not isinstance(model, PoemModel):
        raise ModelFileError(f"{path} is not a tangpoet model")
    return model
