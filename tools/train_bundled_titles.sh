#!/usr/bin/env bash
# The next bundled model (issue 33): title-aware, trained on Tang + Song + Song ci from today's bundled weights.
#
#   stage 0  measure the untitled fraction: short title-aware fine-tunes of the bundled model on Tang, one per
#            fraction in FRACTIONS, each scored on the held-out Tang poems with and without their titles; the fraction
#            kept is the one with the lowest NLL given the title among those whose NLL without it is within TOLERANCE
#            of the best such figure (so the model still writes untitled poems as well as it can)
#   stage 1  the bundled model on Tang + ci (tune as title) — and Song with SONG=1 — --titles with that fraction,
#            --extend-vocab (the ci characters the bundled vocabulary lacks), the Tang poems the bundled model never
#            saw held out (--val-from: the same 2,343 poems as every bundled stage). Song is left out by default: the
#            bundled weights already hold 23 epochs of Tang + Song (lineage step 2), and with it the 20k ci would be
#            6 % of the mixture instead of 30 % (docs/model-file.md#titles-model)
#            — with a moving average of the weights (--ema 0.995) and the fine-tuning rate (3e-4, x0.9 an epoch);
#            the model file holds the best epoch, so the stage may be stopped (SIGTERM) after any epoch
#   stage 2  (EPOCHS2 > 0) Tang again from stage 1, --titles, --ema 0.995, the same held-out poems: the step that
#            made the previous bundled model from a Song-heavy mixture; with Tang 70 % of stage 1 it is left out
#   eval     both figures on the held-out Tang poems (`tangpoet eval`: NLL of the content given its title, and
#            without it), the same on the held-out ci (5 % of the ci JSON entries, seed 0, never trained on), and
#            `tangpoet info` (the lineage)
#
# Every stage resumes (`--resume`) when its checkpoint exists, so a run stopped by a time limit goes on where it was:
# run it under nohup and come back (DEVELOPERS.md, long training). The figures land in $WORK/*.log.
#
# The full run (hours on a CPU; not started by this script's test):
#     nohup nice -n 19 bash tools/train_bundled_titles.sh > /tmp/bundled-titles.log 2>&1 &
# A tiny slice, to try the recipe end to end in minutes (a few steps of every stage on a few hundred poems):
#     SLICE=1 WORK=/tmp/titles-slice bash tools/train_bundled_titles.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-$(cd .. && pwd)/shared/data}
WORK=${WORK:-/tmp/bundled-titles}
FRACTIONS=${FRACTIONS:-"0.1 0.3"}
TOLERANCE=${TOLERANCE:-0.01}
BATCH=${BATCH:-64}
STEPS=${STEPS:-250}                  # an "epoch": this many batches (validation and checkpoint after each)
MEASURE_EPOCHS=${MEASURE_EPOCHS:-2}  # stage 0: epochs per fraction
EPOCHS1=${EPOCHS1:-6}
EPOCHS2=${EPOCHS2:-0}
LR2=${LR2:-3e-4}                     # stage 2's rate and untitled fraction (default: stage 1's fraction)
FRACTION2=${FRACTION2:-}
mkdir -p "$WORK"
tang="$DATA/tang.txt" song="$DATA/song" ci="$DATA/ci"
if [ -n "${SLICE:-}" ]; then  # a few hundred poems of each corpus, a few steps of each stage
    mkdir -p "$WORK/data/song" "$WORK/data/ci"
    head -n 400 "$DATA/tang.txt" > "$WORK/data/tang.txt"
    python3 - "$DATA" "$WORK/data" <<'EOF'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
for folder, name in (("song", "poet.song.0.json"), ("ci", "ci.song.0.json")):
    poems = json.load(open(f"{src}/{folder}/{name}", encoding="utf-8"))[:150]
    json.dump(poems, open(f"{dst}/{folder}/{name}", "w", encoding="utf-8"), ensure_ascii=False)
EOF
    tang="$WORK/data/tang.txt" song="$WORK/data/song" ci="$WORK/data/ci"
    BATCH=16 STEPS=2 MEASURE_EPOCHS=1 EPOCHS1=2 EPOCHS2=1 FRACTIONS="0.1 0.5"
fi
split=(--val-split 0.05 --seed 0)
export KERAS_BACKEND=${KERAS_BACKEND:-torch}

# The ci split: 5 % of the ci JSON entries (seed 0) held out, never trained on; the rest trained on.
python3 - "$ci" "$WORK/data/ci-train" "$WORK/data/ci-heldout" <<'EOF'
import json, pathlib, random, sys
src, train, held = (pathlib.Path(a) for a in sys.argv[1:])
rng = random.Random(0)
for folder in (train, held):
    folder.mkdir(parents=True, exist_ok=True)
counts = [0, 0]
for path in sorted(src.glob("*.json")):
    parts = ([], [])
    for entry in json.loads(path.read_text(encoding="utf-8")):
        parts[rng.random() < 0.05].append(entry)
    for folder, part, i in ((train, parts[0], 0), (held, parts[1], 1)):
        (folder / path.name).write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
        counts[i] += len(part)
