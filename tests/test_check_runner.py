"""Loading rules, output adapters, child-process isolation and the exit codes of `check`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from clipguard.check.adapt import adapt
from clipguard.check.command import check
from clipguard.check.loading import LoadError, find_pipeline, import_target, split_target
from clipguard.check.probes import probe_set
from clipguard.check.runner import RunFailure, run_pipeline
from clipguard.check.types import Probe

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ROOT / "fixtures" / "pipelines"
PYTHON = sys.executable

# A correct pipeline in numpy and Pillow only: its child starts in a fraction of a second.
NUMPY_PIPELINE = (PIPELINES / "numpy_reimplementation.py").read_text()


def _write(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def _small_probes() -> list[Probe]:
    rgb = Image.fromarray(np.arange(300 * 200 * 3, dtype=np.uint8).reshape(200, 300, 3))
    return [
        Probe("a-rgb", rgb),
        Probe("b-rgba", rgb.convert("RGBA")),
        Probe("c-l", rgb.convert("L")),
    ]


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize(
    "target, expected",
    [
        ("pipe.py", ("pipe.py", None)),
        ("pipe.py:preprocess", ("pipe.py", "preprocess")),
        ("pkg.module:Factory.build", ("pkg.module", "Factory.build")),
        ("pkg.module", ("pkg.module", None)),
        ("C:\\work\\pipe.py", ("C:\\work\\pipe.py", None)),
        ("dir/pipe.py:obj", ("dir/pipe.py", "obj")),
    ],
)
def test_split_target(target, expected):
    assert split_target(target) == expected


def _find(tmp_path, code, object_name=None, name="target_module.py"):
    module = import_target(str(_write(tmp_path, name, code)))
    pipeline, found = find_pipeline(module, object_name)
    return pipeline, found


def test_named_pipelines_in_design_order(tmp_path):
    code = """
        def transform(image): return "transform"
        def preprocess(image): return "preprocess"
    """
    pipeline, name = _find(tmp_path, code, name="order_a.py")
    assert (name, pipeline(None)) == ("preprocess", "preprocess")


def test_object_wins_and_may_be_dotted(tmp_path):
    code = """
        class Holder:
            @staticmethod
            def run(image): return "run"
        def preprocess(image): return "preprocess"
    """
    pipeline, name = _find(tmp_path, code, "Holder.run", name="dotted.py")
    assert (name, pipeline(None)) == ("Holder.run", "run")


def test_list_of_transforms_is_composed(tmp_path):
    code = """
        transforms = [lambda x: x + 1, lambda x: x * 10]
    """
    pipeline, name = _find(tmp_path, code, name="listed.py")
    assert (name, pipeline(1)) == ("transforms", 20)


def test_zero_argument_factory(tmp_path):
    code = """
        def build_transform():
            return lambda image: ("built", image)
    """
    pipeline, name = _find(tmp_path, code, name="factory.py")
    assert (name, pipeline(3)) == ("build_transform()", ("built", 3))


def test_only_callable_taking_one_image(tmp_path):
    code = """
        import os
        from os.path import join
        SIZE = 224
        def helper(a, b): return a
        def my_preprocessing(image): return "mine"
        def _private(image): return "private"
    """
    pipeline, name = _find(tmp_path, code, name="only_one.py")
    assert (name, pipeline(None)) == ("my_preprocessing", "mine")


def test_only_callable_finds_module_instances(tmp_path):
    code = """
        import torch
        class Net(torch.nn.Module):
            def forward(self, image): return image
        net = Net()
    """
    _, name = _find(tmp_path, code, name="instances.py")
    assert name == "net"


def test_several_candidates_is_an_error(tmp_path):
    code = """
        def first(image): return 1
        def second(image): return 2
    """
    with pytest.raises(LoadError, match="first, second"):
        _find(tmp_path, code, name="several.py")


def test_no_pipeline_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="no pipeline found"):
        _find(tmp_path, "SIZE = 224\n", name="nothing.py")


def test_missing_object_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="no attribute 'missing'"):
        _find(tmp_path, "def preprocess(image): return image\n", "missing", name="miss.py")


def test_torchvision_module_named_transforms_is_not_a_pipeline(tmp_path):
    code = """
        from torchvision import transforms
        def clip_preprocess(image): return image
    """
    _, name = _find(tmp_path, code, name="tv_module.py")
    assert name == "clip_preprocess"


# ---------------------------------------------------------------- adapters


def test_adapt_tensor_chw_and_batch_of_one():
    tensor = torch.rand(3, 8, 8)
    plain, batched = adapt("p", tensor), adapt("p", tensor[None])
    assert np.array_equal(plain.array, tensor.numpy())
    assert np.array_equal(batched.array, tensor.numpy())
    assert batched.notes["batch"] == 1 and batched.notes["shape"] == (1, 3, 8, 8)
    assert plain.notes["type"] == "tensor" and "batch" not in plain.notes


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64, torch.bfloat16])
def test_adapt_float_dtypes(dtype):
    tensor = torch.rand(1, 3, 4, 4)
    output = adapt("p", tensor.to(dtype))
    assert output.array.dtype == np.float32
    assert output.notes["dtype"] == str(dtype).removeprefix("torch.")
    assert np.allclose(output.array, tensor[0].numpy(), atol=1e-2)


def test_adapt_numpy_hwc_is_transposed_and_noted():
    array = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    output = adapt("p", array)
    assert output.notes["layout"] == "hwc" and output.array.shape == (3, 8, 8)
    assert np.array_equal(output.array, array.transpose(2, 0, 1))


def test_adapt_pil_and_pixel_values_containers():
    image = Image.new("RGB", (6, 4), (10, 20, 30))
    output = adapt("p", image)
    assert output.notes["type"] == "PIL" and "layout" not in output.notes
    assert output.array.shape == (3, 4, 6) and output.array[:, 0, 0].tolist() == [10, 20, 30]
    from transformers import BatchFeature

    feature = BatchFeature({"pixel_values": torch.ones(1, 3, 4, 4)})
    for value in (feature, {"pixel_values": [np.ones((3, 4, 4))]}):
        output = adapt("p", value)
        assert output.notes["container"] == "pixel_values" and output.array.shape == (3, 4, 4)


def test_adapt_unusable_values_become_errors():
    assert "None" in adapt("p", None).error
    assert "str" in adapt("p", "an image").error
    assert adapt("p", torch.ones(2, 3, 4, 4)).notes["batch"] == 2


# ---------------------------------------------------------------- comparison


def _compare(array, reference, notes=None, error=None):
    from clipguard.check.compare import compare
    from clipguard.check.types import Output

    probe = Probe("p", Image.new("RGB", (4, 4)))
    return compare(probe, Output("p", array, error=error, notes=notes or {}), reference)


def test_compare_statuses_follow_the_design_tolerance():
    from clipguard.check.tolerance import EQUIVALENT_MAX_ABS

    reference = np.zeros((3, 4, 4), np.float32)
    assert _compare(reference.copy(), reference).status == "exact"
    # One 8-bit step in the green channel, normalized in float32 as every pipeline does it.
    levels = np.arange(256, dtype=np.float32) / np.float32(255)
    green = (levels - np.float32(0.4578275)) / np.float32(0.26130258)
    worst = int(np.argmax(np.diff(green)))
    assert green[worst + 1] - green[worst] > (1 / 255) / 0.26130258  # a few ulps over the step ...
    assert green[worst + 1] - green[worst] <= EQUIVALENT_MAX_ABS
    lower, upper = reference.copy(), reference.copy()
    lower[1], upper[1] = green[worst], green[worst]
    upper[1, 0, 0] = green[worst + 1]
    assert _compare(upper, lower).status == "equivalent"  # ... and still one step
    upper[1, 0, 0] = green[worst + 2]
    assert _compare(upper, lower).status == "drift"
    spread = reference + 0.002  # every pixel a little off: mean abs over 1e-3
    assert _compare(spread, reference).status == "drift"
    with_nan = reference.copy()
    with_nan[1, 2, 2] = np.nan
    assert _compare(with_nan, reference).status == "drift"


def test_compare_shape_layout_and_error():
    reference = np.zeros((3, 4, 4), np.float32)
    assert _compare(np.zeros((3, 5, 5), np.float32), reference).status == "shape"
    hwc = _compare(reference.copy(), reference, notes={"layout": "hwc", "shape": (4, 4, 3)})
    assert (hwc.status, hwc.max_abs, hwc.shape) == ("shape", 0.0, (4, 4, 3))
    failed = _compare(None, reference, error="ValueError: no")
    assert (failed.status, failed.error) == ("error", "ValueError: no")


# ---------------------------------------------------------------- isolation (child process)


def test_prints_are_captured_and_outputs_intact(tmp_path):
    target = _write(
        tmp_path,
        "chatty.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        import os, sys
        print("hello from import")
        _inner = preprocess
        def preprocess(image):
            print("processing", image.size)
            os.write(1, b"raw bytes on fd 1\\n")
            return _inner(image)
    """),
    )
    result = run_pipeline(str(target), _small_probes(), timeout=60)
    assert result.pipeline == "preprocess"
    assert all(o.error is None and o.array.shape == (3, 224, 224) for o in result.outputs.values())
    assert "hello from import" in result.captured and "raw bytes on fd 1" in result.captured


