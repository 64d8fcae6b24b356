"""Ctrl-C, SIGTERM and SIGHUP: stop cleanly and leave no process behind.

Ray's driver turns SIGTERM into `sys.exit`. A command's own local Ray (GCS, raylet, workers)
and whatever Ray's workers spawned themselves (vLLM's engine core and its workers) are all
descendants of the command: they are frozen and killed, then the command exits. Joined to a
cluster, the command leaves it with `ray.shutdown()` and kills only what it started itself.
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread on any stop signal: a KeyboardInterrupt, so that no `except
    Exception` on the way swallows it and libraries wind down as they do on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 1)


def as_interrupt(exc: BaseException) -> Interrupted | None:
    """The stop signal behind `exc`, if any. Every `ray.init()` call (even one that only finds
    Ray running, as Ray Data LLM's processor builder makes) re-installs Ray's own SIGTERM
    handler, which exits with the signal number: that exit is the same interrupt."""
    if isinstance(exc, Interrupted):
        return exc
    if isinstance(exc, KeyboardInterrupt):  # Python's own, before our handlers were installed
        return Interrupted(signal.SIGINT)
    if isinstance(exc, SystemExit) and exc.code in (signal.SIGTERM, signal.SIGHUP):
        return Interrupted(exc.code)
    return None


_RECEIVED: list[int] = []  # the stop signals this process got, first one first


def _raise(signum: int, frame) -> None:
    _RECEIVED.append(signum)
    raise Interrupted(signum)


def received() -> Interrupted | None:
    """The first stop signal received, if any: an exception that surfaces after it (a Ray call
    cut short by the interrupt, raised in place of it) is that interrupt too."""
    return Interrupted(_RECEIVED[0]) if _RECEIVED else None


def install_handlers() -> None:
    """Called once Ray is up (ray.init installs its own SIGTERM handler, which this replaces)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, _raise)
    become_subreaper()


def become_subreaper() -> None:
    """Linux: orphaned descendants are re-parented to this process instead of init, so that
    the clean-up still finds the processes whose parent (a raylet) died first."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def stop_everything(own_ray: bool, grace_s: float = 5.0) -> int:
    """Stop every process this one started (and, joined to a cluster, leave it); returns how
    many were killed."""
    # A second Ctrl-C must not interrupt the clean-up itself.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in SIGNALS}
    try:
        return _stop_descendants(own_ray, grace_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_descendants(own_ray: bool, grace_s: float) -> int:
    import psutil

    try:
        descendants = psutil.Process().children(recursive=True)
    except psutil.Error:
        descendants = []
    if own_ray:
        # No ray.shutdown() here: a Ray Data thread still unwinding that calls into Ray after it
        # makes Ray's core worker end this process with exit code 1 ("...after it is shutdown.
        # The process will exit"), halfway through the clean-up. A local Ray's GCS, raylet and
        # workers are all descendants: killing them is the shutdown, and the caller exits next.
        return _kill_until_none_left(descendants, grace_s)
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except Exception:  # noqa: BLE001 - clean-up goes on whatever state Ray is in
        pass
    _, alive = psutil.wait_procs(descendants, timeout=grace_s)
    return _kill_until_none_left(alive, grace_s)


def _kill_until_none_left(alive: list, grace_s: float, passes: int = 3) -> int:
    """Kill the survivors, then look again: Ray's shutdown itself can start processes (a raylet
    restarts an agent it saw die), and as the subreaper this process inherits them when their
    parent goes, so each pass also takes whatever has become a child since the last one."""
    import psutil

    killed: set[int] = set()
    for _ in range(passes):
        try:
            known = {a.pid for a in alive}
            alive += [p for p in psutil.Process().children(recursive=True) if p.pid not in known]
        except psutil.Error:
            pass
        alive = [p for p in _freeze(alive) if _running(p)]
        if not alive:
            break
        for proc in alive:
            try:
                proc.kill()
                killed.add(proc.pid)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(alive, timeout=grace_s)
    return len(killed)


def _running(proc) -> bool:
    """Alive and not a zombie (an exit status nobody has collected yet holds nothing)."""
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _freeze(procs: list) -> list:
    """Stop (SIGSTOP) every survivor and whatever they started meanwhile, before killing any:
    a raylet killed alongside its agents could otherwise respawn one that outlives us."""
    import psutil

    frozen: dict[int, psutil.Process] = {}
    todo = list(procs)
    while todo:
        proc = todo.pop()
        if proc.pid in frozen:
            continue
        try:
            proc.suspend()
            frozen[proc.pid] = proc
            todo += proc.children(recursive=True)
        except psutil.Error:
            pass
    return list(frozen.values())
