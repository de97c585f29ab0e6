"""Best-of-N (`write --candidates N`) and scorers as plugins: the built-ins' definitions, the ranking, one-line errors,
and a scorer registered at run time or through an entry point that is listed and used."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _dist_helpers import make_dist
from _writing_helpers import check_poem, tiny_model
from click.testing import CliRunner

from tangpoet.registry import SCORERS, available_names, plugin_table
from tangpoet.cli import main
from tangpoet.decoding.scoring import ScoringContext, get_scorer
from tangpoet.decoding.scoring.anchors import anchor_tokens, shape_of
from tangpoet.decoding.scoring.base import full_sequence
from tangpoet.decoding.scoring.coherence import CoherenceScorer, token_spans
from tangpoet.decoding.scoring.logprobs import token_log_probs
from tangpoet.decoding.stepper import StepDecoder
from tangpoet.errors import DecoderOptionError, TangpoetError, UnknownNameError
from tangpoet.model.poem_model import save_model
from tangpoet.registry.base import PluginError
from tangpoet.data.vocab import BOS_ID
from tangpoet.writing import write


@pytest.fixture(scope="module")
def model():
    return tiny_model("lstm", 1, 8, 2)


@pytest.fixture(scope="module")
def context(model):
    return ScoringContext(StepDecoder.of(model))


def test_teacher_forced_log_probs_equal_the_whole_model_over_the_sequence(model):
    from keras import ops

    ids = [model.vocab.encode(t) for t in ("床前明月光，", "春眠不觉晓，处处闻啼鸟。")]
    got = token_log_probs(StepDecoder.of(model), ids)
    for sequence, values in zip(ids, got):
        tokens = np.concatenate([[BOS_ID], sequence])[None, :]
        full = ops.convert_to_numpy(ops.log_softmax(model(tokens, training=False), axis=-1))[0]
        want = full[np.arange(len(sequence)), sequence]
        np.testing.assert_allclose(values, want, atol=2e-4)


def test_likelihood_is_the_mean_log_prob_of_what_the_decoder_wrote(model, context):
    poems = write(model, form="五绝", decoder="top-p", num=3, seed=5)
    values = get_scorer("likelihood").score(poems, context)
    for poem, value in zip(poems, values):
        assert value == pytest.approx(poem.log_prob / len(full_sequence(poem)), abs=1e-4)


def test_coherence_is_zero_against_the_poems_own_lines_and_matches_its_definition(model, context):
    poems = write(model, form="五绝", decoder="sample", num=2, seed=3)
    own = CoherenceScorer(anchors=lambda shape, ctx: [poems[0].tokens])
    assert own.score(poems[:1], context) == [pytest.approx(0.0, abs=1e-6)]
    # against the other poem's lines (the same shape): the definition, term by term
    value = CoherenceScorer(anchors=lambda shape, ctx: [poems[1].tokens]).score(poems[:1], context)[0]
    tokens = poems[0].tokens
    gain = count = 0.0
    for start, end in token_spans(tokens, model.vocab)[1:]:
        [mine] = token_log_probs(context.stepper, [tokens[:end]])
        [theirs] = token_log_probs(context.stepper, [poems[1].tokens[:start] + tokens[start:end]])
        gain += mine[start:end].sum() - theirs[start:end].sum()
        count += end - start
    assert value == pytest.approx(gain / count, abs=1e-4)


def test_anchors_have_the_shape_and_are_the_same_every_time(model):
    stepper = StepDecoder.of(model)
    shape = shape_of("床前明月光，疑是地上霜。举头望明月，低头思故乡。")
    assert shape == "5，5。5，5。"
    first = anchor_tokens(stepper, shape)
    text = model.vocab.decode(first)
    assert shape_of(text) == shape and "□" not in text
    assert anchor_tokens(StepDecoder(model), shape) == first  # not only cached: drawn the same way again
    assert anchor_tokens(stepper, shape, 1) != first


def test_anchors_written_to_a_title_are_cached_per_title_and_bounded(model, monkeypatch):
    """Best-of-N to a title samples each anchor once per title, not once per candidate (a 5x slower best-of-8 before),
    the cached anchor is the one drawn afresh, and only the most recent titles are kept."""
    from tangpoet.decoding.scoring import anchors

    drawn = []
    sample = anchors._sample
    monkeypatch.setattr(anchors, "_sample", lambda *args: drawn.append(args[1:]) or sample(*args))
    monkeypatch.setattr(anchors, "TITLED_CACHE", 2)
    shape = "5，5。5，5。"
    first, second, third = (StepDecoder.of(model).titled([2, 4 + k, 5 + k]) for k in range(3))
    anchor = anchor_tokens(first, shape)
    assert [anchor_tokens(first, shape) for _ in range(3)] == [anchor] * 3 and len(drawn) == 1
    assert anchor == sample(StepDecoder(model).titled([2, 4, 5]), shape, 0)  # what a fresh draw gives
    assert anchor_tokens(first, shape, 1) != anchor and len(drawn) == 2  # another index: another anchor
    anchor_tokens(second, shape), anchor_tokens(third, shape)  # two more titles: the first one's anchors dropped
    assert len(drawn) == 4
    assert anchor_tokens(first, shape) == anchor and len(drawn) == 5
    assert anchor_tokens(StepDecoder.of(model), shape) == anchor_tokens(StepDecoder.of(model), shape)  # untitled


@pytest.mark.parametrize("scorer", ["likelihood", "coherence"])
def test_the_k_best_of_n_are_the_top_k_of_the_n_candidates(model, context, scorer):
    everything = write(model, form="五绝", decoder="top-p", num=8, seed=9)  # the same 8 rows as --candidates 8
    values = get_scorer(scorer).score(everything, context)
    best = write(model, form="五绝", decoder="top-p", num=3, candidates=8, scorer=scorer, seed=9)
    order = np.argsort(-np.asarray(values), kind="stable")[:3]
    assert [p.text for p in best] == [everything[i].text for i in order]
    assert [p.score for p in best] == pytest.approx([values[i] for i in order], abs=1e-5)
    for poem in best:
        check_poem(poem.text, form="五绝")


def test_candidates_with_beam_and_with_constraints_keep_every_constraint(model):
    poems = write(model, form="七绝", acrostic="春夏秋冬", decoder="beam", beam_width=4, num=2, candidates=4, seed=1)
    assert len(poems) == 2 and poems[0].score >= poems[1].score
    for poem in poems:
        check_poem(poem.text, form="七绝", acrostic="春夏秋冬")


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"num": 3, "candidates": 2}, DecoderOptionError, "at least as many candidates"),
        ({"candidates": 0}, DecoderOptionError, "number of candidates"),
        ({"candidates": 10_000}, DecoderOptionError, "number of candidates"),
        ({"candidates": 2, "scorer": "coherense"}, UnknownNameError, "did you mean 'coherence'"),
        ({"candidates": 5, "decoder": "beam", "beam_width": 3}, DecoderOptionError, "beam"),
    ],
)
def test_bad_requests_are_one_line_before_any_work(kwargs, error, words):
    with pytest.raises(error, match=words) as caught:
        write("/nonexistent/model.keras", form="五绝", **kwargs)  # refused before the model file is even read
    assert "\n" not in str(caught.value)


class _Shortest:
    """A scorer plugin: shorter poems first (each one's score: minus its length)."""

    name = "shortest"

    def score(self, candidates, context):
        return [-float(len(c.text)) for c in candidates]


def test_a_scorer_registered_at_run_time_is_listed_and_used(model):
    SCORERS.add("shortest", lambda: _Shortest)
    try:
        assert "shortest" in available_names("scorer")
        rows = {(r.kind, r.name): r for r in plugin_table()}
        assert rows[("scorer", "shortest")].status == "ok" and not rows[("scorer", "shortest")].builtin
        everything = write(model, decoder="top-p", num=6, seed=4, max_len=40)
        [best] = write(model, decoder="top-p", num=1, candidates=6, scorer="shortest", seed=4, max_len=40)
        assert len(best.text) == min(len(p.text) for p in everything) and best.score == -len(best.text)
    finally:
        SCORERS.unregister("shortest")


def test_a_scorer_plugin_through_an_entry_point_is_listed_and_used(tmp_path, monkeypatch, model):
    make_dist(
        tmp_path,
        "tangpoet-fake-scorer",
        {"longest": "tp_fake_scorer:Longest", "broken": "tp_fake_scorer:Missing"},
        {"tp_fake_scorer": "class Longest:\n    def score(self, candidates, context):\n"
                           "        return [float(len(c.text)) for c in candidates]\n"},
        group="tangpoet.scorers",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TANGPOET_DISABLE_PLUGINS", raising=False)
    SCORERS.refresh()
    try:
        listed = CliRunner().invoke(main, ["plugins", "--json"])
        assert listed.exit_code == 0, listed.output
        rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)}
        assert rows[("scorer", "longest")]["distribution"] == "tangpoet-fake-scorer"
        assert rows[("scorer", "longest")]["status"] == "ok"
        assert rows[("scorer", "broken")]["status"].startswith("broken")
        assert rows[("scorer", "likelihood")]["builtin"] and rows[("scorer", "coherence")]["builtin"]
        everything = write(model, decoder="top-p", num=6, seed=4, max_len=40)
        [best] = write(model, decoder="top-p", num=1, candidates=6, scorer="longest", seed=4, max_len=40)
        assert len(best.text) == max(len(p.text) for p in everything)
        with pytest.raises(PluginError, match="broken"):
            write(model, num=1, candidates=2, scorer="broken")
    finally:
        SCORERS.refresh()
        sys.modules.pop("tp_fake_scorer", None)


