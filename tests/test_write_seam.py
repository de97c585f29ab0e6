"""The public seams the server writes through (issue 23): ``write(stepper=…)`` instead of a step decoder planted in a
private attribute, ``StepDecoder.run_rollout`` instead of a ``getattr`` probe, and cancellation that reaches the
planner (:mod:`tangpoet.decoding.cancellation`)."""

from __future__ import annotations

import pytest
from _writing_helpers import tiny_model

from tangpoet.decoding.cancellation import Cancelled, cancellable, checkpoint
from tangpoet.decoding.stepper import StepDecoder
from tangpoet.writing import write


class Recording(StepDecoder):
    """A step decoder that records which of its methods the decoders call."""

    def __init__(self, model):
        super().__init__(model)
        self.calls: list[str] = []

    def prime(self, prefix_ids, batch=1):
        self.calls.append("prime")
        return super().prime(prefix_ids, batch)

    def step(self, tokens, state):
        self.calls.append("step")
        return super().step(tokens, state)

    def run_rollout(self, rollout):
        self.calls.append("run_rollout")
        super().run_rollout(rollout)


@pytest.mark.parametrize("decoder, options", [("top-p", {}), ("greedy", {}), ("beam", {"beam_width": 3})])
def test_write_steps_through_the_step_decoder_it_is_given(decoder, options):
    model = tiny_model("lstm", 1, 8, 4)
    own = StepDecoder.of(model)
    recording = Recording(model)
    alone = write(model, decoder=decoder, form="五绝", seed=5, **options)
    given = write(model, decoder=decoder, form="五绝", seed=5, stepper=recording, **options)
    assert [p.text for p in given] == [p.text for p in alone]
    if decoder == "beam":  # a search keeps its own loop: prime, then steps
        assert recording.calls[0] == "prime" and "run_rollout" not in recording.calls
    else:  # a decoder that only chooses hands its loop over: the server's engine drives it
        assert recording.calls[0] == "run_rollout" and "prime" in recording.calls
    assert recording.calls.count("step") >= 20
    assert StepDecoder.of(model) is own  # nothing planted in the model


def test_a_scope_stops_the_planner_between_its_steps():
    """A check that raises (a client left) stops write() inside the planner, after the step it was raised in."""
    from tangpoet.decoding.constraints import CONSTRAINTS, Constraint

    restricted = []

    class Slow(Constraint):
        name = "count-plan"

        def variants(self, ctx):
            return list(range(100))

        def restrict(self, ctx, variant):
            restricted.append(variant)

        def feasible(self, ctx, variant):
            return "never"

    class Left(Cancelled):
        pass

    calls = []

    def check():
        calls.append(1)
        if len(restricted) >= 3:
            raise Left()

    CONSTRAINTS.register("count-plan")(Slow)
    try:
        with pytest.raises(Left), cancellable(check):
            write(tiny_model("lstm", 1, 8, 4), form="五绝", constraints=["count-plan"], seed=1)
        assert len(restricted) == 3  # stopped at the next step, not after the planner's 100 combinations
        restricted.clear()
        with pytest.raises(Exception, match="no plan|never"):  # outside a scope: the planner runs to its own end
            write(tiny_model("lstm", 1, 8, 4), form="五绝", constraints=["count-plan"], seed=1)
        assert len(restricted) > 3
    finally:
        CONSTRAINTS.unregister("count-plan")


def test_checkpoint_outside_a_scope_does_nothing_and_scopes_nest():
    checkpoint()
    seen = []
    with cancellable(lambda: seen.append("outer")):
        with cancellable(lambda: seen.append("inner")):
            checkpoint()
        checkpoint()
    checkpoint()
    assert seen == ["inner", "outer"]
    assert issubclass(Cancelled, BaseException) and not issubclass(Cancelled, Exception)  # no `except Exception` eats it
