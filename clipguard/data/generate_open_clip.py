"""Regenerate `open_clip_pretrained.json` and `open_clip_tokenizers.json` from the installed
open_clip (run by hand, not at lint time).

    python -m clipguard.data.generate_open_clip
"""

from __future__ import annotations

import json
from pathlib import Path

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def main() -> None:
    import open_clip
    from open_clip import pretrained

    tags = []
    for model, by_tag in pretrained._PRETRAINED.items():
        config = open_clip.get_model_config(model) or {}
        size = config.get("vision_cfg", {}).get("image_size", 224)
        if isinstance(size, (list, tuple)):
            size = size[0]
        for tag, cfg in by_tag.items():
            tags.append(
                {
                    "model": model,
                    "tag": tag,
                    "n_px": size,
                    "mean": list(cfg.get("mean") or OPENAI_MEAN),
                    "std": list(cfg.get("std") or OPENAI_STD),
                    "interpolation": cfg.get("interpolation") or "bicubic",
                    "resize_mode": cfg.get("resize_mode") or "shortest",
                    "hf_hub": (cfg.get("hf_hub") or "").rstrip("/"),
                }
            )
    out = Path(__file__).with_name("open_clip_pretrained.json")
    data = {
        "source": f"open_clip {open_clip.__version__} open_clip.pretrained._PRETRAINED",
        "tags": tags,
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(tags)} tags to {out}")
    write_tokenizers(open_clip)


def write_tokenizers(open_clip) -> None:
    """Each model's tokenizer as `open_clip.get_tokenizer(model)` picks it from the model config:
    an HF tokenizer when `text_cfg.hf_tokenizer_name` is set, a SigLIP one for `siglip` names,
    else CLIP's BPE (`SimpleTokenizer`, which `open_clip.tokenize` is) at the config's length."""
    from open_clip.factory import _MODEL_CONFIGS

    models = {}
    for model in sorted(_MODEL_CONFIGS):
        text = open_clip.get_model_config(model).get("text_cfg", {})
        tokenizer = "clip-bpe"
        if text.get("hf_tokenizer_name"):
            tokenizer = f"hf:{text['hf_tokenizer_name']}"
        elif "siglip" in model.lower():
            lowered = model.lower()
            vocabulary = (
                "gemma" if "siglip2" in lowered else "mc4" if "i18n" in lowered else "c4-en"
            )
            tokenizer = f"siglip:{vocabulary}"
        models[model] = {"tokenizer": tokenizer, "context_length": text.get("context_length", 77)}
    out = Path(__file__).with_name("open_clip_tokenizers.json")
    source = f"open_clip {open_clip.__version__} model configs (text_cfg) and factory.get_tokenizer"
    out.write_text(json.dumps({"source": source, "models": models}, indent=1) + "\n")
    print(f"wrote {len(models)} models to {out}")


if __name__ == "__main__":
    main()
