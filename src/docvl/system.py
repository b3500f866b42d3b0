"""What this machine offers the stages: the cores they may use, free loopback ports, worker processes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def usable_cpus() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def user_cache_dir(*parts: str) -> Path:
    """docvl's folder `parts` under the user's cache: `$XDG_CACHE_HOME/docvl/...` (default `~/.cache`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "docvl", *parts)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a server we are about to start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_pool(workers: int, start_method: str | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers die with the process that made it and leave Ctrl-C to it.

    A SIGKILLed parent runs no cleanup: its workers would live on, and with them the forkserver and the
    multiprocessing resource tracker (both stay while any worker holds their pipes). Each worker therefore
    watches the parent's pid (and, where the parent is its own parent, asks the kernel for SIGKILL when it
    dies). Workers ignore SIGINT, so a Ctrl-C in a terminal, which reaches the whole process group, is handled
    once by the parent instead of printing a traceback per worker. Create and shut the pool down in one thread.
    """
    import multiprocessing

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


def _worker_init(parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() == parent_pid:  # forked directly (a forkserver's workers are its children instead)
        _die_with_parent()
    threading.Thread(target=_exit_when_gone, args=(parent_pid,), name="docvl-parent-watch", daemon=True).start()


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills this process when its parent exits (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watch thread does the job
        pass


def _exit_when_gone(pid: int) -> None:
    """Block until process `pid` exits (a pidfd where the kernel has them, else a poll), then end this one."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while _alive(pid):
            time.sleep(1.0)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, then raise it. Inside C callbacks (pypdfium2's writer) a
    KeyboardInterrupt is printed as "Exception ignored" and lost, and the run goes on as if nothing happened."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield
        return
    caught: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def check_port_free(host: str, port: int) -> None:
    """Fail at once, naming the port, when something listens there already (a server would find out only
    after loading its model)."""
    from docvl.errors import UsageError

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no conflict
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}", hint="--port PORT") from None


def name_cpu_accelerator() -> None:
    """On a machine without GPUs, tell DeepSpeed it runs on CPU (inherited by the processes we start): imported
    by transformers, it would warn "Setting accelerator to CPU ... unable to detect it" on every run otherwise."""
    import torch

    if "DS_ACCELERATOR" not in os.environ and not torch.cuda.is_available():
        os.environ["DS_ACCELERATOR"] = "cpu"
