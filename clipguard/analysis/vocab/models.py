"""CLIP-family models as libraries build and call them.

Sources: openai/CLIP `clip.load`; open_clip 3.x factories (and EVA-CLIP's `eva_clip`); transformers 5.x model and processor
classes (CLIP, SigLIP, SigLIP 2, AltCLIP, Chinese-CLIP, MetaCLIP 2); timm model names with
`clip`; the checkpoint file names of openai/CLIP's `_MODELS`.
"""

from __future__ import annotations

import re

OPEN_CLIP_BUILDERS = ("create_model_and_transforms", "create_model", "create_model_from_pretrained")
# Packages with open_clip's factories: open_clip itself and EVA-CLIP's fork of it, `eva_clip`
# (diffusers' ConsisID repackaging, `consisid_eva_clip`, is left out: see docs/decisions.md).
OPEN_CLIP_ROOTS = ("open_clip", "open_clip_torch", "eva_clip")
# transformers classes of the CLIP family that take images (text-only classes build no image model)
HF_CLIP_MODELS = re.compile(r"^(CLIP|Siglip2?|AltCLIP|ChineseCLIP|MetaClip2?)(Model|VisionModel\w*)$")
HF_CLIP_PROCESSORS = re.compile(r"^(CLIP|Siglip2?|AltCLIP|ChineseCLIP)(Processor|ImageProcessor\w*|FeatureExtractor)$")
HF_AUTO_MODELS = re.compile(r"^(AutoModel\w*|TFAutoModel\w*)$")
HF_AUTO_PROCESSORS = re.compile(r"^(AutoProcessor|AutoImageProcessor|AutoFeatureExtractor)$")
HF_NOT_IMAGE = re.compile(r"(Tokenizer|Config|TextModel\w*|ForCausalLM|ForMaskedLM|ForSequenceClassification)$")
CLIP_WORD = re.compile(r"clip|siglip", re.IGNORECASE)
OPENAI_CHECKPOINT = re.compile(r"(^|[/\\])(RN50|RN101|RN50x4|RN50x16|RN50x64|ViT-B-32|ViT-B-16|ViT-L-14(-336px)?)"
                               r"\.pt$")

# Methods that take images and give image features, and the towers that do.
IMAGE_ENCODER_METHODS = ("encode_image", "get_image_features")
TOWERS = ("visual", "vision_model", "vision_tower", "image_encoder")
# Methods that return the model itself (moved, cast, switched to eval).
MODEL_KEEPERS = frozenset({"to", "eval", "cuda", "cpu", "half", "float", "train", "requires_grad_",
                           "double", "bfloat16"})
# Names of variables and attributes that hold an image model of some kind.
MODEL_LIKE = re.compile(r"(^|_)(model|net|backbone|encoder|classifier|cnn|resnet\d*|vit|dino\w*)s?\d*$"
                        r"|^(resnet|vgg|efficientnet|convnext|densenet|inception|mobilenet)", re.IGNORECASE)
# A checkpoint file whose name says it holds CLIP weights (`ViT16_clip_backbone.pth`).
CLIP_CHECKPOINT = re.compile(r"clip[^/\\]*\.(pth|pt|bin|ckpt|safetensors)$|"
                             r"(^|[/\\])[^/\\]*clip[^/\\]*[/\\]", re.IGNORECASE)
