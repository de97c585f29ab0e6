#!/usr/bin/env bash
# What tools/device_bundled.sh needs on the device machine, made here (both folders are ignored by git, and carried):
# .whl/ — Keras and the packages the device's Python 3.12 lacks (it has torch, jax, numpy, h5py, click, rich, absl-py,
# ml-dtypes, packaging), and OpenCC for --script simplified; .device-data/data.tar.xz — ../shared/data's tang.txt and
# song/ (the device sees nothing outside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
grep -qx '/.device-data/' .git/info/exclude || echo '/.device-data/' >> .git/info/exclude
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl keras==3.15.1 namex optree opencc
mkdir -p .device-data
tar -C ../shared -cf - data/tang.txt data/song | xz -6 -T0 > .device-data/data.tar.xz.tmp
mv .device-data/data.tar.xz.tmp .device-data/data.tar.xz
du -sh .whl .device-data
