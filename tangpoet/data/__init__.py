"""The data: poems read from files (:mod:`~tangpoet.data.corpus`, :mod:`~tangpoet.data.script` for 繁/简), the
character vocabulary (:mod:`~tangpoet.data.vocab`), the held-out split (:mod:`~tangpoet.data.split`) and length-bucketed
batches (:mod:`~tangpoet.data.batching`); titles cleaned into subjects and the title-aware sequence format
(:mod:`~tangpoet.data.titles`).

No Keras here: everything in this folder is plain Python and NumPy.
"""
