"""The entry-point group names and the built-in plugins' targets: the bottom of the registry folder (imports
nothing), read by :mod:`tangpoet.registry.kinds` and by anyone who needs a group's name."""

from __future__ import annotations

CELL_GROUP = "tangpoet.cells"
DECODER_GROUP = "tangpoet.decoders"
CONSTRAINT_GROUP = "tangpoet.constraints"
SCORER_GROUP = "tangpoet.scorers"

# Built-in targets, used only when tangpoet's own distribution metadata is missing (a source tree without
# `pip install`); installed, the built-ins come from tangpoet's own entry points like any plugin.
BUILTIN_CELLS = {"rnn": "tangpoet.model.cells:RNN", "lstm": "tangpoet.model.cells:LSTM", "gru": "tangpoet.model.cells:GRU"}
BUILTIN_DECODERS = {
    "greedy": "tangpoet.decoding.greedy:GreedyDecoder",
    "sample": "tangpoet.decoding.sampling:SampleDecoder",
    "top-k": "tangpoet.decoding.sampling:TopKDecoder",
    "top-p": "tangpoet.decoding.sampling:TopPDecoder",
    "beam": "tangpoet.decoding.beam:BeamDecoder",
}
BUILTIN_CONSTRAINTS = {
    "form": "tangpoet.decoding.constraints.form:FormConstraint",
    "acrostic": "tangpoet.decoding.constraints.acrostic:AcrosticConstraint",
    "begin": "tangpoet.decoding.constraints.prefix:BeginConstraint",
    "no-repeat": "tangpoet.decoding.constraints.repeat:NoRepeatConstraint",
    "keywords": "tangpoet.decoding.constraints.keywords:KeywordsConstraint",
    "verse": "tangpoet.decoding.constraints.verse:VerseConstraint",
    "parallel": "tangpoet.decoding.constraints.parallel:ParallelConstraint",
}
BUILTIN_SCORERS = {
    "likelihood": "tangpoet.decoding.scoring.likelihood:LikelihoodScorer",
    "coherence": "tangpoet.decoding.scoring.coherence:CoherenceScorer",
    "parallelism": "tangpoet.decoding.scoring.parallelism:ParallelismScorer",
}