def test_raise_and_exit_on_some_probes(tmp_path):
    target = _write(
        tmp_path,
        "picky.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        import sys
        _inner = preprocess
        def preprocess(image):
            if image.mode == "RGBA":
                raise ValueError("no alpha please")
            if image.mode == "L":
                sys.exit(3)
            return _inner(image)
    """),
    )
    outputs = run_pipeline(str(target), _small_probes(), timeout=60).outputs
    assert outputs["a-rgb"].error is None
    assert outputs["b-rgba"].error.startswith("ValueError: no alpha please")
    assert "picky.py" in outputs["b-rgba"].error  # where it raised
    assert "sys.exit(3)" in outputs["c-l"].error


def test_segfault_on_one_probe_restarts_for_the_rest(tmp_path):
    target = _write(
        tmp_path,
        "crashy.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        import ctypes
        _inner = preprocess
        def preprocess(image):
            if image.mode == "RGBA":
                ctypes.string_at(0)
            return _inner(image)
    """),
    )
    result = run_pipeline(str(target), _small_probes(), timeout=60)
    assert "SIGSEGV" in result.outputs["b-rgba"].error
    assert result.outputs["a-rgb"].error is None and result.outputs["c-l"].error is None
    assert result.restarts == 1


def test_hang_times_out_and_names_the_probe(tmp_path):
    target = _write(
        tmp_path,
        "hangs.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        import time
        _inner = preprocess
        def preprocess(image):
            if image.mode == "RGBA":
                time.sleep(600)
            return _inner(image)
    """),
    )
    started = time.monotonic()
    with pytest.raises(RunFailure, match=r"timed out after 3 s on probe b-rgba \(1 of 3"):
        run_pipeline(str(target), _small_probes(), timeout=3)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "code, message",
    [
        (
            "import no_such_module_here\n",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        ("import sys\nsys.exit(4)\n", "sys.exit(4)"),
        ("SIZE = 1\n", "no pipeline found"),
        ("import ctypes\nctypes.string_at(0)\n", "SIGSEGV"),
    ],
)
def test_import_failures(tmp_path, code, message):
    target = _write(tmp_path, "broken.py", code)
    with pytest.raises(RunFailure, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_pipeline(str(target), _small_probes(), timeout=60)


def test_memory_limit_turns_huge_allocations_into_errors(tmp_path):
    target = _write(
        tmp_path,
        "greedy.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        _inner = preprocess
        def preprocess(image):
            if image.mode == "L":
                np.ones((64, 1024, 1024, 1024), dtype=np.uint8)  # 64 GiB
            return _inner(image)
    """),
    )
    outputs = run_pipeline(str(target), _small_probes(), timeout=60, memory_mb=2048).outputs
    assert outputs["c-l"].error.startswith("MemoryError")
    assert outputs["a-rgb"].error is None


