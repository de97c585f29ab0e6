"""PyTorch: the per-token cross-entropy of the masked training loss through ``torch.nn.functional.cross_entropy``.

Keras' ``sparse_categorical_crossentropy`` on torch builds a float one-hot ``[tokens, vocab]`` tensor and multiplies
it with the log-softmax (and again in the backward pass): with a 7,000-character vocabulary that is several passes
over a ~100 MB tensor per step, eagerly. torch's fused kernel gathers the target's log-probability instead. Same
values (tested equal to the generic path, losses and weights after training steps).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_nll(targets, logits):
    """``-log softmax(logits)[target]`` per row of ``logits [tokens, vocab]``, or ``None`` (not torch tensors)."""
    if not (isinstance(logits, torch.Tensor) and isinstance(targets, torch.Tensor)):
        return None
    return F.cross_entropy(logits, targets.long(), reduction="none")
