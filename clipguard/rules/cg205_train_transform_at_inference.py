"""CG205: open_clip's training transform (random augmentation) used where inference features
are computed."""

from __future__ import annotations

import ast

from clipguard.analysis.flow import flow_of
from clipguard.analysis.preprocessing import fed_steps, fed_training_transforms
from clipguard.rule import Invalid, Rule


class TrainTransformAtInference(Rule):
    code = "CG205"
    name = "train-transform-at-inference"
    message = "a training transform (random augmentation) prepares images for inference features"
    summary = (
        "A training transform (random crops, flips) used where inference features are computed"
    )
    needs_model = True
    triggers = (
        b"create_model_and_transforms",
        b"is_train",
        b"Random",
        b"ColorJitter",
        b"TrivialAugment",
        b"AutoAugment",
    )
    valid = (
        (
            "import open_clip\nimport torch\n"
            "model, _, preprocess = open_clip.create_model_and_transforms('ViT-B-32', pretrained='openai')\n"
            "model.eval()\nwith torch.no_grad():\n"
            "    features = model.encode_image(preprocess(image).unsqueeze(0))\n"
        ),
        # the training transform in the training loop
        (
            "import open_clip\nimport torch\n"
            "model, preprocess_train, _ = open_clip.create_model_and_transforms('ViT-B-32', pretrained='openai')\n"
            "optimizer = torch.optim.AdamW(model.parameters())\n"
            "def train_one_epoch(images, texts):\n"
            "    features = model.encode_image(torch.stack([preprocess_train(i) for i in images]))\n"
            "    loss = features.sum()\n    loss.backward()\n    optimizer.step()\n"
        ),
    )
    invalid = (
        # "these took `model, preprocess, _`, i.e. preprocess_train, by mistake"
        Invalid(
            "import open_clip\nimport torch\n"
            "model, preprocess, _ = open_clip.create_model_and_transforms('ViT-B-32', pretrained='openai')\n"
            "model.eval()\n@torch.no_grad()\ndef embed(image):\n"
            "    return model.encode_image(preprocess(image).unsqueeze(0))\n"
        ),
        Invalid(
            "import clip\nimport torch\nimport torchvision.transforms as T\n"
            "model, _ = clip.load('ViT-B/32')\n"
            "tf = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),\n"
            "                T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])\n"
            "def extract_features(images):\n"
            "    with torch.no_grad():\n"
            "        return model.encode_image(torch.stack([tf(i) for i in images]))\n"
        ),
    )

    def run(self) -> None:
        for fed in fed_training_transforms(self.file):
            if any("inference" in f.after for f in fed.feeds):
                shown = (
                    self.file.segment(fed.name)
                    if fed.name is not fed.build
                    else "the training transform"
                )
                self.report(
                    fed.name,
                    f"`{shown}` is open_clip's training transform (the second value of "
                    "`create_model_and_transforms`: random crops) and prepares images for "
                    "inference features; use the third value, `preprocess_val`",
                )
        seen: set[int] = set()
        flow = flow_of(self.file)
        for fed in fed_steps(self.file):
            if fed.step.kind != "augment" or not fed.inference:
                continue
            pipeline = next(
                (id(p) for p, _ in flow.ancestors(fed.step.node) if isinstance(p, ast.Call)), None
            )
            if pipeline in seen:
                continue  # one finding per pipeline
            seen.add(pipeline)
            self.report(
                fed.step.node,
                "random augmentation prepares images for inference features: "
                "each run sees another crop or flip, and the features are not the image's",
            )
