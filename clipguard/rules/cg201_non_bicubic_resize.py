"""CG201: a resize feeding CLIP that is not bicubic (bilinear or nearest)."""

from __future__ import annotations

import ast

from clipguard.analysis.resizing import api_label, feeding_resizes
from clipguard.analysis.steps import Step
from clipguard.diagnostics import Edit
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import bicubic_mode, cv2_cubic, keyword_edit, renamed_constant


class NonBicubicResize(Rule):
    code = "CG201"
    name = "non-bicubic-resize"
    message = "this resize feeding CLIP is not bicubic"
    summary = "Bilinear or nearest resize where the CLIP model expects bicubic"
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (b"esize", b"interpolat", b"resample", b"MaxSize")
    valid = (
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n"
        ),
        # MobileCLIP's reference resize is bilinear
        Valid(
            "import open_clip\nimport torchvision.transforms as T\n"
            "model = open_clip.create_model('MobileCLIP-S2', pretrained='datacompdr')\n"
            "tf = T.Compose([T.Resize(256), T.CenterCrop(256), T.ToTensor()])\n"
            "features = model.encode_image(tf(img)[None])\n"
        ),
        # masks are resized with NEAREST, and never reach the image encoder
        Valid(
            "import clip\nfrom PIL import Image\nmodel, preprocess = clip.load('ViT-B/32')\n"
            "mask = Image.open(p).resize((224, 224), Image.NEAREST)\n"
            "features = model.encode_image(preprocess(Image.open(q))[None])\nloss = score(features, mask)\n"
        ),
    )
    invalid = (
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor()])\n"
            "features = model.encode_image(tf(img)[None])\n",
            fixed="import clip\nimport torchvision.transforms as T\n"
            "from torchvision.transforms import InterpolationMode\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.Resize(224, interpolation=InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor()])\n"
            "features = model.encode_image(tf(img)[None])\n",
        ),
        Invalid(
            "import clip\nimport cv2\nmodel, _ = clip.load('ViT-B/32')\n"
            "def embed(path):\n"
            "    img = cv2.resize(cv2.imread(path)[:, :, ::-1], (224, 224))\n"
            "    return model.encode_image(to_tensor(img))\n",
            count=1,
        ),
        Invalid(
            "import clip\nfrom PIL import Image\nmodel, _ = clip.load('ViT-B/32')\n"
            "img = Image.open(p).convert('RGB').resize((224, 224), resample=Image.BILINEAR)\n"
            "features = model.encode_image(normalize(to_tensor(img))[None])\n",
            fixed="import clip\nfrom PIL import Image\nmodel, _ = clip.load('ViT-B/32')\n"
            "img = Image.open(p).convert('RGB').resize((224, 224), resample=Image.BICUBIC)\n"
            "features = model.encode_image(normalize(to_tensor(img))[None])\n",
        ),
    )

    def run(self) -> None:
        for resize in feeding_resizes(self.file):
            if not resize.consumer.traced:
                continue  # a model whose identity cannot be traced: its recipe is unknown
            step, kinds = resize.step, resize.kinds
            if kinds is None or step.squash_mode:
                continue
            expected = resize.consumer.profile.interpolation
            wrong = {"bilinear", "nearest"} - {expected}
            if not kinds or not kinds <= wrong:
                continue
            used = "/".join(sorted(kinds))
            default = " (the default)" if step.interpolation is None else ""
            self.report(
                step.node,
                f"{api_label(step)} uses {used}{default} interpolation; "
                f"{_model(resize.consumer)} expects {expected}",
                edits=self._fix(step, expected),
                applicability="unsafe",
                fix_title=f"Use {expected} interpolation",
            )

    def _fix(self, step: Step, expected: str) -> list[Edit] | None:
        if expected != "bicubic":
            return None
        node, file = step.interpolation, self.file
        call = step.node
        if not isinstance(call, ast.Call):
            return None
        if step.api == "torchvision":
            mode, import_edit = bicubic_mode(file)
            edit = (
                file.replace(node, mode)
                if node is not None
                else keyword_edit(file, call, "interpolation", mode)
            )
            return [edit, import_edit] if import_edit else [edit]
        if step.api in ("cv2", "albumentations"):
            cubic, import_edit = cv2_cubic(file)
            edit = (
                file.replace(node, cubic)
                if node is not None
                else keyword_edit(file, call, "interpolation", cubic)
            )
            return [edit, import_edit] if import_edit else [edit]
        if step.api == "interpolate":
            return [
                file.replace(node, '"bicubic"')
                if node is not None
                else keyword_edit(file, call, "mode", '"bicubic"')
            ]
        if step.api in ("pil", "hf") and node is not None:
            if isinstance(node, ast.Constant):
                return [file.replace(node, "3")]
            renamed = renamed_constant(file, node, "BICUBIC")
            return [file.replace(node, renamed)] if renamed else None
        if step.api == "open_clip" and node is not None:
            return [file.replace(node, '"bicubic"')]
        return None


def _model(target) -> str:
    return f"CLIP ({target.profile.name})" if target.known else "CLIP"
