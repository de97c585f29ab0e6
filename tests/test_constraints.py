"""Constraints: forms, acrostic, begin, no-repeat, specials, and the errors raised before decoding."""

from __future__ import annotations

import numpy as np
import pytest
from _writing_helpers import check_poem, vocab

from tangpoet.decoding.constraints import (
    ConstraintChain,
    NoRepeat,
    NoRepeatNGram,
    TokenClasses,
    build_constraints,
    check_text,
)
from tangpoet.decoding.forms import FORMS, form_names, get_form
from tangpoet.errors import ConstraintError, TangpoetError, UnknownNameError, VocabularyError
from tangpoet.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary


def allowed(constraints, text: str) -> set[str]:
    """Tokens (as strings) the chain allows after ``text``."""
    v = vocab()
    history = np.asarray([[v.id(c) for c in text]], dtype=np.int64).reshape(1, -1)
    out = constraints.chain(history, np.zeros((1, len(v)), np.float32))
    return {v.tokens[i] for i in np.flatnonzero(np.isfinite(out[0]))}


def random_walk(constraints, seed: int) -> str:
    """Follow the chain with random log-probs until <eos>: what any decoder could write."""
    v, rng = vocab(), np.random.default_rng(seed)
    history = list(constraints.prompt)
    while len(history) < constraints.max_len:
        out = constraints.chain(np.asarray([history]), rng.normal(size=(1, len(v))).astype(np.float32))
        token = int(np.argmax(out[0]))
        if token == EOS_ID:
            return v.decode(history)
        history.append(token)
    out = constraints.chain(np.asarray([history]), np.zeros((1, len(v)), np.float32))
    return v.decode(history) + ("" if np.isfinite(out[0, EOS_ID]) else "<cut>")


# -- forms ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, lines, chars",
    [("五言绝句", 4, 5), ("七绝", 4, 7), ("wulv", 8, 5), ("QiLv", 8, 7), ("qi-jue", 4, 7), ("五律", 8, 5)],
)
def test_form_names_and_aliases(name, lines, chars):
    form = get_form(name)
    assert (form.lines, form.chars) == (lines, chars)
    assert form.length == lines * (chars + 1)


def test_every_form_is_reachable_by_every_alias():
    from tangpoet.decoding.forms import tune_names

    assert {get_form(n).name for n in form_names()} == {f.name for f in FORMS} | set(tune_names())  # + ci tunes
    assert get_form("七言律诗").length == 64


def test_unknown_form_suggests_the_closest():
    with pytest.raises(UnknownNameError, match=r"unknown form '七言绝诗' \(did you mean '七言绝句'\?\)"):
        get_form("七言绝诗")
    with pytest.raises(UnknownNameError, match="did you mean 'qilv'"):
        get_form("qilu")


