"""CG202: resize to a fixed (n, n) where the CLIP model resizes the shorter side and crops."""

from __future__ import annotations

from clipguard.analysis.flow import flow_of
from clipguard.analysis.inputs import square_input
from clipguard.analysis.resizing import api_label, feeding_resizes
from clipguard.analysis.steps import is_square, size_values
from clipguard.rule import Invalid, Rule, Valid


class AspectSquashResize(Rule):
    code = "CG202"
    name = "aspect-squash-resize"
    message = "resizing to a fixed square squashes the aspect ratio; CLIP resizes the shorter side, then crops"
    summary = "Resize to a fixed (n, n) instead of shorter side + center crop"
    # resize calls, open_clip's squash mode, a processor's `size={"height": ..., "width": ...}`
    needs_model = True
    triggers = (
        b"esize",
        b"interpolate",
        b"squash",
        b"'height'",
        b'"height"',
        b"height=",
        b"use_square_size",
    )
    valid = (
        Valid(
            "from transformers import CLIPImageProcessor, CLIPModel\n"
            "model = CLIPModel.from_pretrained('openai/clip-vit-base-patch32')\n"
            "processor = CLIPImageProcessor(size={'shortest_edge': 224}, crop_size={'height': 224, 'width': 224})\n"
            "features = model.get_image_features(**processor(images=image, return_tensors='pt'))\n"
        ),
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n"
        ),
        # SigLIP's reference preprocessing squashes
        Valid(
            "from transformers import SiglipModel\nimport torchvision.transforms as T\n"
            "model = SiglipModel.from_pretrained('google/siglip-base-patch16-224')\n"
            "tf = T.Compose([T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor()])\n"
            "features = model.get_image_features(pixel_values=tf(img)[None])\n"
        ),
    )
    invalid = (
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize((224, 224), interpolation=T.InterpolationMode.BICUBIC), T.ToTensor()])\n"
            "features = model.encode_image(tf(img)[None])\n"
        ),
        Invalid(
            "import open_clip\n"
            "model, _, preprocess = open_clip.create_model_and_transforms(\n"
            "    'ViT-B-32', pretrained='laion2b_s34b_b79k', image_resize_mode='squash')\n"
        ),
        # a CLIP image processor told to resize to exactly height x width
        Invalid(
            "from transformers import CLIPImageProcessor, CLIPModel\n"
            "model = CLIPModel.from_pretrained('openai/clip-vit-base-patch32')\n"
            "processor = CLIPImageProcessor.from_pretrained('openai/clip-vit-base-patch32',\n"
            "                                               size={'height': 224, 'width': 224})\n"
            "features = model.get_image_features(**processor(images=image, return_tensors='pt'))\n"
        ),
    )

    def run(self) -> None:
        flow = flow_of(self.file)
        for resize in feeding_resizes(self.file):
            if not resize.consumer.traced:
                continue  # a model whose identity cannot be traced: its recipe is unknown
            step = resize.step
            if resize.consumer.profile.resize_mode != "shortest":
                continue
            squash = step.squash_mode or is_square(flow, step.size)
            if step.api == "interpolate" and not squash:
                values = size_values(flow, step.size)
                squash = values is not None and len(values) == 1  # an int size is (n, n) there
            if squash and square_input(self.file, step):
                continue  # a square crop or slice resized to (n, n) keeps its aspect ratio
            if squash:
                what = api_label(step)
                if step.squash_mode:
                    what = (
                        "the image processor's fixed `size`"
                        if step.api == "hf"
                        else "`image_resize_mode='squash'`"
                    )
                self.report(
                    step.node,
                    f"{what} squashes the image to a square; CLIP resizes the "
                    "shorter side and center-crops, keeping the aspect ratio",
                )
