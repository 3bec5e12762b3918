"""CG103: images reach a CLIP image encoder with no normalization at all."""

from __future__ import annotations

import ast
import os

from clipguard.analysis.origins import BGR, RANGE_WORDS
from clipguard.analysis.preprocessing import inputs_with_origins
from clipguard.diagnostics import Edit
from clipguard.rule import Invalid, Rule


class MissingNormalization(Rule):
    code = "CG103"
    name = "missing-normalization"
    message = "images reach a CLIP model with no normalization"
    summary = "Images reach a CLIP image encoder with no mean/std normalization"
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (
        b"ToTensor",
        b"to_tensor",
        b"ToDtype",
        b"PILToTensor",
        b"pil_to_tensor",
        b"read_image",
        b"decode_image",
        b"enerat",
        b"ecoder",
        b"synthesis",
        b"G(",
        b"g_ema",
        # the images may come from anywhere upstream (a caller in another module): the call of
        # the encoder, or of the model built here, is where the finding is
        b"encode_image",
        b"get_image_features",
        b"clip.load",
        b"create_model",
    )
    valid = (
        (
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])\n"
            "features = model.encode_image(tf(image)[None])\n"
        ),
        # MobileCLIP takes [0, 1] images: no normalization is its recipe
        (
            "import open_clip\nimport torchvision.transforms as T\n"
            "model, _, _ = open_clip.create_model_and_transforms('MobileCLIP-S2', pretrained='datacomp_dr')\n"
            "tf = T.Compose([T.Resize(256), T.CenterCrop(256), T.ToTensor()])\n"
            "features = model.encode_image(tf(image)[None])\n"
        ),
        # normalized on the way, by another function
        (
            "import clip\nimport torch\nimport torchvision.transforms.functional as TF\n"
            "model, _ = clip.load('ViT-B/32')\n"
            "MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)\n"
            "def norm(x):\n    return TF.normalize(x, MEAN, STD)\n"
            "def embed(image):\n    return model.encode_image(norm(TF.to_tensor(image))[None])\n"
        ),
        # a generator's output, mapped to [0, 1] and normalized with CLIP's statistics
        (
            "import clip\nimport torch\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))\n"
            "def loss(generator, z, text):\n    image = (generator(z) + 1) / 2\n"
            "    return model.encode_image(norm(image))\n"
        ),
    )
    invalid = (
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(image)[None])\n",
            fixed="import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258,"
            " 0.27577711))])\nfeatures = model.encode_image(tf(image)[None])\n",
        ),
        # a StyleCLIP-style loss: the generator's [-1, 1] output straight into CLIP
        (
            "import clip\nimport torch.nn.functional as F\nmodel, _ = clip.load('ViT-B/32')\n"
            "def clip_loss(G, w, text_features):\n"
            "    image = F.interpolate(G(w), size=224, mode='bicubic', antialias=True)\n"
            "    return 1 - F.cosine_similarity(model.encode_image(image), text_features).mean()\n"
        ),
    )

    def run(self) -> None:
        for encoder_input, reaching in inputs_with_origins(self.file):
            consumer = encoder_input.consumer
            if consumer.profile.normalization == "none":
                continue  # MobileCLIP and the like take unnormalized images
            ranges = [r for r in reaching if r.origin.form != BGR]
            if not ranges or any("normalize" in r.after for r in ranges):
                continue  # normalized on some way: the other ways are somebody's choice
            first = ranges[0]
            where = (
                "" if first.module == self.file.path else f" in {os.path.basename(first.module)}"
            )
            here = [r.origin.node for r in ranges if r.module == self.file.path]
            name = f"CLIP ({consumer.profile.name})" if consumer.known else "a CLIP model"
            self.report(
                encoder_input.call,
                f"images reach {name} with no normalization: "
                f"`{first.origin.what}`{where} gives {RANGE_WORDS[first.origin.form]}; the "
                f"model expects mean {_triple(consumer.profile.mean)}, std "
                f"{_triple(consumer.profile.std)}",
                edits=self._fix(here[0], consumer.profile) if len(here) == 1 else None,
                applicability="unsafe",
                fix_title="Normalize with the model's statistics",
            )

    def _fix(self, node: ast.AST, profile) -> list[Edit] | None:
        """`T.ToTensor()` inside a `Compose` list: add the model's `T.Normalize` after it."""
        flow_parent = _list_parent(self.file.tree, node)
        if (
            flow_parent is None
            or not isinstance(node, ast.Call)
            or not isinstance(node.func, ast.Attribute)
        ):
            return None
        prefix = self.file.segment(node.func.value)
        line, column = self.file.span(node)[2:]
        text = f", {prefix}.Normalize({_triple(profile.mean)}, {_triple(profile.std)})"
        return [self.file.insert(line, column, text)]


def _list_parent(tree: ast.AST, node: ast.AST) -> ast.AST | None:
    """The `Compose([...])` list holding `node` as an item, if any."""
    for candidate in ast.walk(tree):
        if isinstance(candidate, ast.Call) and getattr(
            candidate.func, "attr", getattr(candidate.func, "id", "")
        ) in ("Compose", "Sequential"):
            for argument in candidate.args:
                if isinstance(argument, ast.List) and any(e is node for e in argument.elts):
                    return argument
    return None


def _triple(values) -> str:
    return "(" + ", ".join(repr(round(v, 8)) for v in values) + ")"
