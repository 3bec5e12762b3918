"""CG102: constants that almost match CLIP's (a channel off, CLIP mean with another std, a typo)."""

from __future__ import annotations

import re

from clipguard.analysis.flow import flow_of
from clipguard.analysis.normalization import judged_steps
from clipguard.analysis.statistics import close, close_relative, describe_near_miss
from clipguard.analysis.vocab.statistics import MEAN_TOLERANCE, STD_RELATIVE_TOLERANCE
from clipguard.profiles import CLIP_MEAN, CLIP_STD
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import pair_edits


class MistypedClipNormalization(Rule):
    code = "CG102"
    name = "mistyped-clip-normalization"
    message = "normalization constants almost match CLIP's but differ beyond tolerance"
    summary = "CLIP normalization constants with a typo, a wrong channel or the wrong std"
    fix_applicability = "unsafe"
    # A near miss keeps at least one of CLIP's six numbers (or a CLIP constant's name), also when
    # the file imports the constants from another module.
    needs_model = True
    triggers = (
        b".48",
        b".45",
        b".46",
        b".40",
        b".41",
        b".26",
        b".27",
        b".28",
        b"122.",
        b"123.",
        b"116.",
        b"117.",
        b"104.",
        b"68.",
        b"66.",
        b"70.",
        b"CLIP_MEAN",
        b"CLIP_STD",
        b"DATASET_MEAN",
        b"DATASET_STD",
    )
    # In an imported module, the same as number literals (not a version: `"0.48"`, `0.48.0`) or
    # names; each pattern starts with a literal, which the regex engine scans for quickly.
    imported_triggers = (
        re.compile(rb"\.(?<![A-Za-z1-9_.\"']\.)(?<![\w.\"']0\.)(?:4[015-8]|2[678])\d*(?![\d.])"),
        re.compile(rb"(?:12[23]|11[67]|104)\.(?<![\w.\"']\d\d\d\.)\d*(?![\d.])"),
        re.compile(rb"(?:6[68]|70)\.(?<![\w.\"']\d\d\.)\d*(?![\d.])"),
        re.compile(rb"(?:CLIP|DATASET)_(?:MEAN|STD)"),
    )
    valid = (
        # rounded to three decimals: within one 8-bit step of CLIP's
        Valid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize((0.481, 0.458, 0.408), (0.269, 0.261, 0.276))\n"
            "features = model.encode_image(norm(x))\n"
        ),
        Valid(
            "import open_clip\nimport torchvision.transforms as T\n"
            "model = open_clip.create_model('ViT-B-16-SigLIP', pretrained='webli')\n"
            "norm = T.Normalize((0.48, 0.45, 0.4), (0.26, 0.26, 0.27))\n"
            "features = model.encode_image(norm(x))\n"
        ),
    )
    invalid = (
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize((108.3272985, 116.7460125, 104.09373615),\n"
            "                   (68.5005327, 66.6321579, 70.32316305))  # CLIP-video stats\n"
            "features = model.encode_image(norm(x))\n",
            fixed="import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize((122.7709383, 116.7460125, 104.09373615),\n"
            "                   (68.5005327, 66.6321579, 70.32316305))  # CLIP-video stats\n"
            "features = model.encode_image(norm(x))\n",
        ),
        Invalid(
            "import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize([0.48145466, 0.4578275, 0.40821073], [0.229, 0.224, 0.225])\n"
            "features = model.encode_image(norm(x))\n",
            fixed="import clip\nimport torchvision.transforms as T\nmodel, _ = clip.load('ViT-B/32')\n"
            "norm = T.Normalize([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])\n"
            "features = model.encode_image(norm(x))\n",
        ),
    )

    def run(self) -> None:
        reported = set()
        for judged in judged_steps(self.file):
            if judged.verdict != "near-clip" or judged.consumer.profile.normalization != "clip":
                continue
            mean, std = judged.means[0].unit, judged.stds[0].unit
            wrong = (
                not close(mean, CLIP_MEAN, MEAN_TOLERANCE),
                not close_relative(std, CLIP_STD, STD_RELATIVE_TOLERANCE),
            )
            edits = pair_edits(
                self.file, flow_of(self.file), judged.step, judged.means, judged.stds, only=wrong
            )
            what = describe_near_miss(judged.means[0].values, judged.stds[0].values)
            if id(judged.where) in reported:
                continue  # one finding per written statistics
            reported.add(id(judged.where))
            self.report(
                judged.where,
                f"normalization almost matches CLIP's: {what}",
                edits=edits or None,
                applicability="unsafe",
                fix_title="Use CLIP's exact mean and std",
            )
