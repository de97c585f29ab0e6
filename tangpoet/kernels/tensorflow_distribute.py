"""TensorFlow: data-parallel training through ``tf.distribute``, which Keras 3's TensorFlow trainer drives itself.

``tf.distribute.MirroredStrategy`` over every local GPU (every logical CPU device when there is none). The model and
its optimizer are built inside ``strategy.scope()``; ``Model.fit`` then splits each global batch over the replicas
(the variable-length ``tf.data`` input of :mod:`tangpoet.kernels.tensorflow_input`, rebatched by ``tf.distribute``).

Several hosts are refused: with ``TF_CONFIG`` naming two local workers, ``MultiWorkerMirroredStrategy`` + Keras 3.15's
``fit`` fails in ``_maybe_symbolic_build`` (it cannot reduce the ``PerReplica`` first batch), and with that step
skipped, in the metrics' reduction — keras-team/keras#20585, open upstream. JAX is the multi-host path.

The loss: Keras computes it per replica and sums the replicas' gradients. A loss that is already one number per
batch, like tangpoet's masked mean, is not rescaled by Keras (only per-sample losses are divided by the number of
replicas), so per-replica means would add up to about ``replicas ×`` the gradient, and the average of per-replica
means is not the mean over the global batch's real characters anyway when the replicas hold different numbers of
them. :func:`replica_mean` divides each replica's summed NLL by the *global* character count instead (one
``all_reduce`` of a scalar): the summed gradients are then exactly the single-device ones, and the loss Keras reports
(the mean over replicas of ``replicas ×`` each replica's value) is the global batch's loss.
"""

from __future__ import annotations

import json
import os


def _cluster_tasks() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except ValueError:
        from tangpoet.errors import DistributionError

        raise DistributionError("TF_CONFIG is not valid JSON") from None
    return sum(len(tasks) for tasks in cluster.values() if isinstance(tasks, list))


class Plan:
    def __init__(self):
        import tensorflow as tf

        tasks = _cluster_tasks()
        if tasks > 1:
            from tangpoet.errors import DistributionError

            raise DistributionError(
                f"--data-parallel across hosts (TF_CONFIG names {tasks} tasks) does not work on tensorflow: Keras 3's "
                "TensorFlow trainer cannot fit under MultiWorkerMirroredStrategy (keras-team/keras#20585); "
                "use the jax backend for several hosts, or unset TF_CONFIG to train on this host's devices"
            )
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        self.strategy = tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
        self.engine = "tf.distribute.MirroredStrategy"
        self.is_chief = True
        self.processes = 1
        self.devices = [_short(d) for d in self.strategy.extended.worker_devices]

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    def scope(self):
        return self.strategy.scope()

    def view(self, batches):
        return batches  # tf.distribute splits each global batch itself


def _short(name: str) -> str:
    """``/job:localhost/replica:0/task:0/device:CPU:1`` → ``cpu:1``."""
    return name.split("/")[-1].replace("device:", "").lower()


def replica_mean(total, count):
    """Inside a replica of a ``tf.distribute`` step: this replica's summed NLL over the character count of the whole
    global batch (the replicas' values add up to the global mean). Anywhere else: ``total / count``."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return total / tf.maximum(count, 1.0)
    global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(count))
    return total / tf.maximum(global_count, 1.0)
