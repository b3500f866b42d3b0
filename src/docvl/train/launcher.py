"""`--gpus N` / `--nnodes`: re-run training under torchrun so users never write the launcher line.

The resolved config is written to `output_dir/launch/docvl.yaml` and each of the N processes runs
`python -m docvl.train.run CONFIG`, so every rank trains on exactly the config the user resolved.
On a machine without GPUs `--gpus N` is an error unless `train.use_cpu=true` (N CPU processes, gloo backend).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from docvl.config import DocvlConfig, save_config
from docvl.errors import UsageError
from docvl.system import free_port

DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class Launch:
    """Where this run goes: how many processes per node, nodes, this node's rank and the rendezvous host."""

    gpus: int | None = None
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None

    @property
    def processes(self) -> int:
        """Processes per node (`--gpus`, 1 when not given)."""
        return 1 if self.gpus is None else self.gpus

    @property
    def distributed(self) -> bool:
        return self.processes > 1 or self.nnodes > 1


def inside_launcher() -> bool:
    """True in a process torchrun started (it sets LOCAL_RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def check_launch(launch: Launch, config: DocvlConfig) -> None:
    """Refuse launches that cannot work, before anything is loaded."""
    if launch.processes < 1 or launch.nnodes < 1 or not 0 <= launch.node_rank < launch.nnodes:
        raise UsageError(
            f"--gpus {launch.gpus} --nnodes {launch.nnodes} --node-rank {launch.node_rank} is not a valid launch"
        )
    if launch.nnodes > 1 and launch.master_addr in ("127.0.0.1", "localhost"):
        raise UsageError("--nnodes > 1 needs --master-addr HOST (the address of node 0)")
    if config.train.use_cpu or launch.gpus is None:
        return
    import torch

    available = torch.cuda.device_count()
    if launch.gpus > available:
        hint = "set train.use_cpu=true to run CPU processes" if available == 0 else None
        raise UsageError(f"--gpus {launch.gpus} but this machine has {available} GPU(s)", hint=hint)


def torchrun_command(launch: Launch, config_file: Path, resume: str | None) -> list[str]:
    """The torchrun command line this launch runs on this node."""
    port = launch.master_port or (DEFAULT_MASTER_PORT if launch.nnodes > 1 else free_port())
    command = [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc_per_node={launch.processes}", f"--nnodes={launch.nnodes}", f"--node_rank={launch.node_rank}",
        f"--master_addr={launch.master_addr}", f"--master_port={port}",
        "-m", "docvl.train.run", str(config_file),
    ]  # fmt: skip
    return command + (["--resume", resume] if resume else [])


def relaunch(launch: Launch, config: DocvlConfig, resume: str | None) -> int:
    """Run this training under torchrun on this node; returns torchrun's exit code."""
    config_dir = Path(config.train.output_dir) / "launch"
    config_file = save_config(config, config_dir)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.call(torchrun_command(launch, config_file, resume), env=env)
