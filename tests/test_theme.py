"""Theme planning (`write --theme`): corpus statistics, the plan, keywords placed one per line and read as words, and
the property that every accepted request — with --theme, --candidates, forms, acrostics, constraints — comes out
satisfying every constraint, in the library and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _writing_helpers import KNOWN, TEXTS, check_poem, split, tiny_model
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tangpoet.checking import check_poem as check_with
from tangpoet.cli import main
from tangpoet.decoding.constraints import CONSTRAINTS, FormConstraint, build_constraints
from tangpoet.decoding.constraints.keywords import reads_as_word
from tangpoet.decoding.forms import FORMS
from tangpoet.decoding.planning import DEFAULT_THEME_FORM, ThemeTable, bundled_table, plan_theme
from tangpoet.decoding.planning.build import build_table
from tangpoet.decoding.planning.constraint import ThemeConstraint
from tangpoet.errors import ConstraintError, DecoderOptionError
from tangpoet.model.poem_model import save_model
from tangpoet.writing import write

THEMES = ["明月", "春", "秋", "江", "思乡", "夜"]


def theme_checker(poem) -> ThemeConstraint:
    """What the poem's plan promises: line i holds plan[i] as a word (the bundled table's words)."""
    return ThemeConstraint(lines="/".join(poem.plan))


def assert_plan_kept(poem, table=None):
    table = table or bundled_table()
    lines = [line[:-1] for line in split(poem.text)]
    assert len(poem.plan) == len(lines), (poem.text, poem.plan)
    for line, word in zip(lines, poem.plan):
        if word:  # independent of the constraint's own check: the word is there, and no neighbour claims a character
            at = [i for i in range(len(line) - len(word) + 1) if line[i : i + len(word)] == word]
            assert any(
                (i == 0 or not table.is_word(line[i - 1] + word[0]))
                and (i + len(word) == len(line) or not table.is_word(word[-1] + line[i + len(word)]))
                for i in at
            ), (poem.text, poem.plan, line, word)


# -- statistics -----------------------------------------------------------------------------------------------------
def test_a_table_built_from_a_corpus_round_trips_through_its_file(tmp_path):
    table = build_table(TEXTS * 3, min_word=2, min_pmi=0.0, wins_share=0.0, min_keyword=2, aligned=0.0, free=0.0, min_char=1, min_co=1)
    assert "明月" in table.words and "明月" in table.keywords
    assert [w for w, _ in table.related("月")], "月's poems write keywords"
    loaded = ThemeTable.load(table.save(tmp_path / "t.npz"))
    assert loaded.words == table.words and loaded.keywords == table.keywords
    for key in ("月", "春", "明月"):
        assert [w for w, _ in loaded.related(key)] == [w for w, _ in table.related(key)]


def test_the_bundled_table_is_small_and_knows_words_from_seams():
    from importlib import resources

    with resources.as_file(resources.files("tangpoet.decoding.planning").joinpath("data", "tang_themes.npz")) as path:
        assert 0 < path.stat().st_size <= 1_000_000
    table = bundled_table()
    assert {"千秋", "秋月", "明月", "故乡"} <= table.words
    assert "思故" not in table.words  # the seam of 思 and 故乡 in 低头思故乡
    assert "故乡" in [w for w, _ in table.related("乡")]


def test_a_keyword_is_read_as_a_word_only_where_no_neighbour_claims_a_character():
    is_word = {"千秋", "秋月", "月光"}.__contains__
    assert not reads_as_word("万里千秋月", "秋月", is_word)
    assert reads_as_word("秋月照千山", "秋月", is_word)
    assert reads_as_word("千秋照秋月", "秋月", is_word)  # the second 秋月 stands alone
    assert not reads_as_word("秋月光", "秋月", is_word)


def test_a_plan_has_one_keyword_per_line_sharing_no_character_and_depends_on_the_seed():
    table = bundled_table()
    plans = set()
    for seed in range(6):
        plan = plan_theme("秋思", 8, table, np.random.default_rng([seed, 13]))
        words = [w for w in plan.keywords if w]
        assert len(words) == 8 and len(set("".join(words))) == 2 * len(words)
        assert sum(bool(set(w) & set("秋思")) for w in words) <= 2
        assert plan == plan_theme("秋思", 8, table, np.random.default_rng([seed, 13]))
        plans.add(plan.keywords)
    assert len(plans) > 1


def test_a_theme_the_statistics_do_not_know_is_refused_in_one_line():
    with pytest.raises(ConstraintError, match="no corpus statistics"):
        write(tiny_model(), theme="ＡＢ", seed=0)
    for bad in ("秋，思", "春" * 20):
        with pytest.raises(ConstraintError) as caught:
            write("/nonexistent.keras", theme=bad)  # before the model file is read
        assert "\n" not in str(caught.value)


# -- placement ------------------------------------------------------------------------------------------------------
def _table(words, keywords, rows):
    keys = list(rows)
    return ThemeTable.from_rows(words, keywords, keys, [[(keywords.index(w), 1.0) for w in rows[k]] for k in keys])


def test_a_keyword_is_never_placed_where_a_neighbour_would_swallow_it():
    model = tiny_model()
    table = _table(["千秋", "秋月"], ["秋月"], {"秋": ["秋月"]})
    vocab = model.vocab
    for seed in range(8):
        poems = write(model, theme="秋", theme_table=table, begin="千", decoder="sample", num=2, seed=seed)
        for poem in poems:
            assert poem.plan[0] == "秋月" and not poem.text.startswith("千秋月"), poem.text
            assert_plan_kept(poem, table)
    # the mechanism: wherever 秋月 is placed, the character before it may not be 千
    planned = build_constraints(vocab, form="五绝", constraints=[ThemeConstraint(table, lines="秋月")],
                                rng=np.random.default_rng(3))
    allowed, fixed = planned.plan.ctx.allowed, planned.plan.ctx.fixed
    [(line, col)] = [(l, c) for (l, c), t in fixed.items() if vocab.tokens[t] == "秋" and fixed.get((l, c + 1)) == vocab.id("月")]
    assert col == 0 or not allowed[line, col - 1, vocab.id("千")]


def test_a_themed_poem_without_a_form_is_a_quatrain_and_carries_its_plan():
    [poem] = write(tiny_model(), theme="明月", decoder="top-p", seed=2)
    check_poem(poem.text, form=DEFAULT_THEME_FORM)
    assert len(poem.plan) == 4 and all(poem.plan)
    assert_plan_kept(poem)
    assert not theme_checker(poem).check(poem.text, None)


def test_best_of_n_with_a_theme_deals_its_candidates_among_plans_each_kept():
    poems = write(tiny_model(), theme="明月", decoder="top-p", num=6, candidates=6, seed=3, form="七绝")
    plans = {poem.plan for poem in poems}
    assert 2 <= len(plans) <= 6, plans  # several plans of one theme, in one batch
    for poem in poems:
        check_poem(poem.text, form="七绝")
        assert_plan_kept(poem)
        assert not theme_checker(poem).check(poem.text, None)
    again = write(tiny_model(), theme="明月", decoder="top-p", num=6, candidates=6, seed=3, form="七绝")
    assert [(p.text, p.plan) for p in again] == [(p.text, p.plan) for p in poems]  # the same seed, the same poems
    # one row per plan at most THEME_PLANS; without candidates, or with beam (one search), one plan for all
    assert len({p.plan for p in write(tiny_model(), theme="明月", decoder="top-p", num=3, seed=3)}) == 1
    beams = write(tiny_model(), theme="明月", decoder="beam", beam_width=4, num=2, candidates=4, seed=3)
    assert len({p.plan for p in beams}) == 1


def test_row_chains_run_each_row_through_its_groups_chain():
    from tangpoet.decoding.rows import RowChains

    def adds(k):
        return lambda history, log_probs: log_probs + k

    chains = RowChains([adds(1), adds(10)], [0, 1, 1, 0], [("a",), ("b",)])
    history, log_probs = np.zeros((4, 2), dtype=np.int64), np.zeros((4, 3))
    out = chains.apply(history, log_probs, np.array([1, 2, 3]))  # row 0 has ended
    assert out[:, 0].tolist() == [10, 10, 1]
    with pytest.raises(TypeError):
        chains(history, log_probs)  # a decoder with its own loop never gets one
    with pytest.raises(ValueError):
        RowChains([adds(1)], [0, 1], [("a",)])


# -- every accepted request comes out right --------------------------------------------------------------------------
PROSODY = [s for s in ("regulated",) if CONSTRAINTS.resolve(s) is not None]


@st.composite
def themed_requests(draw):
    form = draw(st.sampled_from([None, *FORMS]))
    lines = form.lines if form else 4
    acrostic = "".join(draw(st.lists(st.sampled_from(KNOWN), min_size=lines, max_size=lines))) if draw(st.booleans()) else ""
    decoder = draw(st.sampled_from(["sample", "top-p", "beam"]))
    num = draw(st.integers(1, 2))
    return {
        "form": form,
        "acrostic": acrostic,
        "theme": draw(st.sampled_from(THEMES)),
        "constraints": draw(st.sampled_from([[], *([p] for p in PROSODY)])) if form else [],
        "decoder": decoder,
        "num": num,
        "candidates": draw(st.sampled_from([None, num, 3, 4])),
        "scorer": draw(st.sampled_from([None, "likelihood", "coherence"])),
        "model": (draw(st.sampled_from(["lstm", "gru"])), draw(st.integers(0, 2))),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(request=themed_requests())
def test_every_accepted_themed_request_comes_out_right(request):
    cell, seed = request["model"]
    options = {"beam_width": 4} if request["decoder"] == "beam" else {}
    try:
        poems = write(
            tiny_model(cell, 1, 8, seed),
            form=request["form"],
            acrostic=request["acrostic"],
            theme=request["theme"],
            constraints=request["constraints"],
            decoder=request["decoder"],
            num=request["num"],
            candidates=request["candidates"],
            scorer=request["scorer"],
            seed=request["seed"],
            **options,
        )
    except (ConstraintError, DecoderOptionError) as exc:  # refused before decoding, in one line
        assert "\n" not in str(exc)
        assert not isinstance(exc, DecoderOptionError) or (request["candidates"] is None and request["num"] == 1)
        return
    form = request["form"] or (None if request["acrostic"] else DEFAULT_THEME_FORM)
    assert len(poems) == request["num"]
    assert [p.score for p in poems] == sorted((p.score for p in poems), reverse=True)
    for poem in poems:
        assert poem.finished
        check_poem(poem.text, form=form, acrostic=request["acrostic"])
        assert_plan_kept(poem)
        checks = [theme_checker(poem)] + ([FormConstraint(name=form)] if form else [])
        checks += [CONSTRAINTS.get(name)() for name in request["constraints"]]
        report = check_with(poem.text, checks, form)
        assert report.passed, (request, poem.text, [v.message for v in report.violations])


# -- the command line -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(tiny_model("gru", 1, 8, 1), tmp_path_factory.mktemp("theme") / "m.keras"))


def test_show_plan_prints_the_plan_then_poems_that_keep_it(model_file):
    result = CliRunner().invoke(main, ["write", "--model", model_file, "--theme", "思乡", "--show-plan",
                                       "--candidates", "3", "--seed", "5"])
    assert result.exit_code == 0, result.output
    first, blank, *lines = result.stdout.splitlines()
    assert first.startswith("plan (思乡): ") and blank == ""
    words = first.split(": ", 1)[1].split(" / ")
    assert len(words) == len(lines) == 4
    for word, line in zip(words, lines):
        assert word in line, (word, line)
    check_poem("".join(lines), form=DEFAULT_THEME_FORM)


def test_show_plan_prints_each_poems_own_plan_above_it(model_file):
    result = CliRunner().invoke(main, ["write", "--model", model_file, "--theme", "明月", "--show-plan", "--num", "4",
                                       "--candidates", "8", "--decoder", "top-p", "--seed", "3"])
    assert result.exit_code == 0, result.output
    blocks = result.stdout.strip().split("\n\n")
    assert len(blocks) == 8  # a plan line, then its poem, four times
    shown = set()
    for plan_block, poem_block in zip(blocks[::2], blocks[1::2]):
        assert plan_block.startswith("plan (明月): ")
        words = plan_block.split(": ", 1)[1].split(" / ")
        shown.add(tuple(words))
        for word, line in zip(words, poem_block.splitlines()):
            assert word in line, (word, line)
    assert len(shown) >= 2


def test_theme_in_json_composes_with_acrostic_and_form(model_file):
    result = CliRunner().invoke(main, ["write", "--model", model_file, "--theme", "春", "--acrostic", "春夏秋冬",
                                       "--form", "七绝", "--num", "2", "--decoder", "sample", "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    for row in json.loads(result.stdout):
        check_poem(row["poem"], form="七绝", acrostic="春夏秋冬")
        assert len(row["plan"]) == 4
        assert not ThemeConstraint(lines="/".join(row["plan"])).check(row["poem"], None)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--show-plan"], "--show-plan prints the plan of a --theme"),
        (["--theme", "秋,思"], "without punctuation"),
        (["--theme", "ＸＹ"], "no corpus statistics"),
    ],
)
def test_theme_errors_are_one_line_and_exit_2(model_file, args, words):
    result = CliRunner().invoke(main, ["write", "--model", model_file, *args])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