@pytest.mark.parametrize("form", ["五绝", "七绝", "五律", "七律"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_walks_under_a_form_always_comply(form, seed):
    constraints = build_constraints(vocab(), form=form)
    text = random_walk(constraints, seed)
    check_poem(text, form=form)
    assert constraints.max_len == get_form(form).length


def test_form_masks_position_by_position():
    c = build_constraints(vocab(), form="五绝")
    assert allowed(c, "") <= set(vocab().tokens[4:]) - set("，。？！；")
    assert allowed(c, "床前明月") == allowed(c, "")  # characters only until the 5th
    assert allowed(c, "床前明月光") == {"，"}
    assert allowed(c, "床前明月光，疑是地上霜") == {"。"}
    assert allowed(c, "床前明月光，疑是地上霜。举头望明月，低头思故乡。") == {"<eos>"}


# -- acrostic, begin -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(3))
def test_acrostic_with_a_form(seed):
    c = build_constraints(vocab(), form="七言绝句", acrostic="春夏秋冬")
    text = random_walk(c, seed)
    check_poem(text, form="七言绝句", acrostic="春夏秋冬")
    assert allowed(c, "") == {"春"}


@pytest.mark.parametrize("acrostic", ["春夏秋", "春夏秋冬山月", "明"])
def test_acrostic_without_a_form_follows_the_string(acrostic):
    c = build_constraints(vocab(), acrostic=acrostic)
    for seed in range(3):
        check_poem(random_walk(c, seed), acrostic=acrostic)


def test_begin_is_forced_and_can_be_long():
    c = build_constraints(vocab(), begin="床前明月光，疑", form="五绝")
    assert list(c.prompt) == [vocab().id(ch) for ch in "床前明月光，疑"]
    assert allowed(c, "") == {"床"} and allowed(c, "床前") == {"明"}
    check_poem(random_walk(c, 0), form="五绝", begin="床前明月光，疑")


def test_begin_and_acrostic_together():
    c = build_constraints(vocab(), begin="春风", acrostic="春夏秋冬", form="五绝")
    check_poem(random_walk(c, 5), form="五绝", begin="春风", acrostic="春夏秋冬")


# -- errors before decoding -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(begin="猫"), VocabularyError, "the model does not know '猫'"),
        (dict(acrostic="春猫秋狗", form="五绝"), VocabularyError, "does not know '猫', '狗'"),
        (dict(acrostic="春夏秋冬山", form="五绝"), ConstraintError, "5 characters, longer than 五言绝句's 4 lines"),
        (dict(acrostic="春夏", form="七律"), ConstraintError, "shorter than 七言律诗's 8 lines"),
        (dict(acrostic="春，秋"), ConstraintError, "characters only"),
        (dict(begin="床前", acrostic="春夏"), ConstraintError, "'床' cannot be character 1"),
        (dict(begin="床前明月光疑", form="五绝"), ConstraintError, "'疑' cannot be character 6"),
        (dict(begin="床前明月光！", form="五绝"), ConstraintError, "'！' cannot be character 6"),
        (dict(form="七律", max_len=60), ConstraintError, "too short for the form 七言律诗 \\(64 characters\\)"),
        (dict(begin="床前明月", max_len=3), ConstraintError, "longer than the max length 3"),
        (dict(form="七律", begin="床\udcff"), ConstraintError, "begin is not valid UTF-8"),
        (dict(form="qilu"), UnknownNameError, "did you mean"),
        (dict(max_len=0), ConstraintError, "at least 1"),
    ],
)
def test_impossible_requests_fail_before_decoding(kwargs, error, message):
    with pytest.raises(error, match=message) as info:
        build_constraints(vocab(), **kwargs)
    assert isinstance(info.value, TangpoetError) and "\n" not in str(info.value)


def test_a_vocabulary_without_the_form_marks_is_refused():
    no_marks = Vocabulary.build(["春夏秋冬山水"])
    with pytest.raises(ConstraintError, match="needs '，。'"):
        build_constraints(no_marks, form="五绝")


def test_surrogates_are_refused():
    assert check_text("x", "床前") == "床前"
    with pytest.raises(ConstraintError, match="--begin is not valid UTF-8"):
        check_text("--begin", "\udcc3\udca9")


# -- specials, end rule, no-repeat ----------------------------------------------------------------------------
def test_specials_are_never_allowed_and_eos_only_after_a_full_stop():
    c = build_constraints(vocab())
    for text in ("", "床前", "床前，", "床前。"):
        assert not {"<pad>", "<unk>", "<bos>"} & allowed(c, text)
    assert "<eos>" not in allowed(c, "床前，") and "<eos>" not in allowed(c, "")
    assert "<eos>" in allowed(c, "床前。") and "<eos>" in allowed(c, "床前！")


def test_no_character_three_times_in_a_row():
    c = build_constraints(vocab())
    assert "山" not in allowed(c, "床山山") and "山" in allowed(c, "山床山")
    processor = NoRepeat()
    out = processor(np.array([[5, 7, 7], [7, 5, 7]]), np.zeros((2, 10), np.float32))
    assert np.isinf(out[0, 7]) and np.isfinite(out[1, 7])


