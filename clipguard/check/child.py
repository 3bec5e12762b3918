"""The child process of `clipguard check`: import the target, run its pipeline on each probe.

Protocol (pickles on the original stdout; the user's prints go to stderr, which the parent
captures): ("ready", name, description) or ("load-error", message); then, after reading the
probes and the options from stdin, what `execute.run_probes` sends: ("start", probe name) and
("output", Output) per probe, ("input", form, why) when the pipeline refused PIL images and took
another form (the probes follow again in that form); then ("done",).
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


def main(argv: list[str]) -> None:
    target, memory = argv[0], int(argv[1])
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print in user code must not corrupt the protocol

    def send(*message) -> None:
        pickle.dump(message, channel, protocol=pickle.HIGHEST_PROTOCOL)
        channel.flush()

    _exit_with_parent()
    _limit_memory(memory)
    from clipguard.check.execute import describe, describe_pipeline, run_probes, where
    from clipguard.check.loading import LoadError, find_pipeline, import_target, split_target

    spec, object_name = split_target(target)
    try:
        pipeline, name = find_pipeline(import_target(spec), object_name)
    except LoadError as error:
        send("load-error", str(error))
        return
    except BaseException as error:  # noqa: BLE001 - anything the import does is the user's
        send("load-error", f"importing {spec} failed: {describe(error)}{where(error)}")
        return
    try:
        description = describe_pipeline(pipeline)
    except Exception:  # noqa: BLE001 - user objects may raise on any attribute; it only informs
        description = {}
    send("ready", name, description)
    probes, options = pickle.load(sys.stdin.buffer)
    # A per-probe failure, even sys.exit, is a finding: catch everything.
    run_probes(pipeline, probes, options["input"], options["folder"], send, catch=BaseException)
    send("done")


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
