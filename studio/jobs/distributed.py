"""Training on several processes: data parallel through `accelerate launch`, the same loop and run folder.

A job with `processes` > 1 is started as `python -m accelerate.commands.launch --num_processes N ... -m
studio.training.sft CONFIG` (studio.jobs.queue); each process runs the SFT loop (studio/training/sft_loop.py) on
its share of every batch's micro-batches, and accelerate's DistributedDataParallel sums the LoRA gradients, so
one step sees the whole batch as a single process would. Process 0 alone writes the run folder (status, metrics,
checkpoints, the adapter).
On a machine without a GPU the processes talk over gloo on the CPU (how the tests run it); with GPUs each process
takes one. An accelerate config file (`accelerate_config`: FSDP, DeepSpeed ZeRO, several machines) is passed to
the launcher as it is.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Team:
    """The processes training together: this one's rank, how many, and accelerate's handle (None when alone)."""

    rank: int = 0
    size: int = 1
    accelerator: object | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0


def launched_rank() -> int:
    """This process's rank as the launcher set it (0 when started alone)."""
    return int(os.environ.get("RANK", "0"))


def join(device: str) -> Team:
    """The team this process belongs to; a single process when the job was not started by accelerate launch."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Team()
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=device == "cpu")  # on a CPU: gloo between the processes
    return Team(accelerator.process_index, accelerator.num_processes, accelerator)


def prepare(team: Team, model, optimizer):
    """(model to train with, optimizer): wrapped for data parallelism when there is a team."""
    if team.accelerator is None:
        return model, optimizer
    return team.accelerator.prepare(model, optimizer)


def my_share(team: Team, micros: list) -> list:
    """This process's micro-batches of one step, the same count on every process: a process short of one gets
    None, which the loop runs with a zero weight so every process joins each gradient exchange."""
    if team.size == 1:
        return micros
    mine = micros[team.rank::team.size]
    return mine + [None] * (math.ceil(len(micros) / team.size) - len(mine))


def exchange_after(team: Team, model, last: bool):
    """A context for one micro-batch's backward: gradients are summed across processes only after the last."""
    if team.accelerator is None or last:
        return contextlib.nullcontext()
    return team.accelerator.no_sync(model)


def totals(team: Team, *values: float) -> tuple[float, ...]:
    """Each value summed over the team (a step's loss and token count), in one exchange."""
    if team.size == 1:
        return values
    import torch

    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64)
    torch.distributed.all_reduce(tensor)
    return tuple(tensor.tolist())


def any_process(team: Team, flag: bool) -> bool:
    """True on every process when it is true on one (a stop signal reaches them at different moments)."""
    return totals(team, float(flag))[0] > 0 if team.size > 1 else flag


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(module: str, config: Path, processes: int, accelerate_config: str | None,
                   extra: list[str]) -> list[str]:
    """The command that starts `processes` copies of `python -m module config extra...` through accelerate."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if accelerate_config:
        command += ["--config_file", accelerate_config, "--num_processes", str(processes)]
    else:
        command += ["--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port())]
    return command + ["-m", module, str(config), *extra]
