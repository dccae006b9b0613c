#!/usr/bin/env bash
# Runs one offline paper preset (`genq paper=<name>`) into results/<name>: the preset's
# multirun in a fresh sweep folder, each run's result.json and sample grid copied to
# results/<name>/records, then genq-report (tables .md/.csv/.tex, figures).
#   scripts/reproduce_preset.sh digits_bits [extra genq overrides...]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/reproduce_preset.sh <paper preset> [overrides...]}; shift
[ -f "genq/configs/paper/$name.yaml" ] || { echo "no preset genq/configs/paper/$name.yaml" >&2; exit 2; }
make install
out=results/$name
sweep=${SWEEP_DIR:-$(mktemp -d)/$name}      # SWEEP_DIR=<dir> resumes an interrupted run
.venv/bin/genq paper="$name" logger=none hydra.sweep.dir="$sweep" "$@"
rm -rf "$out/records"
mkdir -p "$out/records"
for run in "$sweep"/*/; do                  # result.json + sample grid of every run
  [ -f "$run/result.json" ] || continue
  dest="$out/records/$(basename "$run")"; mkdir -p "$dest"
  cp "$run/result.json" "$dest/"
  [ -f "$run/samples.png" ] && cp "$run/samples.png" "$dest/"
done
.venv/bin/genq-report "$out/records" --out "$out"
cat "$out/table.md"
