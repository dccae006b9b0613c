"""accelerate's state is process-wide (PartialState / AcceleratorState singletons); the jobs of
a sweep share one process (Hydra's basic launcher), so each QAT job must get the device and
precision it asks for, whatever an earlier job left. Simulated on the CPU: an earlier job's
state is written as a CUDA job or a bf16 job would leave it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from genq.distributed import job_accelerator


@pytest.fixture(autouse=True)
def _clean_accelerate_state():
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def _earlier_cuda_job() -> None:
    """accelerate's state as a QAT job on a GPU leaves it (device cuda), built on the CPU."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    Accelerator(cpu=False)
    for shared in (AcceleratorState._shared_state, PartialState._shared_state):
        shared["device"] = torch.device("cuda", 0)


def test_a_cpu_job_after_a_cuda_job_gets_the_cpu():
    from accelerate import Accelerator

    _earlier_cuda_job()
    with pytest.raises(ValueError, match="cannot be changed"):    # the failure this guards against
        Accelerator(cpu=True)
    _earlier_cuda_job()
    assert job_accelerator(cpu=True).device.type == "cpu"


def test_a_job_does_not_inherit_an_earlier_mixed_precision():
    from accelerate import Accelerator

    Accelerator(cpu=True, mixed_precision="bf16")
    assert Accelerator(cpu=True).mixed_precision == "bf16"        # plain accelerate carries it over
    assert job_accelerator(cpu=True).mixed_precision == "no"


def test_two_qat_loops_in_one_process_after_a_cuda_job():
    from genq.qat.loop import train

    qat = SimpleNamespace(steps=2, warmup_steps=0, weight_decay=0.0, resume=False, progress=False,
                          eval_at=[], max_grad_norm=1.0, log_every=1, checkpoint_every=0, keep_checkpoints=1)

    def loss_fn(model, generator):
        x = torch.randn(4, 3, generator=generator)
        loss = model(x).pow(2).mean()
        return loss, {}

    results = []
    for _ in range(2):
        _earlier_cuda_job()
        torch.manual_seed(0)
        student = nn.Linear(3, 2)
        results.append(train(student, loss_fn, [{"params": list(student.parameters()), "lr": 0.1}], qat,
                             None, seed=0))
    assert [r.steps for r in results] == [2, 2] and results[0].loss_final == results[1].loss_final
