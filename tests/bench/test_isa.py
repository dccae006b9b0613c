"""genq.bench.isa: the CPU model, its int8/bf16-relevant ISA and the logical CPU count, read
from faked /proc/cpuinfo texts; and every record carries them (env.cpu, speed.threads)."""

from __future__ import annotations

import json

from genq.bench.isa import ISA_FLAGS, cpu_info, cpu_summary


def _cpuinfo(model: str, flags: str, n: int) -> str:
    block = ("processor\t: {i}\nvendor_id\t: X\nmodel name\t: " + model + "\nflags\t\t: " + flags
             + "\nbogomips\t: 4000.00\n\n")
    return "".join(block.format(i=i) for i in range(n))


XEON_AMX = _cpuinfo("Intel(R) Xeon(R) Platinum 8480+",
                    "fpu vme sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni "
                    "avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8 arch_lbr", 4)
EPYC = _cpuinfo("AMD EPYC 7R13 Processor", "fpu vme sse sse2 avx avx2 fma sha_ni clzero xsaveerptr", 2)
AVX2_ONLY = _cpuinfo("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "fpu sse sse2 avx avx2 fma bmi2", 12)


def test_amx_xeon():
    info = cpu_info(XEON_AMX)
    assert info == {"model": "Intel(R) Xeon(R) Platinum 8480+",
                    "isa": ["amx_int8", "amx_bf16", "avx512_vnni", "avx512_bf16", "avx512f", "avx2"],
                    "logical_cpus": 4}
    assert "amx_tile" not in info["isa"]           # only the listed extensions, in ISA_FLAGS order


def test_epyc_without_amx():
    info = cpu_info(EPYC)
    assert info == {"model": "AMD EPYC 7R13 Processor", "isa": ["avx2"], "logical_cpus": 2}


def test_avx2_only():
    info = cpu_info(AVX2_ONLY)
    assert info["isa"] == ["avx2"] and info["logical_cpus"] == 12
    assert info["model"].startswith("Intel(R) Core(TM) i7-8700")
    assert cpu_summary(info) == "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz (avx2; 12 logical CPUs)"


def test_flag_names_match_whole_words():
    # "avx512f" must not be found inside "avx512fp16"-like names, nor "avx2" inside "avx2x"
    info = cpu_info(_cpuinfo("X", "avx512_fp16 avx2x amx_int8x", 1))
    assert info["isa"] == []


def test_no_cpuinfo_falls_back_to_platform():
    info = cpu_info("")
    assert info["model"] and info["isa"] == [] and info["logical_cpus"] >= 1


def test_this_machine():
    info = cpu_info()
    assert info["model"] and info["logical_cpus"] >= 1
    assert set(info["isa"]) <= set(ISA_FLAGS)


def test_smoke_record_carries_cpu_and_threads(tmp_path, smoke_cfg):
    from genq.run import run_experiment

    run_experiment(smoke_cfg("model=dcgan_digits"), tmp_path)
    record = json.loads((tmp_path / "result.json").read_text())
    cpu = record["env"]["cpu"]
    assert cpu["model"] and isinstance(cpu["isa"], list) and cpu["logical_cpus"] >= 1
    assert isinstance(record["speed"]["threads"], int) and record["speed"]["threads"] >= 1


def test_int8_saturation_follows_the_faked_cpuinfo():
    """The int16 pair-sum saturation of int8 kernels (genq.bench.isa.int8_pairs_saturate) is
    decided from the same flags: AVX2 alone saturates, AMX/VNNI (incl. AVX-VNNI) do not."""
    from genq.bench.isa import int8_pairs_saturate

    alder = _cpuinfo("12th Gen Intel(R) Core(TM) i7-12700", "fpu sse avx avx2 fma avx_vnni", 8)
    assert cpu_info(alder)["isa"] == ["avx_vnni", "avx2"]
    assert int8_pairs_saturate(cpu_info(EPYC)) and int8_pairs_saturate(cpu_info(AVX2_ONLY))
    assert not int8_pairs_saturate(cpu_info(XEON_AMX)) and not int8_pairs_saturate(cpu_info(alder))
