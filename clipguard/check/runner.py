"""Run a user's pipeline on the probes in a child process, safe from whatever it does.

The child (`clipguard.check.child`) starts importing the target at once, while this process
generates the probes and computes the references. User code may print, call `sys.exit`, raise,
crash or hang: prints are captured, exits and exceptions become that probe's error, a crash
restarts the child for the remaining probes (twice at most), and a hang ends in a timeout.
"""

from __future__ import annotations

import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from clipguard.check.types import Output, Probe, RunResult

DEFAULT_TIMEOUT = 120.0
DEFAULT_MEMORY_MB = 8192
MAX_RESTARTS = 2
CAPTURE_LIMIT = 200_000  # bytes of the user's printed output kept (the last ones)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = (
    "import runpy, sys; sys.path.append(sys.argv.pop(1)); "
    "runpy.run_module('clipguard.check.child', run_name='__main__', alter_sys=True)"
)


class RunFailure(Exception):
    """The pipeline could not be run: import error, no pipeline, crash on import, timeout."""


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class _Child:
    """One child process and the threads that feed it and read from it."""

    def __init__(self, target: str, memory_mb: int, echo: TextIO | None = None) -> None:
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, _PACKAGE_ROOT, target, str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C reaches us only; we end the child
        )
        self.messages: queue.Queue = queue.Queue()
        self.captured = bytearray()
        self.echo = echo
        threading.Thread(target=self._read_messages, daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    def _read_messages(self) -> None:
        stream = self.process.stdout
        try:
            while True:
                self.messages.put(pickle.load(stream))
        except Exception:  # noqa: BLE001 - EOF or a torn message: the child is gone
            self.messages.put(("eof",))

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):
            self.captured += chunk
            if self.echo is not None:
                self.echo.write(chunk.decode("utf-8", "replace"))
                self.echo.flush()
            if len(self.captured) > 2 * CAPTURE_LIMIT:
                del self.captured[:-CAPTURE_LIMIT]

    def send(self, probes: list[Probe], options: dict[str, Any]) -> None:
        def write() -> None:
            try:
                message = (probes, options)
                pickle.dump(message, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the child died or stopped reading; its exit status tells why

        threading.Thread(target=write, daemon=True).start()

    def next_message(self, deadline: float) -> tuple:
        return self.messages.get(timeout=max(0.0, deadline - time.monotonic()))

    def exit_status(self) -> str:
        try:
            returncode = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return "unknown exit"
        return _signal_name(returncode)

    def captured_text(self) -> str:
        self._stderr_reader.join(timeout=1)
        return bytes(self.captured[-CAPTURE_LIMIT:]).decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the child and anything it spawned
            except (ProcessLookupError, PermissionError, AttributeError):
                self.process.kill()
        self.process.wait()


def _last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


class PipelineRun:
    """Start the child now; `send` the probes when ready; `collect` the outputs."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory_mb: int = DEFAULT_MEMORY_MB,
        input_form: str | None = None,
        echo: TextIO | None = None,
    ) -> None:
        self.target, self.timeout, self.memory_mb = target, timeout, memory_mb
        self.deadline = time.monotonic() + timeout
        self.echo = echo
        self.child = _Child(target, memory_mb, echo)
        self.probes: list[Probe] = []
        self.folder = tempfile.mkdtemp(prefix="clipguard-probes-")  # for --input path
        self.options = {"input": input_form, "folder": self.folder}

    def __enter__(self) -> PipelineRun:  # noqa: PYI034 - final class, no subclasses
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """End the child process and remove the probe folder (idempotent)."""
        self.child.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def send(self, probes: list[Probe]) -> None:
        """Queue the probes for the child; it reads them once the target is imported."""
        self.probes = list(probes)
        self.child.send(self.probes, self.options)

    def _timeout(self, where: str) -> RunFailure:
        self.close()
        return RunFailure(f"timed out after {self.timeout:g} s {where} (raise --timeout?)")

    def _wait_ready(self) -> tuple[str, dict[str, Any]]:
        try:
            message = self.child.next_message(self.deadline)
        except queue.Empty:
            raise self._timeout(f"while importing {self.target}") from None
        if message[0] == "ready":
            return message[1], message[2]
        if message[0] == "load-error":
            raise RunFailure(message[1])
        status = self.child.exit_status()
        detail = _last_lines(self.child.captured_text())
        raise RunFailure(
            f"importing {self.target} crashed the process ({status})"
            + (f":\n{detail}" if detail else "")
        )

    def collect(self, progress: Callable[[int, int, str], None] | None = None) -> RunResult:
        """Wait for every probe's Output; raises RunFailure when the pipeline cannot be run."""
        name, description = self._wait_ready()
        outputs: dict[str, Output] = {}
        result = RunResult(
            name, outputs, description=description, input_form=self.options["input"] or "pil"
        )
        total = len(self.probes)
        while True:
            crashed = self._collect_some(result, total, progress)
            if crashed is None:
                break
            probe, status = crashed
            message = f"the pipeline crashed the process ({status})"
            outputs[probe] = Output(probe, None, error=message)
            result.notes.append(f"{probe}: crashed ({status})")
            remaining = [p for p in self.probes if p.name not in outputs]
            if not remaining:
                break
            if result.restarts == MAX_RESTARTS:
                for p in remaining:
                    outputs[p.name] = Output(p.name, None, error="not run: the pipeline crashes")
                break
            result.captured += self.child.captured_text()
            result.restarts += 1
            self.child = _Child(self.target, self.memory_mb, self.echo)
            form = result.input_form if result.refusal else self.options["input"]
            self.child.send(remaining, dict(self.options, input=form))
            self._wait_ready()
        result.captured += self.child.captured_text()
        self.close()
        return result

    def _collect_some(
        self, result: RunResult, total: int, progress: Callable[[int, int, str], None] | None
    ) -> tuple[str, str] | None:
        outputs, current = result.outputs, None
        while True:
            try:
                message = self.child.next_message(self.deadline)
            except queue.Empty:
                where = f"on probe {current}" if current else "after the last probe"
                raise self._timeout(f"{where} ({len(outputs)} of {total} probes done)") from None
            kind = message[0]
            if kind == "start":
                current = message[1]
                if progress is not None:
                    progress(len(outputs), total, current)
            elif kind == "output":
                outputs[message[1].probe] = message[1]
                current = None
            elif kind == "input":  # the probes come again, in the form the pipeline took
                result.input_form, result.refusal = message[1], message[2]
                outputs.clear()
            elif kind == "done":
                return None
            else:  # eof: the process ended in the middle of the run
                status = self.child.exit_status()
                if current is None:
                    current = next((p.name for p in self.probes if p.name not in outputs), "?")
                return current, status


def run_pipeline(
    target: str,
    probes: list[Probe],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    input_form: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> RunResult:
    """Import TARGET in a child process and run its pipeline on every probe."""
    with PipelineRun(target, timeout=timeout, memory_mb=memory_mb, input_form=input_form) as run:
        run.send(probes)
        return run.collect(progress)
