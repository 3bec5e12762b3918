"""Regenerate `open_clip_pretrained.json` from the installed open_clip (run by hand, not at lint time).

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
            tags.append({
                "model": model,
                "tag": tag,
                "n_px": size,
                "mean": list(cfg.get("mean") or OPENAI_MEAN),
                "std": list(cfg.get("std") or OPENAI_STD),
                "interpolation": cfg.get("interpolation") or "bicubic",
                "resize_mode": cfg.get("resize_mode") or "shortest",
                "hf_hub": (cfg.get("hf_hub") or "").rstrip("/"),
            })
    out = Path(__file__).with_name("open_clip_pretrained.json")
    data = {"source": f"open_clip {open_clip.__version__} open_clip.pretrained._PRETRAINED", "tags": tags}
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(tags)} tags to {out}")


if __name__ == "__main__":
    main()
