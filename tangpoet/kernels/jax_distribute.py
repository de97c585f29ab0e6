"""JAX: data-parallel training through Keras' own ``keras.distribution.DataParallel``.

Every local accelerator (every CPU device when there is none) holds a full replica of the weights; each global batch
is split along its rows over the devices of a 1-D mesh, and Keras' jitted train step computes the loss on the whole
(sharded) batch, so XLA inserts the all-reduces. Nothing here changes the arithmetic: the masked loss is already a
mean over the real characters of the whole global batch.

Several hosts: when ``JAX_COORDINATOR_ADDRESS`` (with ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``) or Keras' own
``KERAS_DISTRIBUTION_JOB_ADDRESSES`` / ``_NUM_PROCESSES`` / ``_PROCESS_ID`` are set, :func:`initialize_from_env` calls
``keras.distribution.initialize`` (which calls ``jax.distributed.initialize``) before any device is touched;
``TANGPOET_JAX_DISTRIBUTED=auto`` calls ``jax.distributed.initialize()`` with no arguments instead (its cluster
auto-detection: SLURM, Open MPI, Kubernetes, Cloud TPU). Each process then builds the same global batch (the plan is
a function of the seed and the epoch only) and hands Keras only its own rows.
"""

from __future__ import annotations

import os

_initialized = False


def initialize_from_env() -> int:
    """Join the multi-host cluster described by the environment, once; return the number of processes."""
    global _initialized
    import jax

    if _initialized:
        return jax.process_count()
    keras_vars = os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    coordinator = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if keras_vars or coordinator:
        import keras

        def number(name, fallback):
            value = os.environ.get(name, os.environ.get(fallback))
            return int(value) if value not in (None, "") else None

        keras.distribution.initialize(
            job_addresses=keras_vars or coordinator,
            num_processes=number("KERAS_DISTRIBUTION_NUM_PROCESSES", "JAX_NUM_PROCESSES"),
            process_id=number("KERAS_DISTRIBUTION_PROCESS_ID", "JAX_PROCESS_ID"),
        )
    elif os.environ.get("TANGPOET_JAX_DISTRIBUTED", "").strip().lower() == "auto":
        jax.distributed.initialize()
    _initialized = True
    return jax.process_count()


class Plan:
    """Data parallel over every device JAX sees (all hosts): the distribution and how to cut batches for it."""

    engine = "keras.distribution.DataParallel"

    def __init__(self):
        import jax
        import keras

        self.processes = initialize_from_env()
        self.process_id = jax.process_index()
        devices = keras.distribution.list_devices()
        # several processes: each hands Keras only its own rows of the global batch (auto-sharding wants tf.data)
        self.distribution = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=self.processes == 1)
        self.devices = devices

    @property
    def replicas(self) -> int:
        return len(self.devices)

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0

    def scope(self):
        return self.distribution.scope()

    def view(self, batches):
        """What this process feeds Keras: the global batches on one host, its own rows of each on several."""
        return batches if self.processes == 1 else _LocalRows(batches, self.processes, self.process_id)


    def global_scorer(self, scorer):
        """On several hosts each scores only its rows: add the hosts' sums up, so every host gets the same NLL (and
        so the same best epoch and early stopping)."""
        if self.processes == 1 or scorer is None:
            return scorer

        def score(batches):
            import math

            import numpy as np
            from jax.experimental import multihost_utils

            from tangpoet.evaluate import Evaluation

            mine = scorer(batches)
            local = np.array([mine.nll * mine.characters, mine.characters, mine.poems, mine.unknown], np.float32)
            total, characters, poems, unknown = np.asarray(multihost_utils.process_allgather(local)).sum(axis=0)
            nll = float(total) / max(float(characters), 1.0)
            return Evaluation(nll, nll / math.log(2), math.exp(nll), int(characters), int(poems), int(unknown))

        return score


class _LocalRows:
    """Rows ``[id * n, (id + 1) * n)`` of every global batch (``n`` = rows / processes): one process's share."""

    def __init__(self, batches, processes: int, process_id: int):
        self.batches, self.processes, self.process_id = batches, processes, process_id

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        share = []
        for array in self.batches[index]:
            rows = len(array) // self.processes
            share.append(array[self.process_id * rows : (self.process_id + 1) * rows])
        return tuple(share)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
