#!/usr/bin/env bash
# Reproduces results/digits_bits: `genq paper=digits_bits` (both embedded models x
# FP32/W8A16/W8A8/W6A6/W4A16/W4A8/W4A4/W2A8, min-max PTQ, 1,000 samples each), then
# genq-report. About 15 minutes on 2 CPU cores.
exec "$(dirname "$0")/reproduce_preset.sh" digits_bits "$@"
