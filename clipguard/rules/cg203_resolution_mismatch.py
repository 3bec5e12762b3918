"""CG203: a resize or crop size that differs from the loaded model's input resolution."""

from __future__ import annotations

import ast

from clipguard.analysis.flow import flow_of
from clipguard.analysis.resizing import feeding_resizes
from clipguard.analysis.steps import size_values
from clipguard.rule import Invalid, Rule, Valid


class ResolutionMismatch(Rule):
    code = "CG203"
    name = "resolution-mismatch"
    message = "this size differs from the model's input resolution"
    summary = "Resize or crop size differs from the loaded model's input resolution"
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (b"esize", b"Crop", b"crop", b"interpolate")
    valid = (
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-L/14@336px')\n"
            "tf = T.Compose([T.Resize(336, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(336),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n"
        ),
        # the model name cannot be read: its resolution is unknown
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load(args.model)\n"
            "tf = T.Compose([T.Resize(336, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(336),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n"
        ),
        # a helper called with several sizes: each call is somebody's choice
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-L/14@336px')\n"
            "def make(n_px):\n    return T.Compose([T.Resize(n_px, interpolation=T.InterpolationMode.BICUBIC),"
            " T.CenterCrop(n_px), T.ToTensor()])\n"
            "small, large = make(224), make(336)\nfeatures = model.encode_image(large(img)[None])\n"
        ),
    )
    invalid = (
        # openai/CLIP's `_transform` copied into a project and called with the wrong size
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-L/14@336px')\n"
            "def _transform(n_px):\n    return T.Compose([T.Resize(n_px, interpolation=T.InterpolationMode.BICUBIC),"
            " T.CenterCrop(n_px), T.ToTensor()])\n"
            "preprocess = _transform(224)\nfeatures = model.encode_image(preprocess(img)[None])\n",
            count=2,
        ),
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-L/14@336px')\n"
            "tf = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n",
            count=2,
            fixed="import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-L/14@336px')\n"
            "tf = T.Compose([T.Resize(336, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(336),"
            " T.ToTensor()])\nfeatures = model.encode_image(tf(img)[None])\n",
        ),
    )

    def run(self) -> None:
        flow = flow_of(self.file)
        for resize in feeding_resizes(self.file, kinds=("resize", "crop")):
            if not resize.consumer.traced:
                continue  # a model whose identity cannot be traced: its recipe is unknown
            step, target = resize.step, resize.consumer
            if not target.known or step.size is None:
                continue
            values = size_values(flow, step.size)
            n_px = target.profile.n_px
            if values is None or all(v == n_px for v in values):
                continue
            shown = "x".join(map(str, values))
            edits = self._fix(step.size, n_px)
            self.report(
                step.size,
                f"size {shown} differs from the input resolution of {target.profile.name} ({n_px})",
                edits=edits,
                applicability="unsafe",
                fix_title=f"Use {n_px}",
            )

    def _fix(self, size: ast.AST, n_px: int):
        literals = (
            [size]
            if isinstance(size, ast.Constant)
            else list(size.elts)
            if isinstance(size, (ast.Tuple, ast.List))
            else []
        )
        if not literals or not all(
            isinstance(n, ast.Constant) and isinstance(n.value, int) for n in literals
        ):
            return None
        if getattr(size, "lineno", None) is None:
            return None
        return [self.file.replace(n, str(n_px)) for n in literals if n.value != n_px]
