"""Regenerate tests/golden/decode_expected.json: the poems greedy and beam write with every golden model file.

Run from anywhere:  /work/venv/bin/python tests/golden/regenerate_decode.py

Each backend (a subprocess with ``KERAS_BACKEND`` set) decodes every tests/golden/<backend>/<cell>.keras file with
the CASES below; the script checks that all three backends wrote the same token ids and records, for greedy, whether a choice
was a near-tie (the gap between the best and the second-best allowed log-prob below MIN_MARGIN): such cases are
marked and not checked, so the expectations do not hinge on float rounding. It then writes the token ids to decode_expected.json. tests/
test_decoders.py checks them on whichever backend runs. Regenerate only when decoding changes on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "decode_expected.json"
BACKENDS = ("jax", "tensorflow", "torch")
# Logits of one golden file differ by at most ~2e-7 between backends; a greedy choice closer than this is a near-tie
# whose outcome may depend on float rounding: such a case is recorded with "near_tie": true and not checked.
MIN_MARGIN = 1e-6

# name → write() arguments. Characters come from the golden vocabulary (two quatrains).
CASES = {
    "greedy-free": dict(decoder="greedy", max_len=20),
    "greedy-wujue": dict(decoder="greedy", form="五言绝句"),
    "greedy-acrostic": dict(decoder="greedy", form="五言绝句", acrostic="春夜花处", begin="春风"),
    "beam-wujue": dict(decoder="beam", form="五言绝句", beam_width=3, num=3),
    "beam-acrostic": dict(decoder="beam", acrostic="明月花落", beam_width=3, num=2),
    "beam-free": dict(decoder="beam", begin="床", max_len=16, beam_width=3, num=2),
}


def golden_files() -> list[Path]:
    return sorted(HERE.glob("*/*.keras"))


def key(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def greedy_margin(model, case: dict) -> float:
    """Smallest gap between the chosen and the runner-up allowed log-prob along greedy's path."""
    import numpy as np

    from tangpoet.decoding.constraints import build_constraints
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.data.vocab import BOS_ID, EOS_ID

    options = {k: v for k, v in case.items() if k in ("begin", "acrostic", "form", "max_len")}
    constraints = build_constraints(model.vocab, **options)
    stepper = StepDecoder.of(model)
    history = list(constraints.prompt)
    log_probs, state = stepper.prime([BOS_ID, *history], 1)
    margin = float("inf")
    while len(history) < constraints.max_len:
        processed = constraints.chain(np.asarray([history]), log_probs)[0]
        finite = np.sort(processed[np.isfinite(processed)])[::-1]
        if finite.size > 1:
            margin = min(margin, float(finite[0] - finite[1]))
        token = int(np.argmax(processed))
        if token == EOS_ID:
            break
        history.append(token)
        log_probs, state = stepper.step([token], state)
    return margin


def worker() -> None:
    sys.path.insert(0, str(ROOT))
    from tangpoet.model.poem_model import load_model
    from tangpoet.writing import write

    results = {}
    for path in golden_files():
        model = load_model(path)
        for name, case in CASES.items():
            poems = write(model, seed=0, **case)
            results[f"{key(path)}:{name}"] = {
                "tokens": [list(p.tokens) for p in poems],
                "text": [p.text for p in poems],
                "margin": greedy_margin(model, case) if case["decoder"] == "greedy" else None,
            }
    print("JSON" + json.dumps(results, ensure_ascii=False))


def run(backend: str) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"decoding on {backend} failed (exit {result.returncode})")
    line = next(line for line in result.stdout.splitlines() if line.startswith("JSON"))
    return json.loads(line[4:])


def dump(expected: dict) -> str:
    """JSON with one line per case (readable diffs when regenerated)."""
    compact = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
    cases = ",\n".join(f"  {compact(k)}: {compact(v)}" for k, v in expected["cases"].items())
    rows = ",\n".join(f"  {compact(k)}: {compact(v)}" for k, v in expected["expected"].items())
    return f'{{\n "cases": {{\n{cases}\n }},\n "seed": {expected["seed"]},\n "expected": {{\n{rows}\n }}\n}}\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    per_backend = {backend: run(backend) for backend in BACKENDS}
    reference = per_backend[BACKENDS[0]]
    problems = []
    for backend, results in per_backend.items():
        for name, result in results.items():
            if result["tokens"] != reference[name]["tokens"]:
                problems.append(f"{name}: {backend} wrote {result['text']} but {BACKENDS[0]} wrote {reference[name]['text']}")
    if problems:
        raise SystemExit("not written:\n  " + "\n  ".join(problems))
    near_ties = {
        name
        for results in per_backend.values()
        for name, r in results.items()
        if r["margin"] is not None and r["margin"] < MIN_MARGIN
    }
    expected = {
        "cases": CASES,
        "seed": 0,
        "expected": {
            name: {"tokens": r["tokens"], "text": r["text"], "near_tie": name in near_ties}
            for name, r in sorted(reference.items())
        },
    }
    OUT.write_text(dump(expected), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(reference)} cases, equal on {', '.join(BACKENDS)}; "
          f"{len(near_ties)} greedy near-ties (not checked): {sorted(near_ties)}")


if __name__ == "__main__":
    main()
