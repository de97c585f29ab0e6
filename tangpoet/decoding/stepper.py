"""StepDecoder: the prompt once through the whole-sequence layers, then one character at a time.

The recurrent state is explicit data — a list with one tuple of ``[batch, units]`` arrays per layer — never Keras
``stateful=True`` variables. Rows of a batch are independent samples or beams; :meth:`StepDecoder.reorder` gathers
rows (beam search), and nothing leaks from one call to the next.

One step (embedding → each layer's ``.cell`` → Dense head → log-softmax) lives in :class:`_OneStep`, a tiny Keras
model. It runs through the backend's compiled step (``tangpoet/kernels/compiled_step.py``: ``jax.jit``,
``tf.function``, ``torch.inference_mode``) or, with the fast paths off, through ``predict_on_batch``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tangpoet.backend import ensure_backend

ensure_backend()
import keras  # noqa: E402
from keras import ops  # noqa: E402

State = list  # list[tuple[np.ndarray, ...]], one tuple per recurrent layer
# Cells whose initial state is all zeros (Keras' own): made with numpy rather than a compiled op per shape.
_ZERO_INITIAL_STATE = {
    keras.layers.SimpleRNNCell.get_initial_state,
    keras.layers.LSTMCell.get_initial_state,
    keras.layers.GRUCell.get_initial_state,
}


def _num_states(cell) -> int:
    size = cell.state_size
    return len(size) if isinstance(size, (list, tuple)) else 1


def _state_sizes(cell) -> list[int]:
    """Widths of a cell's states (``state_size`` is an int or a list of ints for Keras cells)."""
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [int(size) for size in sizes]


class _OneStep(keras.Model):
    """``[tokens [batch], packed state [batch, Σ sizes]]`` → ``[log_probs [batch, vocab], packed new state]``.

    The states of all layers travel packed side by side in one array: one host↔device transfer each way per step
    instead of one per state tensor.
    """

    def __init__(self, model, sizes: list[list[int]], **kwargs):
        super().__init__(**kwargs)
        self.poem_model = model
        self.sizes = sizes  # per layer, the width of each of its states

    def call(self, inputs):
        tokens, packed = inputs[0], inputs[1]
        model = self.poem_model
        # In float32 the sub-layers' ``call`` is used directly: Layer.__call__ only adds bookkeeping here (the layers
        # are built, inputs are tensors, no masks, no autocasting), and that bookkeeping is most of an eager step's
        # cost on torch. Under a mixed-precision policy the full __call__ (with autocasting) is kept.
        direct = model.dtype_policy.name == "float32"
        x = _invoke(model.embedding, direct, tokens)
        new_states = []
        offset = 0
        for layer, sizes in zip(model.recurrent, self.sizes):
            states = []
            for size in sizes:
                states.append(packed[:, offset : offset + size])
                offset += size
            x, states = _invoke(layer.cell, direct, x, states, training=False)
            new_states.extend(states if isinstance(states, (list, tuple)) else [states])
            # Dropout is the identity at inference time: nothing to do.
        logits = _invoke(model.head, direct, x)
        return [ops.log_softmax(ops.cast(logits, "float32"), axis=-1), ops.concatenate(new_states, axis=-1)]


def _invoke(layer, direct: bool, *args, training=None):
    """``layer(*args)``, through ``layer.call`` when ``direct``; ``training`` only if the layer's call takes it."""
    kwargs = {}
    if training is not None and getattr(layer, "_call_has_training_arg", True):
        kwargs["training"] = training
    return layer.call(*args, **kwargs) if direct else layer(*args, **kwargs)


