"""CG101: ImageNet mean/std in a pipeline that feeds a CLIP image encoder."""

from __future__ import annotations

from clipguard.analysis.flow import flow_of
from clipguard.analysis.normalization import judged_steps
from clipguard.analysis.preprocessing import fed_steps
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import pair_edits


class ImagenetNormalization(Rule):
    code = "CG101"
    name = "imagenet-normalization"
    message = "ImageNet mean/std feed a CLIP model, which was trained with CLIP's own statistics"
    summary = "ImageNet normalization constants in a pipeline that feeds CLIP"
    fix_applicability = "unsafe"
    # Names imported from another project module are covered: in it, the statistics' numbers and
    # names count (not prose that mentions ImageNet).
    needs_model = True
    triggers = (b"485", b"123.6", b"IMAGENET", b"ImageNet", b"imagenet", b"_Weights")
    imported_triggers = (b"485", b"123.6", b"IMAGENET", b"_Weights")
    valid = (
        # a helper called with both statistics, one call per model: each is somebody's choice
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "def build(mean, std):\n    return T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),"
            " T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)])\n"
            "clip_tf = build((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))\n"
            "resnet_tf = build((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))\n"
            "features = model.encode_image(clip_tf(image)[None])\n"
        ),
        Valid(
            "import clip\nimport torchvision.transforms as T\n"
            "model, preprocess = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073),"
            " (0.26862954, 0.26130258, 0.27577711))])\n"
            "features = model.encode_image(tf(image).unsqueeze(0))\n"
        ),
        Valid(
            "import torchvision\nimport torchvision.transforms as T\n"
            "net = torchvision.models.resnet50(weights='DEFAULT')\n"
            "tf = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])\n"
            "logits = net(tf(image).unsqueeze(0))\n"
        ),
        Valid(
            "import open_clip\nimport torchvision.transforms as T\n"
            "model, _, _ = open_clip.create_model_and_transforms('ViT-B-16-CLIPA', pretrained='datacomp1b')\n"
            "tf = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
            "features = model.encode_image(tf(image)[None])\n"
        ),
    )
    invalid = (
        # statistics passed to a helper of the same module
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "def build(mean, std):\n    return T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),"
            " T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)])\n"
            "tf = build((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))\n"
            "features = model.encode_image(tf(image)[None])\n",
            fixed="import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "def build(mean, std):\n    return T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC),"
            " T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)])\n"
            "tf = build((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))\n"
            "features = model.encode_image(tf(image)[None])\n",
        ),
        Invalid(
            "import clip\nimport torchvision.transforms as T\n"
            "model, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])\n"
            "features = model.encode_image(tf(image).unsqueeze(0))\n",
            fixed="import clip\nimport torchvision.transforms as T\n"
            "model, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073),"
            " (0.26862954, 0.26130258, 0.27577711))])\n"
            "features = model.encode_image(tf(image).unsqueeze(0))\n",
        ),
        Invalid(
            "import open_clip\nfrom timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD\n"
            "import torchvision.transforms as T\n"
            "model = open_clip.create_model('ViT-B-32', pretrained='openai')\n"
            "norm = T.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)\n"
            "features = model.encode_image(norm(batch))\n",
            fixed="import open_clip\nfrom timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD\n"
            "import torchvision.transforms as T\n"
            "from timm.data import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD\n"
            "model = open_clip.create_model('ViT-B-32', pretrained='openai')\n"
            "norm = T.Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)\n"
            "features = model.encode_image(norm(batch))\n",
        ),
        Invalid(
            "import clip\nimport numpy as np\nimport torch\n"
            "MEAN = np.array([123.675, 116.28, 103.53])\nSTD = np.array([58.395, 57.12, 57.375])\n"
            "model, _ = clip.load('ViT-B/16')\n"
            "def embed(pixels):\n"
            "    x = (pixels - MEAN) / STD\n"
            "    return model.encode_image(torch.from_numpy(x).permute(2, 0, 1)[None].float())\n",
            fixed="import clip\nimport numpy as np\nimport torch\n"
            "MEAN = np.array([122.7709383, 116.7460125, 104.09373615])\n"
            "STD = np.array([68.5005327, 66.6321579, 70.32316305])\n"
            "model, _ = clip.load('ViT-B/16')\n"
            "def embed(pixels):\n"
            "    x = (pixels - MEAN) / STD\n"
            "    return model.encode_image(torch.from_numpy(x).permute(2, 0, 1)[None].float())\n",
        ),
    )

    def run(self) -> None:
        for fed in fed_steps(self.file):
            if (
                fed.step.kind == "imagenet-transforms"
                and not fed.switched
                and fed.consumer.traced
                and fed.consumer.profile.normalization != "imagenet"
            ):
                self.report(
                    fed.step.node,
                    "a torchvision ImageNet weights' `transforms()` (ImageNet "
                    "mean/std, bilinear) feeds a CLIP model",
                )
        reported = set()
        for judged in judged_steps(self.file):
            if (
                judged.verdict != "imagenet"
                or judged.switched
                or not judged.consumer.traced
                or judged.consumer.profile.normalization == "imagenet"
            ):
                continue
            step = judged.step
            if id(judged.where) in reported:
                continue  # one finding per written statistics
            reported.add(id(judged.where))
            edits = pair_edits(self.file, flow_of(self.file), step, judged.means, judged.stds)
            self.report(
                judged.where,
                f"ImageNet mean/std feed {_model_name(judged.consumer)}, which expects "
                f"{_stats(judged.consumer)}",
                edits=edits or None,
                applicability="unsafe",
                fix_title="Use CLIP's mean and std",
            )


def _model_name(target) -> str:
    return f"CLIP ({target.profile.name})" if target.known else "a CLIP model"


def _stats(target) -> str:
    names = {"clip": "CLIP's statistics", "half": "mean/std 0.5", "none": "no normalization"}
    return names.get(target.profile.normalization, "its own statistics")
