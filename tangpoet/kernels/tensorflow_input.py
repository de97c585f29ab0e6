"""TensorFlow: feed variable-length batches to ``Model.fit`` as a ``tf.data.Dataset``.

Keras' generic ``PyDataset`` adapter infers a fixed ``tf.TensorSpec`` from the first two batches; length-bucketed
batches then fail as soon as a batch of another length arrives. Declaring ``(None, None)`` avoids that. The batches
are the same :class:`~tangpoet.batching.Batches` the other backends get, in the same order.
"""

from __future__ import annotations

from tangpoet.batching import Batches


def as_dataset(batches: Batches):
    import tensorflow as tf

    spec = tf.TensorSpec((None, None), tf.int32)
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(spec, spec))
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)
