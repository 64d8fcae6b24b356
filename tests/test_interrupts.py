"""Stop signals: a command that is interrupted leaves no process behind and says how to resume."""

import importlib.util
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml



def _tree(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        return []


def _alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {p.name()}")
        except psutil.Error:
            pass
    return out


_STOP_SCRIPT = """
import signal, subprocess, sys, time
import psutil
from metamath.interrupts import stop_everything
code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, "
        "signal.SIG_IGN); time.sleep(600)']); time.sleep(600)")
child = subprocess.Popen([sys.executable, "-c", code])
deadline = time.time() + 20
while len(psutil.Process(child.pid).children()) < 1 and time.time() < deadline:
    time.sleep(0.1)
tree = [psutil.Process(child.pid), *psutil.Process(child.pid).children(recursive=True)]
before = signal.getsignal(signal.SIGINT)
killed = stop_everything(own_ray=False, grace_s=1)
alive = [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
print(len(tree), killed, len(alive), signal.getsignal(signal.SIGINT) is before)
"""


def test_stop_everything_kills_grandchildren_that_ignore_sigterm():
    # A fresh interpreter, so the only descendants are the ones it starts (this session's own Ray stays alive):
    # a child that spawns a grandchild, both ignoring SIGTERM, like an engine process that hangs on.
    out = subprocess.run([sys.executable, "-c", _STOP_SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "2", "0", "True"]


def _interrupt_cli(tmp_path, backend: str, sig: int, ready) -> tuple[int, str, list[str]]:
    config = {"evaluate": {"backend": backend, "benchmarks": ["gsm8k"], "limit": 16, "max_tokens": {"gsm8k": 256},
                           "batch_size": 4, "output_dir": str(tmp_path / "eval")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "metamath", "evaluate", "--config", str(tmp_path / "c.yaml")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline, seen = time.time() + 400, {}
    while time.time() < deadline and not ready(list(seen.values())):
        for p in _tree(proc):
            seen.setdefault(p.pid, p)
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.5)
    assert ready(list(seen.values())), "the job never got going"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, _leftovers(list(seen.values()), proc.pid)


def _leftovers(seen: list[psutil.Process], group: int, settle_s: float = 15.0) -> list[str]:
    """What still runs of the command's processes (those seen, and any in its process group)
    once a process killed on the way out has had `settle_s` to be gone."""
    deadline = time.time() + settle_s
    while True:
        found = _alive(seen + [p for p in psutil.process_iter() if _pgid(p) == group])
        if not found or time.time() > deadline:
            return sorted(set(found))
        time.sleep(0.5)


def _pgid(p: psutil.Process) -> int | None:
    try:
        return os.getpgid(p.pid)
    except OSError:
        return None


def _named(fragment: str):
    def ready(procs: list[psutil.Process]) -> bool:
        for p in procs:
            try:
                if fragment in " ".join(p.cmdline()) or fragment in p.name():
                    return True
            except psutil.Error:
                pass
        return False

    return ready


@pytest.mark.slow
def test_ctrl_c_during_an_hf_evaluation_stops_ray_and_says_how_to_resume(data_root, tmp_path):
    code, err, leftovers = _interrupt_cli(tmp_path, "hf", signal.SIGINT, _named("HFWorker"))
    assert code == 130 and "re-run the same command to resume" in err and leftovers == [], (code, err[-3000:], leftovers)


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed (make test-vllm)")
def test_sigterm_during_a_vllm_evaluation_leaves_no_engine_process(data_root, tmp_path):
    code, err, leftovers = _interrupt_cli(tmp_path, "vllm", signal.SIGTERM, _named("VLLM::EngineCore"))
    assert code == 143 and leftovers == [], (leftovers, err[-6000:])
