"""Benchmark clipguard against its peers, in one run, alternating, on this machine.

    python bench/run.py [--repeat 5] [--skip-torchfix] [--skip-check]

Copies the installed transformers source to a temporary directory, adds a Jupyter notebook beside
each module of the CLIP-family models (its code split into cells, with outputs), then times:
- `clipguard lint --no-cache` vs `ruff check --no-cache` on the whole tree (cold), and the peak
  RSS of one clipguard process there;
- the same on a research mix: open_clip, openai/CLIP and 24 transformers model folders;
- clipguard vs TorchFix (and Fixit, if installed) on 59 files of CLIP-family models;
- the cached re-run of clipguard on the whole tree;
- `clipguard lint one_file.py` vs `python -c "import libcst, click"`;
- `clipguard check` (full probes) vs `python -c "import torch, torchvision"`.
Prints medians and ratios against the targets. Nothing here is a test: CI times nothing.
clipguard's bytecode is compiled first, as `pip install` does for every peer's package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
SUBSET = [
    "clip",
    "clipseg",
    "x_clip",
    "altclip",
    "chinese_clip",
    "owlvit",
    "siglip",
    "blip",
    "vit",
    "convnext",
]


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found; install the test extra and ruff/torchfix")
    return found


def wall(command: list[str], cwd: Path, timeout: float = 900) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        check=False,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=timeout,
    )
    return time.perf_counter() - start


def alternate(
    commands: dict[str, list[str]], cwd: Path, repeat: int, before=None
) -> dict[str, float]:
    """Median wall time of each command, running them in turn `repeat` times."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            if before:
                before(name)
            times[name].append(wall(command, cwd))
    return {name: statistics.median(values) for name, values in times.items()}


MIX_FOLDERS = 24


