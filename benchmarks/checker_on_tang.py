#!/usr/bin/env python
"""How often do real Tang poems pass tangpoet's regulated-verse checker? Pass rates per form, and which rules fail.

Reads the corpus (default ``../shared/data/tang.txt``, ``title:content`` per line, simplified), keeps the poems of
regular shape (4 or 8 verses of 5 or 7 characters: 五言绝句, 七言绝句, 五言律诗, 七言律诗) and checks each with the
prosody plugin's ``regulated`` constraint (the same rules that mask ``tangpoet write --constraint regulated``), and,
for scale, with pingshui-rhyme's ``PoemStructureChecker`` (rhyme and meter, on the text in traditional characters).

Real poets break rules (古绝, 拗救, 失粘 in early Tang, 仄韵 poems, the data's gaps): these rates are not expected
to be 100 %. Per form it prints the pass rate (and the rate when the only faults are characters missing from the
平水韵 data: "forgiving unknown tones"), the share of poems breaking each rule, and with ``--show N`` N random
failures per form with every violation, to read them and make sure each is a real rule break.

    python benchmarks/checker_on_tang.py                       # every regular-shaped poem of the corpus
    python benchmarks/checker_on_tang.py --limit 2000 --show 5 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORMS = ("五言绝句", "七言绝句", "五言律诗", "七言律诗")
RULES = ("rhyme", "rhyme-repeat", "tone", "dui", "nian", "gu-ping", "san-ping-wei", "unknown-tone")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tang.txt"))
    parser.add_argument("--limit", type=int, default=0, help="check at most this many poems per form (0: all)")
    parser.add_argument("--show", type=int, default=0, help="print this many random failures per form")
    parser.add_argument("--seed", type=int, default=0, help="for --limit sampling and --show")
    parser.add_argument("--no-outside", action="store_true", help="skip pingshui-rhyme's checker")
    parser.add_argument("--json", default=None, help="write the figures (and the shown failures) to this file")
    return parser.parse_args(argv)


def regular_poems(path: str) -> dict[str, list[tuple[str, str]]]:
    """``{form: [(title, content)]}`` for the corpus poems of regular shape."""
    from tangpoet_rhyme.checking import shape_form, split_verses

    found: dict[str, list[tuple[str, str]]] = {form: [] for form in FORMS}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            title, sep, content = line.strip().partition(":")
            if not sep:
                continue
            form = shape_form(split_verses(content))
            if form:
                found[form].append((title, content))
    return found


def missing_characters(poems: dict[str, list[tuple[str, str]]]) -> tuple[Counter, int]:
    """Characters of the poems that the 平水韵 data lacks (with counts), and the number of characters."""
    from tangpoet_rhyme.checking import split_verses
    from tangpoet_rhyme.table import rhyme_table

    table, missing, total = rhyme_table(), Counter(), 0
    for items in poems.values():
        for _, content in items:
            for verse in split_verses(content):
                total += len(verse)
                missing.update(c for c in verse if c not in table)
    return missing, total


def main(argv=None) -> int:
    args = parse_args(argv)
    if not Path(args.corpus).exists():
        print(f"error: no corpus at {args.corpus}", file=sys.stderr)
        return 2
    from tangpoet_rhyme.constraints import RegulatedConstraint

    outside = None
    if not args.no_outside:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from poem_quality import outside_checker

        outside = outside_checker()
    regulated = RegulatedConstraint()
    rng = random.Random(args.seed)
    poems = regular_poems(args.corpus)
    start = time.perf_counter()
    head = ["form", "poems", "tangpoet check", "… forgiving unknown tones", "pingshui rhyme+meter", *RULES]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    report, shown = {}, {}
    for form in FORMS:
        chosen = poems[form]
        if args.limit and len(chosen) > args.limit:
            chosen = rng.sample(chosen, args.limit)
        passed, forgiven, broken, outside_passed, failures = 0, 0, Counter(), 0, []
        for title, content in chosen:
            violations = regulated.check(content, None)
            if not violations:
                passed += 1
            if all(v.rule == "unknown-tone" for v in violations):
                forgiven += 1
            else:
                failures.append((title, content, violations))
            for rule in {v.rule for v in violations}:
                broken[rule] += 1
            if outside:
                rhyme, meter = outside(content)
                outside_passed += rhyme and meter
        n = len(chosen)
        row = {"poems": n, "pass": passed / n, "pass_forgiving_unknown": forgiven / n, "pingshui": outside_passed / n if outside else None,
               "rules": {rule: broken[rule] / n for rule in RULES}}
        report[form] = row
        cells = [form, str(n), f"{row['pass']:.1%}", f"{row['pass_forgiving_unknown']:.1%}", "-" if outside is None else f"{row['pingshui']:.1%}",
                 *(f"{row['rules'][rule]:.1%}" for rule in RULES)]
        print("| " + " | ".join(cells) + " |", flush=True)
        shown[form] = []
        for title, content, violations in rng.sample(failures, min(args.show, len(failures))):
            shown[form].append({"title": title, "poem": content, "violations": [v.message for v in violations]})
    for form, items in shown.items():
        for item in items:
            print(f"\n[{form}] {item['title']}: {item['poem']}")
            for message in item["violations"]:
                print(f"    {message}")
    missing, total = missing_characters(poems)
    share = sum(missing.values()) / max(total, 1)
    print(f"\ncharacters missing from the 平水韵 data: {len(missing)} distinct, {share:.2%} of all characters of these "
          f"poems; most frequent: {' '.join(c for c, _ in missing.most_common(20))}")
    print(f"\n{sum(r['poems'] for r in report.values())} poems in {time.perf_counter() - start:.0f} s; "
          f"rule columns: share of poems breaking that rule")
    report["missing_characters"] = {"distinct": len(missing), "share": share, "top": missing.most_common(50)}
    if args.json:
        Path(args.json).write_text(json.dumps({"forms": {f: report[f] for f in FORMS}, "failures": shown,
                                               "missing_characters": report["missing_characters"]}, ensure_ascii=False, indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
