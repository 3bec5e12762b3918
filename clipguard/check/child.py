"""The child process of `clipguard check`: import the target, run its pipeline on each probe.

Protocol (pickles on the original stdout; the user's prints go to stderr, which the parent
captures): ("ready", name) or ("load-error", message); then, after reading the probes from
stdin, ("start", probe name) and ("output", Output) per probe; then ("done",).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import traceback


def _limit_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on Windows
        return
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _exit_with_parent() -> None:
    """End this process when the parent dies: we run in our own session, so nothing else will."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit: sys.exit({error.code!r}) was called"
    if isinstance(error, MemoryError):
        return "MemoryError: the memory limit was reached"
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}".rstrip(": ")


def _where(error: BaseException) -> str:
    """Where it raised, as file:line: the innermost frame of the user's own code if any."""
    frames = traceback.extract_tb(error.__traceback__)
    frames = [f for f in frames if not f.filename.startswith(os.path.dirname(__file__))]
    library = ("site-packages", "dist-packages", os.path.dirname(os.__file__))
    own = [f for f in frames if not any(part in f.filename for part in library)
           and not f.filename.startswith("<")]
    frame = (own or frames or [None])[-1]
    return f" ({frame.filename}:{frame.lineno})" if frame else ""


def main(argv: list[str]) -> None:
    target, memory = argv[0], int(argv[1])
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print in user code must not corrupt the protocol

    def send(*message) -> None:
        pickle.dump(message, channel, protocol=pickle.HIGHEST_PROTOCOL)
        channel.flush()

    _exit_with_parent()
    _limit_memory(memory)
    from clipguard.check.adapt import adapt
    from clipguard.check.loading import LoadError, find_pipeline, import_target, split_target

    spec, object_name = split_target(target)
    try:
        pipeline, name = find_pipeline(import_target(spec), object_name)
    except LoadError as error:
        send("load-error", str(error))
        return
    except BaseException as error:  # noqa: BLE001 - anything the import does is the user's
        send("load-error", f"importing {spec} failed: {_describe(error)}{_where(error)}")
        return
    send("ready", name)
    probes = pickle.load(sys.stdin.buffer)
    for probe in probes:
        send("start", probe.name)
        try:
            value = pipeline(probe.image)
        except BaseException as error:  # noqa: BLE001 - a per-probe failure is a finding
            send("output", _error_output(probe.name, f"{_describe(error)}{_where(error)}"))
            continue
        send("output", adapt(probe.name, value))
    send("done")


def _error_output(name: str, message: str):
    """An Output that records a raised exception."""
    from clipguard.check.types import Output

    return Output(name, None, error=message)


if __name__ == "__main__":
    status = 0
    try:
        main(sys.argv[1:])
    except BaseException:  # noqa: BLE001 - report, then leave without running user hooks
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown: user atexit hooks and non-daemon threads must not hang us.
    os._exit(status)