def research_mix(tree: Path, mix: Path) -> Path | None:
    """open_clip and openai/CLIP as installed, and the CLIP-family and vision model folders of
    transformers (SUBSET first), MIX_FOLDERS of them; None without open_clip or clip."""
    try:
        import clip
        import open_clip
    except ImportError:
        return None
    for package in (open_clip, clip):
        root = Path(package.__file__).parent
        shutil.copytree(root, mix / root.name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    others = sorted(
        p.name for p in (tree / "models").iterdir() if p.is_dir() and p.name not in SUBSET
    )
    vision = [n for n in others if any((tree / "models" / n).glob("image_processing_*.py"))]
    for name in [*SUBSET, *vision][:MIX_FOLDERS]:
        shutil.copytree(
            tree / "models" / name, mix / "models" / name, ignore=shutil.ignore_patterns("*.ipynb")
        )
    return mix


def peak_rss_mb(command: list[str], cwd: Path) -> float:
    """The largest resident set of any one process the command runs (workers included)."""
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return int(out.stdout.strip() or 0) / 1024


def report(title: str, medians: dict[str, float], ours: str, peer: str, target: str, ok) -> None:
    ratio = medians[ours] / medians[peer]
    print(f"\n{title}")
    for name, value in medians.items():
        print(f"  {name:<28} {value:8.3f} s")
    print(
        f"  ratio {ours}/{peer} = {ratio:.3f}   target {target}   {'OK' if ok(ratio) else 'MISSED'}"
    )


# A base64 PNG output of about 40 KB, as a plotted image leaves in a notebook.
IMAGE_OUTPUT = {
    "data": {"image/png": "iVBORw0KGgo" + "A" * 40_000, "text/plain": ["<Figure>"]},
    "metadata": {},
    "output_type": "display_data",
}


def add_notebooks(tree: Path) -> int:
    """Write `name.ipynb` beside each CLIP-family module: its code cut into cells at top-level
    definitions, a markdown cell and a plotted output every few cells, `%matplotlib` first."""
    import json

    count = 0
    for name in SUBSET:
        for module in sorted((tree / "models" / name).glob("*.py")):
            cells = [
                {
                    "cell_type": "code",
                    "execution_count": 1,
                    "metadata": {},
                    "outputs": [],
                    "source": ["%matplotlib inline\n", "!nvidia-smi"],
                }
            ]
            for index, chunk in enumerate(module.read_text(encoding="utf-8").split("\n\n\n")):
                if index % 4 == 3:
                    cells.append(
                        {"cell_type": "markdown", "metadata": {}, "source": [f"## Part {index}"]}
                    )
                outputs = [IMAGE_OUTPUT] if index % 4 == 2 else []
                cells.append(
                    {
                        "cell_type": "code",
                        "execution_count": index + 2,
                        "metadata": {},
                        "outputs": outputs,
                        "source": chunk.strip("\n").splitlines(keepends=True),
                    }
                )
            notebook = {
                "cells": cells,
                "metadata": {"language_info": {"name": "python"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
            module.with_suffix(".ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-torchfix", action="store_true")
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()

    import transformers

    source = Path(transformers.__file__).parent
    clipguard = tool("clipguard")
    # Time clipguard as installed: pip writes bytecode for the peers' packages at install time,
    # but an editable checkout (or PYTHONDONTWRITEBYTECODE) would compile clipguard on every run.
    import clipguard as package

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "transformers"
        shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        files = list(tree.rglob("*.py"))
        notebooks = add_notebooks(tree)
        print(
            f"transformers {transformers.__version__}: {len(files)} files, "
            f"{sum(len(f.read_bytes().splitlines()) for f in files):,} lines, {notebooks} notebooks; "
            f"{os.cpu_count()} cores"
        )

        cold = alternate(
            {
                "clipguard lint --no-cache": [clipguard, "lint", "--no-cache", "--exit-zero", "."],
                "ruff check --no-cache": [
                    tool("ruff"),
                    "check",
                    "--no-cache",
                    "--exit-zero",
                    "--quiet",
                    ".",
                ],
            },
            tree,
            args.repeat,
        )
        report(
            "Whole tree, cold",
            cold,
            "clipguard lint --no-cache",
            "ruff check --no-cache",
            "<= 1.5",
            lambda r: r <= 1.5,
        )
        print(
            f"  peak RSS of one clipguard process: {peak_rss_mb([clipguard, 'lint', '--no-cache', '--exit-zero', '.'], tree):.0f} MB   target <= 300 MB"
        )

        mix = research_mix(tree, Path(tmp) / "mix")
        if mix is not None:
            mixed = alternate(
                {
                    "clipguard lint --no-cache": [
                        clipguard,
                        "lint",
                        "--no-cache",
                        "--exit-zero",
                        ".",
                    ],
                    "ruff check --no-cache": [
                        tool("ruff"),
                        "check",
                        "--no-cache",
                        "--exit-zero",
                        "--quiet",
                        ".",
                    ],
                },
                mix,
                args.repeat,
            )
            report(
                f"Research mix ({len(list(mix.rglob('*.py')))} files: open_clip, clip, {MIX_FOLDERS} model folders)",
                mixed,
                "clipguard lint --no-cache",
                "ruff check --no-cache",
                "<= 3.0",
                lambda r: r <= 3.0,
            )

        subset = Path(tmp) / "subset"
        for name in SUBSET:
            shutil.copytree(
                tree / "models" / name, subset / name, ignore=shutil.ignore_patterns("*.ipynb")
            )
        n = len(list(subset.rglob("*.py")))
        if not args.skip_torchfix:
            peers = {
                "clipguard lint --no-cache": [clipguard, "lint", "--no-cache", "--exit-zero", "."],
                "torchfix": [tool("torchfix"), "."],
            }
            if shutil.which("fixit", path=str(BIN)):
                peers["fixit lint"] = [tool("fixit"), "lint", "."]
            sub = alternate(peers, subset, max(1, args.repeat // 2))
            report(
                f"CLIP-family subset ({n} files)",
                sub,
                "clipguard lint --no-cache",
                "torchfix",
                "<= 0.05 (20x faster)",
                lambda r: r <= 0.05,
            )

        subprocess.run(
            [clipguard, "lint", "--exit-zero", "."],
            check=False,
            cwd=tree,
            stdout=subprocess.DEVNULL,
        )
        cached = alternate(
            {"clipguard lint (cached)": [clipguard, "lint", "--exit-zero", "."]}, tree, args.repeat
        )
        value = cached["clipguard lint (cached)"]
        print(
            f"\nCached re-run of the unchanged tree: {value:.3f} s   target <= 0.3 s   "
            f"{'OK' if value <= 0.3 else 'MISSED'}"
        )

        one = tree / "models" / "clip" / "modeling_clip.py"
        single = alternate(
            {
                "clipguard lint one file": [
                    clipguard,
                    "lint",
                    "--no-cache",
                    "--exit-zero",
                    str(one),
                ],
                "python -c 'import libcst, click'": [sys.executable, "-c", "import libcst, click"],
            },
            tree,
            args.repeat * 2,
        )
        report(
            "Single-file start-up",
            single,
            "clipguard lint one file",
            "python -c 'import libcst, click'",
            "<= 1.6",
            lambda r: r <= 1.6,
        )

    if not args.skip_check:
        pipeline = REPO / "fixtures" / "pipelines" / "correct.py"
        check = alternate(
            {
                "clipguard check --probes full": [
                    clipguard,
                    "check",
                    "--probes",
                    "full",
                    str(pipeline),
                ],
                "python -c 'import torch, torchvision'": [
                    sys.executable,
                    "-c",
                    "import torch, torchvision",
                ],
            },
            REPO,
            args.repeat,
        )
        report(
            "Runtime check",
            check,
            "clipguard check --probes full",
            "python -c 'import torch, torchvision'",
            "<= 1.5",
            lambda r: r <= 1.5,
        )


if __name__ == "__main__":
    main()
