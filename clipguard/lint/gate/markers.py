"""The byte-level gate: decide from raw bytes, without parsing, whether a file can have findings."""

from __future__ import annotations

# Signs that a module uses a CLIP-family model, searched in the lower-cased bytes. Deliberately
# broad: a false "yes" costs one parse, a false "no" a missed finding. Besides these, any "clip"
# that is not one of NOT_CLIP counts (`clip.load`, `open_clip`, `CLIPModel`, checkpoint names).
# Plain substring tests on lower-cased bytes are five times faster here than one regex.
# Cosine similarities count too: a softmax over them needs a logit scale whatever embedded them.
CLIP_MARKERS = (
    b"siglip",
    b"encode_image",
    b"encode_text",
    b"get_image_features",
    b"get_text_features",
    b"image_embeds",
    b"text_embeds",
    b"cosine_similarity",
    b"cosinesimilarity",
)
# Words with "clip" in them that are not CLIP: gradient and value clipping, np/torch.clip.
NOT_CLIP = (
    b"clip_grad",
    b"gradient_clip",
    b".clip(",
    b"clip_sample",
    b"clipping",
    b"clipped",
    b"clip_value",
    b"clip_val",
    b"clip_range",
    b"clip_denoised",
    b"clipboard",
    b"eclipse",
    b"clip_norm",
    b"clip_by_",
    b"clip_coef",
    b"clip_eps",
    b"clip_param",
    b"clip_ratio",
    b"clip_min",
    b"clip_max",
    b"clip_low",
    b"clip_high",
    b"clip_thresh",
    b"clip_limit",
    b"clip_loss",
)
# A module that does not mention CLIP matters only if it prepares images (a pipeline its
# CLIP-using importers apply): it then names an image library or a normalization config.
IMAGE_WORK = (
    b"torchvision",
    b"albumentations",
    b"cv2",
    b"PIL",
    b"kornia",
    b"interpolate",
    b"img_norm",
    b"Normalize",
    b"normalize",
    b"IMAGENET",
    b"485",
    b"123.6",
    b"monai",
)


def has_clip_marker(lowered: bytes) -> bool:
    """Whether the lower-cased bytes of a module show a CLIP-family model."""
    mentions = lowered.count(b"clip")
    if mentions and mentions > sum(lowered.count(word) for word in NOT_CLIP):
        return True
    return any(marker in lowered for marker in CLIP_MARKERS)
