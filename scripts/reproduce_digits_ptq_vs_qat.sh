#!/usr/bin/env bash
# Reproduces results/digits_ptq_vs_qat: `genq paper=digits_ptq_vs_qat` (both embedded
# models x FP32 and W4A8/W4A4/W2A8 as min-max PTQ, BRECQ PTQ and LSQ+ QAT; 500 samples
# each), then genq-report. About 20 minutes on 2 CPU cores; one thread per process, as
# the QAT study found two threads mostly spin on 2 shared cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec "$(dirname "$0")/reproduce_preset.sh" digits_ptq_vs_qat "$@"