def test_module_name_target(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "prep.py").write_text(NUMPY_PIPELINE)
    monkeypatch.chdir(tmp_path)
    result = run_pipeline("mypkg.prep:preprocess", _small_probes(), timeout=60)
    assert result.pipeline == "preprocess" and result.outputs["a-rgb"].error is None


# ---------------------------------------------------------------- the command


def _cli(*args, cwd=ROOT, timeout=120):
    return subprocess.run(
        [PYTHON, "-m", "clipguard.check.command", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_pass_exit_0():
    done = _cli("fixtures/pipelines/numpy_reimplementation.py", "--probes", "quick")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1].startswith("PASS")
    assert done.stderr == ""  # no progress line: stderr is not a terminal


def test_cli_drift_exit_1_with_json_per_design(tmp_path):
    done = _cli(
        "fixtures/pipelines/opencv_style.py",
        "--format",
        "json",
        "--probes",
        "quick",
        "--save-diffs",
        str(tmp_path / "diffs"),
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert {"verdict", "model", "n_px", "causes", "probes"} <= set(report)  # additions allowed
    assert report["input"] == "pil" and report["unexplained"] == []
    assert (report["verdict"], report["model"], report["n_px"]) == ("fail", "ViT-B/32", 224)
    assert len(report["probes"]) == len(probe_set("quick"))
    for probe in report["probes"]:
        assert set(probe) == {"name", "mode", "size", "status", "max_abs", "mean_abs"}
    for cause in report["causes"]:
        assert {"id", "confidence", "evidence", "probes"} <= set(cause)
    images = sorted((tmp_path / "diffs").glob("*.png"))
    assert len(images) == len(report["probes"])  # every probe fails (HWC layout)
    with Image.open(images[0]) as image:
        assert image.width > 3 * 224 and image.height >= 224


@pytest.mark.parametrize(
    "args, message",
    [
        ([str(PIPELINES / "no_such_file.py")], "no such file"),
        ([str(PIPELINES / "numpy_reimplementation.py") + ":nope"], "no attribute 'nope'"),
        ([str(PIPELINES / "numpy_reimplementation.py"), "--model", "ViT-Q/99"], "unknown model"),
    ],
)
def test_cli_cannot_run_exit_2(args, message):
    done = CliRunner().invoke(check, args)
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert len(done.output.strip().splitlines()) == 1  # one clear line


def test_cli_timeout_exit_2(tmp_path):
    target = _write(tmp_path, "slow_import.py", "import time\ntime.sleep(600)\n")
    done = _cli(str(target), "--timeout", "2")
    assert done.returncode == 2
    assert "timed out after 2 s while importing" in done.stderr


def test_cli_model_option_and_inference(tmp_path):
    code = NUMPY_PIPELINE.replace("N_PX = 224", "N_PX = 336")
    target = _write(tmp_path, "big.py", code)
    done = _cli(str(target), "--probes", "quick")
    assert done.returncode == 0 and "ViT-L/14@336px" in done.stdout
    assert "inferred from the 336x336 output" in done.stdout
    done = _cli(str(target), "--probes", "quick", "--model", "ViT-B/32", "--format", "json")
    assert done.returncode == 1
    assert {p["status"] for p in json.loads(done.stdout)["probes"]} == {"shape"}


def test_ctrl_c_kills_the_child_and_exits_cleanly(tmp_path):
    pid_file = tmp_path / "child.pid"
    target = _write(
        tmp_path,
        "forever.py",
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
    """,
    )
    process = subprocess.Popen(
        [PYTHON, "-m", "clipguard.check.command", str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGINT)
    # generous: the signal may land while this process is still importing torch, which the
    # interpreter finishes before it raises KeyboardInterrupt (slow on a loaded CI machine)
    _, stderr = process.communicate(timeout=90)
    assert process.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(child, 0)
            time.sleep(0.05)


def test_command_module_is_cheap_to_import():
    code = (
        "import sys, clipguard.check.command\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = {'torch', 'numpy', 'PIL', 'torchvision'} & roots\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([PYTHON, "-c", code], check=True, cwd=ROOT)


def test_child_imports_nothing_heavy_the_target_does_not(tmp_path):
    target = _write(
        tmp_path,
        "light.py",
        NUMPY_PIPELINE
        + textwrap.dedent("""
        import sys
        _inner = preprocess
        def preprocess(image):
            heavy = {"torch", "torchvision", "transformers", "open_clip"} & set(sys.modules)
            assert not heavy, heavy
            return _inner(image)
    """),
    )
    outputs = run_pipeline(str(target), _small_probes(), timeout=60).outputs
    assert all(output.error is None for output in outputs.values())


def test_text_report_has_verdict_causes_and_table():
    target = str(PIPELINES / "opencv_style.py")
    done = CliRunner().invoke(check, [target, "--probes", "quick"])
    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert lines[0].startswith(f"clipguard check {target}: pipeline `preprocess` against ViT-B/32")
    assert lines[1].startswith("FAIL: preprocess differs from the reference on 10 of 10 probes")
    assert "Causes, most likely first:" in lines
    assert any(line.strip().startswith("1. layout.hwc") for line in lines)
    assert any(line.strip().startswith("fix: ") for line in lines)
    header = next(line for line in lines if line.strip().startswith("probe "))
    assert header.split() == [
        "probe",
        "mode",
        "size",
        "status",
        "max",
        "abs",
        "mean",
        "abs",
        "PSNR",
    ]


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a parent (or init) to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_child_ends_when_the_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    target = _write(
        tmp_path,
        "forever2.py",
        f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
    """,
    )
    process = subprocess.Popen(
        [PYTHON, "-m", "clipguard.check.command", str(target)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    process.kill()
    process.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def test_a_value_that_is_not_a_pipeline_is_named_with_its_article(tmp_path):
    with pytest.raises(LoadError, match="SIZE is an int, not a callable pipeline"):
        _find(tmp_path, "SIZE = 224\n", "SIZE", name="an_int.py")
