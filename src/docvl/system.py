"""What this machine offers the stages: the cores they may use and free loopback ports."""

from __future__ import annotations

import os
import socket


def usable_cpus() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a server we are about to start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
