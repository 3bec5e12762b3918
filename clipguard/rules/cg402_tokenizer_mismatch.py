"""CG402: an open_clip model's text tokenized by a tokenizer that is not the model's own."""

from __future__ import annotations

from clipguard.analysis.text import CLIP_BPE, TextInput, Tokenizing, text_inputs
from clipguard.analysis.vocab.models import OPEN_CLIP_ROOTS
from clipguard.profiles import CLIP_CONTEXT, TextProfile, open_clip_text
from clipguard.rule import Invalid, Rule
from clipguard.rules.fixes import get_tokenizer_edits


class TokenizerMismatch(Rule):
    code = "CG402"
    name = "tokenizer-mismatch"
    message = "text for an open_clip model is tokenized by another model's tokenizer"
    summary = "`open_clip.tokenize`/`clip.tokenize` for a model whose tokenizer is another"
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (b"tokenize(", b"get_tokenizer")
    imported_triggers = (b"tokenize(", b"get_tokenizer")  # a helper that tokenizes
    valid = (
        # The model's own tokenizer.
        """\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-16-SigLIP", pretrained="webli")
tokenizer = open_clip.get_tokenizer("ViT-B-16-SigLIP")
text_features = model.encode_text(tokenizer(["a dog", "a cat"]))
""",
        # CLIP's tokenizer for a model that uses it (ViT-H-14 from LAION).
        """\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms("ViT-H-14", pretrained="laion2b_s32b_b79k")
text_features = model.encode_text(open_clip.tokenize(["a dog", "a cat"]))
""",
        # The right length passed to CLIP's tokenizer.
        """\
import open_clip
model = open_clip.create_model("PE-Core-B-16", pretrained="meta")
text_features = model.encode_text(open_clip.tokenize(["a dog"], context_length=32))
""",
        # A model whose name cannot be read.
        """\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms(args.model, pretrained=args.pretrained)
text_features = model.encode_text(open_clip.tokenize(["a dog", "a cat"]))
""",
    )
    invalid = (
        # CLIP_benchmark#19, clip-retrieval#236: CLIP's tokenizer for a multilingual model.
        Invalid(
            """\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms(
    "xlm-roberta-base-ViT-B-32", pretrained="laion5b_s13b_b90k"
)
text = open_clip.tokenize(["ein Hund", "eine Katze"])
text_features = model.encode_text(text)
""",
            fixed="""\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms(
    "xlm-roberta-base-ViT-B-32", pretrained="laion5b_s13b_b90k"
)
text = open_clip.get_tokenizer("xlm-roberta-base-ViT-B-32")(["ein Hund", "eine Katze"])
text_features = model.encode_text(text)
""",
        ),
        # openai/CLIP's tokenizer for an open_clip SigLIP model.
        Invalid(
            """\
import clip
import open_clip
import torch
model, _, preprocess = open_clip.create_model_and_transforms("ViT-SO400M-14-SigLIP-384", pretrained="webli")
with torch.no_grad():
    image_features, text_features, scale = model(preprocess(image)[None], clip.tokenize(labels))
""",
            fixed="""\
import clip
import open_clip
import torch
model, _, preprocess = open_clip.create_model_and_transforms("ViT-SO400M-14-SigLIP-384", pretrained="webli")
with torch.no_grad():
    image_features, text_features, scale = model(preprocess(image)[None], open_clip.get_tokenizer("ViT-SO400M-14-SigLIP-384")(labels))
""",
        ),
        # Another model's open_clip tokenizer.
        """\
import open_clip
model = open_clip.create_model("nllb-clip-base", pretrained="v1")
tokenizer = open_clip.get_tokenizer("ViT-B-32")
text_features = model.encode_text(tokenizer(["un chien"]))
""",
    )

    def run(self) -> None:
        reported = set()
        for given in text_inputs(self.file):
            own = _own_tokenizer(given)
            if own is None:
                continue
            spelled = given.consumer.model_name or own.model
            if any(_mismatch(made, own, spelled) is None for made in given.made_by):
                continue  # the model's own tokenizer is among them: chosen per model
            for made in given.made_by:
                problem = _mismatch(made, own, spelled)
                if problem is None or id(made.call) in reported:
                    continue
                reported.add(id(made.call))
                here = made.file is self.file
                edits = (
                    get_tokenizer_edits(self.file, made.call, spelled)
                    if here and made.kind == CLIP_BPE
                    else None
                )
                self.report(
                    made.call if here else given.use,
                    problem,
                    edits=edits,
                    fix_title=f'Use open_clip.get_tokenizer("{spelled}")',
                )


def _own_tokenizer(given: TextInput) -> TextProfile | None:
    """The consumer's own tokenizer, when it is an open_clip model with a readable name and
    the one model the tokens can reach."""
    if given.consumer.factory.split(".")[0] not in OPEN_CLIP_ROOTS:
        return None
    if any(other.node is not given.consumer.node for other in given.alternatives):
        return None  # a model chosen by branch, each branch maybe with its own tokenizer
    return open_clip_text(given.consumer.model_name)


def _mismatch(made: Tokenizing, own: TextProfile, spelled: str) -> str | None:
    """Why the tokens `made` makes are not `own`'s (the model spelled `spelled`), or None."""
    if made.kind == CLIP_BPE:
        length = made.context_length or CLIP_CONTEXT
        if own.tokenizer == CLIP_BPE and own.context_length == length:
            return None
        what = f"CLIP's tokenizer ({length} tokens)"
    elif made.kind == "open_clip":
        other = open_clip_text(made.loaded_as)
        if other is None or (other.tokenizer, other.context_length) == (
            own.tokenizer,
            own.context_length,
        ):
            return None
        what = f"the tokenizer of {other.model} ({_describe(other)})"
    else:
        return None
    return (
        f"{what} makes the tokens for {own.model}, whose tokenizer is {_describe(own)}: "
        f'use `open_clip.get_tokenizer("{spelled}")`'
    )


def _describe(profile: TextProfile) -> str:
    kind, _, source = profile.tokenizer.partition(":")
    name = {"clip-bpe": "CLIP's", "hf": f"`{source}`", "siglip": f"SigLIP's {source}"}[kind]
    return f"{name}, {profile.context_length} tokens"