print(f"ci: {counts[0]} entries to train on, {counts[1]} held out")
EOF
ci="$WORK/data/ci-train"
resume() { [ -f "$1.ckpt" ] && echo --resume || echo --force; }

# The held-out Tang poems (the seeded split every bundled stage holds out), as title:content lines for `eval`.
python3 - "$tang" "$WORK/heldout.txt" <<'EOF'
import sys
from tangpoet.data.corpus import read_corpus
from tangpoet.data.split import split_poems
poems, _ = read_corpus(sys.argv[1])
_, held_out = split_poems(poems, 0.05, 0)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.writelines(f"{p.title}:{p.content}\n" for p in held_out)
print(f"{len(held_out)} held-out Tang poems")
EOF
figures() {  # "<given the title> <without it>" of model $1 on held-out poems $2 (default: the Tang ones)
    python3 -m tangpoet eval "${2:-$WORK/heldout.txt}" --model "$1" --max-len 400 --json \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); g=d.get("given_title"); print(g["nll"] if g else "-", d["nll"])'
}

# Stage 0: the untitled fraction, measured (each fraction's figures kept in measure-F.tsv).
: > "$WORK/fractions.tsv"
for f in $FRACTIONS; do
    out="$WORK/measure-$f.keras"
    if [ -s "$WORK/measure-$f.tsv" ] && [ ! -f "$out.ckpt" ]; then
        cat "$WORK/measure-$f.tsv" >> "$WORK/fractions.tsv"
        continue
    fi
    if [ ! -f "$out" ] || [ -f "$out.ckpt" ]; then
        python3 -m tangpoet fit "$tang" "${split[@]}" --from bundled --titles --untitled-fraction "$f" --out "$out" \
            $(resume "$out") --epochs "$MEASURE_EPOCHS" --steps-per-epoch "$STEPS" --batch-size "$BATCH" --lr 3e-4 \
            --patience 0 > "$WORK/measure-$f.log" 2>&1
        rm -f "$out.ckpt"
    fi
    echo "$f $(figures "$out")" | tee "$WORK/measure-$f.tsv" >> "$WORK/fractions.tsv"
done
FRACTION=$(python3 - "$WORK/fractions.tsv" "$TOLERANCE" <<'EOF'
import sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1]) if line.strip()]
best_without = min(r[2] for r in rows)
fit = [r for r in rows if r[2] <= best_without + float(sys.argv[2])]
print(min(fit, key=lambda r: r[1])[0])
EOF
)
cat "$WORK/fractions.tsv"
echo "stage 0: untitled fraction $FRACTION (fraction, NLL given the title, without it: $WORK/fractions.tsv)"

# Stage 1: Tang + ci (+ Song with SONG=1), title-aware, from the bundled weights.
stage1="$WORK/stage1.keras"
corpora=("$tang" "$ci")
[ -n "${SONG:-}" ] && corpora+=("$song")
if [ ! -f "$stage1" ] || [ -f "$stage1.ckpt" ]; then  # not finished yet (a finished stage drops its checkpoint)
    python3 -m tangpoet fit "${corpora[@]}" --script simplified --val-from "$tang" "${split[@]}" --from bundled \
        --extend-vocab --min-count 3 --titles --untitled-fraction "$FRACTION" --out "$stage1" $(resume "$stage1") \
        --epochs "$EPOCHS1" --steps-per-epoch "$STEPS" --batch-size "$BATCH" --lr 3e-4 --lr-decay 0.9 --patience 0 \
        --ema 0.995 > "$WORK/stage1.log" 2>&1
    rm -f "$stage1.ckpt"
fi
echo "stage 1: $(tail -n 1 "$WORK/stage1.log")"

# Stage 2: Tang again, with a moving average of the weights (EPOCHS2 > 0 only).
stage2="$stage1"
[ "$EPOCHS2" -gt 0 ] && stage2="$WORK/stage2.keras"
if [ "$EPOCHS2" -gt 0 ] && { [ ! -f "$stage2" ] || [ -f "$stage2.ckpt" ]; }; then
    python3 -m tangpoet fit "$tang" "${split[@]}" --from "$stage1" --titles --untitled-fraction "${FRACTION2:-$FRACTION}" \
        --out "$stage2" $(resume "$stage2") --epochs "$EPOCHS2" --steps-per-epoch "$STEPS" --batch-size "$BATCH" \
        --lr "$LR2" --lr-decay 0.9 --patience 0 --ema 0.995 > "$WORK/stage2.log" 2>&1
    rm -f "$stage2.ckpt"
fi
[ "$EPOCHS2" -gt 0 ] && echo "stage 2: $(tail -n 1 "$WORK/stage2.log")"

read -r given without <<< "$(figures "$stage2")"
echo "held-out Tang: NLL given the title $given, without it $without (bar: given ≤ 4.10, without ≤ 4.180)"
read -r cgiven cwithout <<< "$(figures "$stage2" "$WORK/data/ci-heldout")"
read -r bgiven bwithout <<< "$(figures bundled "$WORK/data/ci-heldout" 2>/dev/null || echo "- -")"
echo "held-out ci: NLL given the tune $cgiven, without it $cwithout (today's bundled model, without: $bwithout)"
python3 -m tangpoet info --model "$stage2" | tee "$WORK/info.txt"
