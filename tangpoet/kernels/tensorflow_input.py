"""TensorFlow: feed variable-length batches to ``Model.fit`` as a ``tf.data.Dataset``.

Keras' generic ``PyDataset`` adapter infers a fixed ``tf.TensorSpec`` from the first two batches; length-bucketed
batches then fail as soon as a batch of another length arrives. Declaring ``(None, None)`` avoids that. The batches
are the same :class:`~tangpoet.data.batching.Batches` the other backends get, in the same order.

tf.data's autotuning is off for this dataset: it has nothing to tune (a generator and a fixed prefetch of 2), and its
background model thread made every ``fit`` wait when it ended. Deleting the iterator waits for that thread's next
wake-up (``UnboundedThreadPool::LogicalThreadWrapper`` in ``RootDataset::Iterator``'s destructor, seen with ``py-spy
dump --native``), which after a few seconds of training comes every ~5 s: ``fit`` returned 0–5 s after its last
batch, and tangpoet calls ``fit`` once per epoch (measured, 20 batches: ``fit`` returned 4–5 s after
``on_train_end`` in 5 of 7 calls; with autotuning off, 0.00–0.01 s in all).
"""

from __future__ import annotations

from tangpoet.data.batching import Batches


def as_dataset(batches: Batches):
    import tensorflow as tf

    spec = tf.TensorSpec((None, None), tf.int32)
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(spec, spec))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