def test_a_scorer_that_returns_the_wrong_count_is_a_clear_error(model):
    class Wrong:
        def score(self, candidates, context):
            return [0.0]

    with pytest.raises(PluginError, match="returned 1 scores for 3 candidates"):
        write(model, form="五绝", decoder="top-p", num=1, candidates=3, scorer=Wrong(), seed=0)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, model):
    return str(save_model(model, tmp_path_factory.mktemp("scorers") / "m.keras"))


def test_cli_candidates_scorer_and_one_line_errors(model_file):
    args = ["write", "--model", model_file, "--form", "五绝", "--seed", "2", "--json"]
    ok = CliRunner().invoke(main, [*args, "--num", "2", "--candidates", "6", "--scorer", "likelihood"])
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.stdout)
    assert len(rows) == 2 and rows[0]["score"] >= rows[1]["score"]
    for row in rows:
        check_poem(row["poem"], form="五绝")
    for extra, words in (
        (["--candidates", "0"], "number of candidates"),
        (["--scorer", "nope"], "unknown scorer"),
        (["--scorer", "likelihood"], "ask for candidates as well"),  # one poem, nothing to rank
    ):
        bad = CliRunner().invoke(main, [*args, *extra])
        assert bad.exit_code == 2 and words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.output


def test_scorer_errors_are_tangpoet_errors():
    assert issubclass(PluginError, TangpoetError)


def test_the_builtin_scorers_come_from_tangpoets_own_entry_points():
    from importlib import metadata

    from tangpoet.registry import BUILTIN_SCORERS

    installed = {ep.name: ep.value for ep in metadata.entry_points(group="tangpoet.scorers") if ep.dist.name == "tangpoet"}
    assert installed == BUILTIN_SCORERS
    for name in BUILTIN_SCORERS:
        assert SCORERS.entry(name).builtin and SCORERS.status(name) == "ok"
