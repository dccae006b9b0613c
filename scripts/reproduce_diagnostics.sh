#!/usr/bin/env bash
# Reproduces results/diagnostics: the four degradation diagnostics on both embedded
# generators at W8A8 and W4A8 (256 samples; sensitivity by block for the DDPM, by layer for
# the DCGAN), plus the digits classifier under the same recipes.
set -euo pipefail
cd "$(dirname "$0")/.."
make install
rm -rf results/diagnostics/tables
.venv/bin/genq-analyze --models dcgan_digits ddpm_digits --recipes w8a8 w4a8 --n-samples 256 \
  --out results/diagnostics/tables
