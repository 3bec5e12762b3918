"""CG204: a tensor resize feeding CLIP with antialiasing off."""

from __future__ import annotations

import ast

from clipguard.analysis.inputs import low_passed
from clipguard.analysis.resizing import feeding_resizes
from clipguard.analysis.statistics import number
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import keyword_edit


class ResizeWithoutAntialias(Rule):
    code = "CG204"
    name = "resize-without-antialias"
    message = (
        "this tensor resize does not antialias, so downscaling aliases; PIL (CLIP's reference) does"
    )
    summary = (
        "Tensor resize with antialias off (`antialias=False`, `F.interpolate` without antialias)"
    )
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (b"antialias", b"interpolate")
    valid = (
        Valid(
            "import clip\nimport torch.nn.functional as F\nmodel, _ = clip.load('ViT-B/32')\n"
            "x = F.interpolate(batch, size=(224, 224), mode='bicubic', antialias=True)\n"
            "features = model.encode_image(x)\n"
        ),
        # upsampling cannot alias
        Valid(
            "import clip\nimport torch.nn.functional as F\nmodel, _ = clip.load('ViT-B/32')\n"
            "x = F.interpolate(small, scale_factor=7, mode='bicubic')\nfeatures = model.encode_image(x)\n"
        ),
    )
    invalid = (
        Invalid(
            "import clip\nimport torch.nn.functional as F\nmodel, _ = clip.load('ViT-B/32')\n"
            "x = F.interpolate(batch, size=(224, 224), mode='bicubic')\nfeatures = model.encode_image(x)\n",
            fixed="import clip\nimport torch.nn.functional as F\nmodel, _ = clip.load('ViT-B/32')\n"
            "x = F.interpolate(batch, size=(224, 224), mode='bicubic', antialias=True)\n"
            "features = model.encode_image(x)\n",
        ),
        Invalid(
            "import clip\nimport torchvision.transforms.v2 as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Resize(224, interpolation=T.InterpolationMode.BICUBIC, antialias=False)\n"
            "features = model.encode_image(tf(batch))\n",
            fixed="import clip\nimport torchvision.transforms.v2 as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "tf = T.Resize(224, interpolation=T.InterpolationMode.BICUBIC, antialias=True)\n"
            "features = model.encode_image(tf(batch))\n",
        ),
    )

    def run(self) -> None:
        for resize in feeding_resizes(self.file):
            if not resize.consumer.traced:
                continue  # a model whose identity cannot be traced: its recipe is unknown
            step = resize.step
            antialias = step.antialias
            off = isinstance(antialias, ast.Constant) and antialias.value in (False, None)
            if step.api == "torchvision" and off:
                self.report(
                    antialias,
                    "`antialias=False`: a tensor downscale aliases, unlike CLIP's PIL reference",
                    edits=[self.file.replace(antialias, "True")],
                    applicability="unsafe",
                    fix_title="Set antialias=True",
                )
            elif (
                step.api == "interpolate"
                and (antialias is None or off)
                and resize.kinds
                and resize.kinds <= {"bilinear", "bicubic"}
                and self._downscale(step.node)
                and not low_passed(self.file, step)
            ):
                edit = (
                    self.file.replace(antialias, "True")
                    if antialias is not None
                    else keyword_edit(self.file, step.node, "antialias", "True")
                )
                self.report(
                    step.node,
                    "`F.interpolate` without `antialias=True` aliases when it "
                    "downscales; CLIP's PIL reference antialiases",
                    edits=[edit],
                    applicability="unsafe",
                    fix_title="Add antialias=True",
                )

    def _downscale(self, call: ast.Call) -> bool:
        for keyword in call.keywords:
            if keyword.arg == "scale_factor":
                factor = number(keyword.value)
                if isinstance(keyword.value, (ast.Tuple, ast.List)):
                    factors = [number(e) for e in keyword.value.elts]
                    return all(f is not None and f < 1 for f in factors)
                return factor is not None and factor < 1
        return any(k.arg == "size" for k in call.keywords) or len(call.args) >= 2