def test_no_repeat_ngram():
    out = NoRepeatNGram(2)(np.array([[5, 6, 7, 5]]), np.zeros((1, 10), np.float32))
    assert np.flatnonzero(np.isinf(out[0])).tolist() == [6]  # "5 6" was seen: 6 may not follow 5 again
    c = build_constraints(vocab(), no_repeat_ngram=3)
    assert "光" not in allowed(c, "明月光明月") and "光" in allowed(c, "明月光明风")


def test_soft_constraints_give_way_to_hard_ones():
    v = vocab()
    only = v.id("春")
    hard = type("Only", (), {"hard": True, "__call__": lambda self, h, lp: _keep(lp, only)})()
    chain = ConstraintChain([hard, NoRepeat()])
    out = chain(np.array([[only, only]]), np.zeros((1, len(v)), np.float32))
    assert np.flatnonzero(np.isfinite(out[0])).tolist() == [only]  # no-repeat dropped: else nothing is left


def _keep(log_probs, token):
    out = np.full_like(log_probs, -np.inf)
    out[:, token] = log_probs[:, token]
    return out


def test_token_classes():
    classes = TokenClasses(vocab())
    v = vocab()
    assert classes.char[v.id("春")] and not classes.char[v.id("，")]
    assert classes.line_end[v.id("？")] and not classes.sentence_end[v.id("，")]
    for special in (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
        assert not classes.char[special] and not classes.line_end[special]
    assert classes.line_position(np.array([v.id(c) for c in "床前明月光，疑是"])) == (1, 2, 5)


# -- the constraint package's contract (what plugins build against) --------------------------------------------
def test_the_contract_names_are_importable_from_the_package():
    from tangpoet.decoding.constraints import base

    for name in ("LogitsProcessor", "Violation", "PlanContext", "Constraint", "TokenClasses", "NEG_INF", "DEFAULT_MAX_LEN"):
        assert hasattr(base, name)
    c = base.Constraint()
    assert list(c.variants(None)) == [None] and c.processors(None, None) == [] and c.check("", None) == []
    with pytest.raises(ConstraintError, match="does not take strict"):
        base.Constraint(strict=True)
    assert base.Violation("tone", 1, 3, "x").to_dict() == {"rule": "tone", "line": 1, "col": 3, "message": "x"}


def test_a_plan_copies_its_masks_and_forces_the_fixed_characters():
    constraints = build_constraints(vocab(), form="五绝", acrostic="春夏秋冬", keywords=("明月",))
    plan = constraints.plan
    assert plan is not None and plan.ctx.allowed.shape == (4, 5, len(vocab()))
    assert {plan.ctx.fixed[(i, 0)] for i in range(4)} == {vocab().id(c) for c in "春夏秋冬"}
    line, col = plan.placements["明月"]
    assert plan.ctx.fixed[(line, col)] == vocab().id("明") and plan.ctx.fixed[(line, col + 1)] == vocab().id("月")
    copy = plan.ctx.copy()
    copy.allowed[:] = False
    copy.fixed.clear()
    assert plan.ctx.allowed.any() and plan.ctx.fixed
    text = random_walk(constraints, 3)
    check_poem(text, form="五绝", acrostic="春夏秋冬")
    assert "明月" in text and constraints.check(text) == []


def test_plans_follow_the_seeded_rng():
    def places(seed):
        rng = np.random.default_rng(seed)
        return build_constraints(vocab(), form="七律", keywords=("明月", "春"), rng=rng).plan.placements

    assert places(1) == places(1)
    assert len({tuple(sorted(places(s).items())) for s in range(8)}) > 1


def test_detect_form_and_form_violations():
    from tangpoet.decoding.constraints import FormConstraint, detect_form

    assert detect_form("床前明月光，疑是地上霜。举头望明月，低头思故乡。").name == "五言绝句"
    assert detect_form("床前明月光，疑是地上霜。") is None
    rules = [v.rule for v in FormConstraint(name="五绝").check("床前明月光，疑是地上霜。举头望明月，低头思故乡了。", None)]
    assert rules == ["length"]
    rules = [v.rule for v in FormConstraint().check("床前明月光。疑是地上霜，举头望明月，低头思故乡。", None)]
    assert rules == ["punctuation", "punctuation"]
