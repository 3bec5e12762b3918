"""`--impact`: how far the drift moves the image embedding, with a CLIP model already on disk.

Each probe's reference and pipeline output go through the same image encoder; the cosine
similarity of the two (L2-normalized) embeddings is the drift in the units users care about.
Models are read from an open_clip folder (`open_clip_config.json` and weights), an open_clip
checkpoint file (with `--model open_clip:ARCH/TAG` for the architecture), a transformers model
folder, or the caches of openai-clip and Hugging Face; nothing is ever downloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clipguard.profiles import OPENAI_MODELS, Profile

AUTO = "auto"
BATCH = 8
# openai/CLIP `clip.py` _MODELS: the checkpoint file names under ~/.cache/clip.
OPENAI_FILES = {name: name.replace("/", "-").replace("@", "-") + ".pt" for name in OPENAI_MODELS}
# The transformers checkpoints of the OpenAI models.
OPENAI_HF = {
    "ViT-B/32": "openai/clip-vit-base-patch32",
    "ViT-B/16": "openai/clip-vit-base-patch16",
    "ViT-L/14": "openai/clip-vit-large-patch14",
    "ViT-L/14@336px": "openai/clip-vit-large-patch14-336",
}


class ImpactError(Exception):
    """No usable model: what was looked for, in one line."""


@dataclass(frozen=True)
class Source:
    kind: str  # open_clip-dir | open_clip-file | transformers | openai-clip
    location: str
    architecture: str | None = None  # open_clip-file only

    def describe(self) -> str:
        return f"{self.kind} {self.location}"


def _hf_cached(repo: str) -> str | None:
    """The snapshot folder of `repo` in the Hugging Face cache, if its config is there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in ("open_clip_config.json", "config.json"):
        found = try_to_load_from_cache(repo, name)
        if isinstance(found, str):
            return str(Path(found).parent)
    return None


def _folder(path: Path) -> Source | None:
    if (path / "open_clip_config.json").is_file():
        return Source("open_clip-dir", str(path))
    if (path / "config.json").is_file():
        return Source("transformers", str(path))
    return None


def _open_clip_architecture(profile: Profile) -> str | None:
    if profile.name.startswith("open_clip:"):
        return profile.name.removeprefix("open_clip:").partition("/")[0]
    if profile.name in OPENAI_MODELS:
        return profile.name.replace("/", "-").replace("@", "-") + "-quickgelu"
    return None


def locate(spec: str, profile: Profile) -> Source:
    """Where to load the model from: a path given, or (`auto`) the caches for `profile`."""
    if spec != AUTO:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = _folder(path)
            if found is None:
                raise ImpactError(
                    f"--impact {spec}: the folder holds neither open_clip_config.json"
                    " nor a transformers config.json"
                )
            return found
        if path.is_file():
            architecture = _open_clip_architecture(profile)
            if architecture is None:
                raise ImpactError(
                    f"--impact {spec}: a checkpoint file needs its architecture: "
                    "pass --model open_clip:ARCH/TAG"
                )
            return Source("open_clip-file", str(path), architecture)
        snapshot = _hf_cached(spec)
        if snapshot:
            return _folder(Path(snapshot)) or Source("transformers", snapshot)
        raise ImpactError(
            f"--impact {spec}: no such file or folder, and no such model in the "
            "Hugging Face cache (nothing is downloaded)"
        )
    looked = []
    if profile.name in OPENAI_FILES:
        path = Path(os.path.expanduser("~/.cache/clip")) / OPENAI_FILES[profile.name]
        looked.append(str(path))
        if path.is_file():
            return Source("openai-clip", str(path))
    repos = [OPENAI_HF[profile.name]] if profile.name in OPENAI_HF else []
    if "/" in profile.name and not profile.name.startswith("open_clip:"):
        repos.append(profile.name)
    hub = _hf_hub_id(profile)
    if hub:
        repos.append(hub)
    for repo in repos:
        looked.append(f"the Hugging Face cache for {repo}")
        snapshot = _hf_cached(repo)
        if snapshot:
            return _folder(Path(snapshot)) or Source("transformers", snapshot)
    where = "; ".join(looked) or "nothing to look for"
    raise ImpactError(
        f"--impact: no CLIP model for {profile.name} on this machine (looked at "
        f"{where}); pass --impact PATH to an open_clip or transformers model folder"
    )


def _hf_hub_id(profile: Profile) -> str | None:
    from clipguard.profiles import _hf_hub_index

    for hub, known in _hf_hub_index().items():
        if known == profile:
            return hub
    return None


class Encoder:
    """An image encoder that returns L2-normalized embeddings."""

    def __init__(self, source: Source) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a download
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.source = source
        self.model = self._load(source)
        self.model.eval()

    @staticmethod
    def _load(source: Source):
        if source.kind == "transformers":
            from transformers import CLIPModel

            return CLIPModel.from_pretrained(source.location, local_files_only=True)
        import open_clip

        if source.kind == "open_clip-dir":
            return open_clip.create_model(f"local-dir:{source.location}")
        if source.kind == "openai-clip":  # a TorchScript archive from openai-clip's cache
            return open_clip.load_openai_model(source.location, device="cpu", jit=False)
        return open_clip.create_model(source.architecture, pretrained=source.location)

    def embed(self, arrays: list[Any]):
        import numpy as np
        import torch

        chunks = []
        with torch.no_grad():
            for start in range(0, len(arrays), BATCH):
                batch = torch.from_numpy(np.stack(arrays[start : start + BATCH]).astype(np.float32))
                if self.source.kind == "transformers":
                    features = self.model.get_image_features(pixel_values=batch)
                    features = getattr(features, "pooler_output", features)
                else:
                    features = self.model.encode_image(batch)
                chunks.append(torch.nn.functional.normalize(features.float(), dim=-1))
        return torch.cat(chunks).numpy()


def cosines(
    encoder: Encoder, references: dict[str, Any], outputs: dict[str, Any]
) -> dict[str, float]:
    """Per probe: cosine similarity of the embeddings of its reference and its output."""
    names = [
        name
        for name, output in outputs.items()
        if output is not None
        and name in references
        and tuple(output.shape) == tuple(references[name].shape)
    ]
    if not names:
        return {}
    ref = encoder.embed([references[name] for name in names])
    out = encoder.embed([outputs[name] for name in names])
    return {name: float((r * o).sum()) for name, r, o in zip(names, ref, out)}


def measure(source: Source, references: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The impact section of a report: the model, each probe's cosine, the mean and the worst."""
    values = cosines(Encoder(source), references, outputs)
    if not values:
        return {"model": source.describe(), "probes": {}, "mean": None, "min": None}
    worst = min(values, key=values.get)
    return {
        "model": source.describe(),
        "probes": values,
        "mean": sum(values.values()) / len(values),
        "min": values[worst],
        "worst": worst,
    }
