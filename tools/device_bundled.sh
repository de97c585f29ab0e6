#!/usr/bin/env bash
# The bundled model's two stages (issue 25) on a machine with one GPU, in one call of a limited time: stage 1 continues
# the bundled model on Tang + Song (simplified, the Tang poems the bundled model never saw held out), stage 2
# fine-tunes that on Tang alone with the same held-out poems. Each stage is stopped by a SIGINT after its time
# (`timeout -s INT`): tangpoet's Ctrl-C path saves the best weights so far, so a stage never runs past its slot.
#
# Made here, once (ignored by git, carried to the device): `bash tools/device_pack.sh` → .whl/ (Keras and what the
# device's Python lacks, as cp312 wheels) and .device-data/data.tar.xz (../shared/data's tang.txt and song/).
# Then, through the device tool, from the repository root:
#     run(command="bash tools/device_bundled.sh", carry=[".whl", ".device-data"], timeout_s=560)
# What comes back under $OUT: both logs, `tangpoet info` of the result, and the stage-2 model in parts of 15 MB
# (files come back up to 16 MiB each): `cat stage2.keras.part-* > new.keras`, then measure it here with
# `tangpoet eval ../shared/data/tang.txt --model new.keras --val-split 0.05 --seed 0`.
#
# Tried on the CPU with tiny slots (2 steps of 16 poems an epoch; the wheels are for the device's Python 3.12):
#     SKIP_WHEELS=1 STAGE1_SECONDS=200 STAGE2_SECONDS=120 STEPS=2 BATCH=16 OUT=/tmp/out bash tools/device_bundled.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?OUT names the folder whose files come back}
STAGE1_SECONDS=${STAGE1_SECONDS:-300}
STAGE2_SECONDS=${STAGE2_SECONDS:-120}
BATCH=${BATCH:-256}
STEPS=${STEPS:-200}
if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then  # SKIP_WHEELS=1: an environment with Keras already (a CPU try)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=${KERAS_BACKEND:-torch} PYTHONUNBUFFERED=1
work=${WORK:-/tmp/bundled}
mkdir -p "$work"
started=$(date +%s)
if [ -f .device-data/data.tar.xz ]; then
    tar -xJf .device-data/data.tar.xz -C "$work" || exit 1
else
    ln -sfn "$(cd .. && pwd)/shared/data" "$work/data"  # here: the shared data beside the checkout
fi
echo "unpacked in $(( $(date +%s) - started )) s" | tee "$OUT/device.log"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$OUT/device.log"

# Stage 1: the bundled model on Tang + Song; learning rate: the CPU recipe's 5e-4 at batch 64 times sqrt(256 / 64).
timeout -s INT "$STAGE1_SECONDS" python3 -m tangpoet fit "$work/data/tang.txt" "$work/data/song" --script simplified \
    --val-from "$work/data/tang.txt" --val-split 0.05 --seed 0 --from bundled --out "$work/stage1.keras" --force \
    --epochs 1000 --steps-per-epoch "$STEPS" --batch-size "$BATCH" --lr "${LR1:-1e-3}" --lr-decay 0.97 --patience 4 \
    > "$OUT/stage1.log" 2>&1
echo "stage 1: exit $? after $(( $(date +%s) - started )) s" | tee -a "$OUT/device.log"
[ -f "$work/stage1.keras" ] || { echo "stage 1 wrote no model" | tee -a "$OUT/device.log"; exit 1; }

# Stage 2: fine-tune on Tang alone, the same held-out Tang poems.
timeout -s INT "$STAGE2_SECONDS" python3 -m tangpoet fit "$work/data/tang.txt" --val-split 0.05 --seed 0 \
    --from "$work/stage1.keras" --out "$work/stage2.keras" --force --epochs 1000 --steps-per-epoch "$STEPS" \
    --batch-size "$BATCH" --lr "${LR2:-3e-4}" --lr-decay 0.9 --patience 3 > "$OUT/stage2.log" 2>&1
echo "stage 2: exit $? after $(( $(date +%s) - started )) s" | tee -a "$OUT/device.log"
[ -f "$work/stage2.keras" ] || { echo "stage 2 wrote no model" | tee -a "$OUT/device.log"; exit 1; }
python3 -m tangpoet info --model "$work/stage2.keras" > "$OUT/info.txt" 2>&1
split -b 15M "$work/stage2.keras" "$OUT/stage2.keras.part-"
ls -l "$OUT" | tee -a "$OUT/device.log"