class _Prefill(keras.Model):
    """``[tokens [batch, time], mask [batch, time]]`` → flat final states, through the whole-sequence layers.

    Prefixes are right-padded to a multiple of :data:`PREFILL_BUCKET` and masked: a masked step keeps the state, so
    the result is exact, and a compiling backend traces one function per bucket rather than per prefix length.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.poem_model = model

    def call(self, inputs):
        tokens, mask = inputs[0], ops.cast(inputs[1], "bool")
        x = self.poem_model.embedding(tokens)
        flat = []
        for layer in self.poem_model.recurrent:
            outputs = layer(x, mask=mask, training=False)
            x = outputs[0]
            flat.extend(outputs[1:])
        return flat


PREFILL_BUCKET = 16
#: Prefixes of at most this many tokens are stepped one token at a time instead of prefilled: the step function is
#: compiled anyway, while the first prefill of a bucket compiles another function (about a second on JAX).
STEPPED_PREFIX = 8


class StepDecoder:
    """Advance a :class:`~tangpoet.model.poem_model.PoemModel` one character at a time for a whole batch.

    * :meth:`start` runs a prefix once through the whole-sequence recurrent layers and returns the state;
    * :meth:`step` feeds one token per row and returns ``(log_probs [batch, vocab], new state)``;
    * :meth:`reorder` gathers state rows (beams);
    * :meth:`run_rollout` runs a decoder's whole loop (a :class:`~tangpoet.decoding.base.Rollout`).

    ``start(prefix[:-1])`` followed by ``step(prefix[-1])`` gives the same next-token log-probabilities as running
    the full model over ``prefix`` (:meth:`prime` does both).
    """

    #: tokens every prefix is preceded by (:meth:`titled`: a title-aware model's ``<eos> title``); empty by default
    context: np.ndarray = np.zeros(0, dtype=np.int32)

    def __init__(self, model):
        self.model = model
        self.vocab = model.vocab
        self.vocab_size = len(model.vocab)
        self.state_counts = [_num_states(layer.cell) for layer in model.recurrent]
        self._sizes = [_state_sizes(layer.cell) for layer in model.recurrent]
        self._flat_sizes = [size for sizes in self._sizes for size in sizes]
        self._one_step = _OneStep(model, self._sizes, name="one_step")
        self._prefill = _Prefill(model, name="prefill")
        self._compiled = None  # (fast paths enabled?, step function)
        self._one_step.built = True  # it owns no variables: the PoemModel's are built already

    @classmethod
    def of(cls, model) -> StepDecoder:
        """The step decoder of ``model``, kept while the model lives (its compiled functions are reused)."""
        stepper = model.__dict__.get(_CACHE_ATTRIBUTE)
        if not isinstance(stepper, cls):
            stepper = cls(model)
            # object.__setattr__: not a tracked Keras attribute (nothing is saved with the model), and no cycle
            # through a global cache keeps the model alive after its last user lets go.
            object.__setattr__(model, _CACHE_ATTRIBUTE, stepper)
        return stepper

    def titled(self, context: Sequence[int]) -> StepDecoder:
        """This step decoder with ``context`` (e.g. ``<eos> title``: :func:`tangpoet.data.titles.title_prefix`)
        prefilled before every prefix it starts from, so every decoder, constraint and scorer writes and scores the
        poem given the title without knowing it. A copy sharing the compiled functions; ``self`` is unchanged."""
        import copy

        self._step_function()  # compiled once, shared by the copy
        titled = copy.copy(self)
        titled.context = np.asarray(context, dtype=np.int32).reshape(-1)
        return titled

    # -- state ------------------------------------------------------------------------------------------------
    def initial_state(self, batch: int) -> State:
        """The states ``batch`` rows start from: the cell's ``get_initial_state`` if it has one, else zeros."""
        state = []
        for layer in self.model.recurrent:
            cell = layer.cell
            custom = getattr(type(cell), "get_initial_state", None)
            if custom is None or custom in _ZERO_INITIAL_STATE:  # zeros (Keras' own cells, or no method): on the host
                state.append(tuple(np.zeros((batch, size), dtype=np.float32) for size in _state_sizes(cell)))
                continue
            initial = cell.get_initial_state(batch_size=batch)
            initial = initial if isinstance(initial, (list, tuple)) else [initial]
            state.append(tuple(np.asarray(keras.ops.convert_to_numpy(s), dtype=np.float32) for s in initial))
        return state

    def start(self, prefix_ids: Sequence[int], batch: int = 1, context: Sequence[int] | None = None) -> State:
        """Run ``prefix_ids`` (one sequence, e.g. ``<bos>`` + prompt) once; the state repeated for ``batch`` rows.

        An empty prefix gives the zero state (after :attr:`context`, when there is one). ``context``: these tokens
        before the prefix instead of :attr:`context` (``()``: none; title guidance runs both streams this way).
        """
        prefix = np.asarray(prefix_ids, dtype=np.int32).reshape(1, -1)
        context = self.context if context is None else np.asarray(context, dtype=np.int32).reshape(-1)
        if context.size:
            prefix = np.concatenate([context.reshape(1, -1), prefix], axis=1)
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if prefix.shape[1] == 0:
            return self.initial_state(batch)
        length = prefix.shape[1]
        if length <= STEPPED_PREFIX:  # a few steps cost less than compiling a prefill function (start-up time)
            state = self.initial_state(1)
            for token in prefix[0]:
                _, state = self.step(np.asarray([token], dtype=np.int32), state)
            return self.reorder(state, np.zeros(batch, dtype=np.int64))  # the one row, repeated
        padded = -(-length // PREFILL_BUCKET) * PREFILL_BUCKET
        tokens = np.zeros((1, padded), dtype=np.int32)
        tokens[0, :length] = prefix[0]
        mask = np.zeros((1, padded), dtype=np.int32)
        mask[0, :length] = 1
        flat = self._prefill.predict_on_batch([tokens, mask])
        flat = flat if isinstance(flat, (list, tuple)) else [flat]
        rows = np.zeros(batch, dtype=np.int64)
        return self._unflatten([np.asarray(s, dtype=np.float32)[rows] for s in flat])

    def _unflatten(self, flat) -> State:
        state, k = [], 0
        for count in self.state_counts:
            state.append(tuple(flat[k : k + count]))
            k += count
        return state

    def step(self, tokens, state: State) -> tuple[np.ndarray, State]:
        """Feed ``tokens`` (one id per row) and return ``(log_probs [batch, vocab] float32, new state)``."""
        tokens = np.asarray(tokens, dtype=np.int32).reshape(-1)
        flat = [s for layer in state for s in layer]
        if any(s.shape[0] != tokens.shape[0] for s in flat):
            raise ValueError(f"{tokens.shape[0]} tokens for a state of {flat[0].shape[0]} rows")
        packed = flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)
        log_probs, packed = self._step_function()(tokens, packed)
        packed = np.asarray(packed, dtype=np.float32)
        new_flat = np.split(packed, np.cumsum(self._flat_sizes)[:-1], axis=1)
        return np.asarray(log_probs, dtype=np.float32), self._unflatten(new_flat)

    def _step_function(self):
        """The backend's compiled step (tangpoet/kernels/compiled_step.py), or the generic ``predict_on_batch``."""
        from tangpoet.kernels import fast_paths_enabled

        enabled = fast_paths_enabled()
        if self._compiled is None or self._compiled[0] != enabled:
            from tangpoet.kernels.compiled_step import compiled_step

            fast = compiled_step(self._one_step) if enabled else None
            self._compiled = (enabled, fast or self._generic_step)
        return self._compiled[1]

    def _generic_step(self, tokens, packed):
        log_probs, packed = self._one_step.predict_on_batch([tokens, packed])
        return np.asarray(log_probs), np.asarray(packed)

    def prime(self, prefix_ids: Sequence[int], batch: int = 1) -> tuple[np.ndarray, State]:
        """``start(prefix[:-1])`` then ``step(prefix[-1])``: the log-probs of the token after ``prefix``, and the state."""
        prefix = np.asarray(prefix_ids, dtype=np.int32).reshape(-1)
        if prefix.size == 0:
            raise ValueError("prime needs at least one token (usually <bos>)")
        state = self.start(prefix[:-1], batch)
        return self.step(np.full(batch, prefix[-1], dtype=np.int32), state)

    def run_rollout(self, rollout) -> None:
        """Step ``rollout`` (a decoder's loop: :class:`~tangpoet.decoding.base.Rollout`) to its end, alone. A step
        decoder that batches many requests (the server's :class:`~tangpoet.serve.engine.ProxyStepper`) overrides
        this and drives every request's rollout in one batch."""
        rollout.run(self)

    @staticmethod
    def reorder(state: State, indices) -> State:
        """The state with rows gathered by ``indices`` (row ``i`` of the result is row ``indices[i]``)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        return [tuple(s[indices] for s in layer) for layer in state]


_CACHE_ATTRIBUTE = "_tangpoet_step_decoder"
