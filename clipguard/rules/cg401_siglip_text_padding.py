"""CG401: text for a SigLIP model tokenized by transformers without `padding="max_length"`."""

from __future__ import annotations

import ast

from clipguard.analysis.nodes import keyword
from clipguard.analysis.text import Tokenizing, text_inputs, tokenizing_calls
from clipguard.profiles import SIGLIP_TEXT_LENGTH, siglip_generation
from clipguard.rule import Invalid, Rule
from clipguard.rules.fixes import padding_edits


class SiglipTextPadding(Rule):
    code = "CG401"
    name = "siglip-text-padding"
    message = (
        "SigLIP text must be padded to the fixed length it was trained on: "
        'pass `padding="max_length"`'
    )
    summary = 'SigLIP text tokenized by transformers without `padding="max_length"`'
    fix_applicability = "unsafe"
    needs_model = True
    triggers = (b"iglip",)
    imported_triggers = (b"iglip",)  # a loader of the SigLIP tokenizer or model
    valid = (
        # The SigLIP model card.
        """\
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained("google/siglip-base-patch16-224")
processor = AutoProcessor.from_pretrained("google/siglip-base-patch16-224")
inputs = processor(text=texts, images=image, padding="max_length", return_tensors="pt")
outputs = model(**inputs)
""",
        # SigLIP 2's processor pads to 64 tokens by itself.
        """\
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained("google/siglip2-base-patch16-224")
processor = AutoProcessor.from_pretrained("google/siglip2-base-patch16-224")
inputs = processor(text=texts, images=image, return_tensors="pt")
outputs = model(**inputs)
""",
        # open_clip's SigLIP tokenizer pads by itself.
        """\
import open_clip
model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-16-SigLIP", pretrained="webli")
tokenizer = open_clip.get_tokenizer("ViT-B-16-SigLIP")
text_features = model.encode_text(tokenizer(texts))
""",
        # CLIP pools at the end-of-text token: `padding=True` is right for it.
        """\
from transformers import CLIPModel, CLIPTokenizer
model = CLIPModel.from_pretrained("openai/clip-vit-base-patch32")
tokenizer = CLIPTokenizer.from_pretrained("openai/clip-vit-base-patch32")
features = model.get_text_features(**tokenizer(texts, padding=True, return_tensors="pt"))
""",
    )
    invalid = (
        # mteb#1424: `padding=True` pads to the longest text only.
        Invalid(
            """\
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained("google/siglip-so400m-patch14-384")
processor = AutoProcessor.from_pretrained("google/siglip-so400m-patch14-384")
inputs = processor(text=texts, images=image, padding=True, return_tensors="pt")
outputs = model(**inputs)
""",
            fixed="""\
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained("google/siglip-so400m-patch14-384")
processor = AutoProcessor.from_pretrained("google/siglip-so400m-patch14-384")
inputs = processor(text=texts, images=image, padding="max_length", return_tensors="pt")
outputs = model(**inputs)
""",
        ),
        # A tokenizer of unknown checkpoint, whose tokens reach a SigLIP model.
        Invalid(
            """\
from transformers import AutoTokenizer, SiglipModel
model = SiglipModel.from_pretrained(checkpoint)
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
features = model.get_text_features(**tokenizer(texts, return_tensors="pt"))
""",
            fixed="""\
from transformers import AutoTokenizer, SiglipModel
model = SiglipModel.from_pretrained(checkpoint)
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
features = model.get_text_features(**tokenizer(texts, return_tensors="pt", padding="max_length"))
""",
        ),
        # SigLIP 2's bare Gemma tokenizer also needs the length: its model card asks for 64.
        Invalid(
            """\
from transformers import GemmaTokenizerFast
tokenizer = GemmaTokenizerFast.from_pretrained("google/siglip2-base-patch16-naflex")
tokens = tokenizer(["a photo of a cat"], padding="longest", return_tensors="pt")
""",
            fixed="""\
from transformers import GemmaTokenizerFast
tokenizer = GemmaTokenizerFast.from_pretrained("google/siglip2-base-patch16-naflex")
tokens = tokenizer(["a photo of a cat"], padding="max_length", max_length=64, return_tensors="pt")
""",
        ),
    )

    def run(self) -> None:
        consumers: dict[int, int] = {}
        for given in text_inputs(self.file):
            generation = siglip_generation(given.consumer.model_name) or siglip_generation(
                given.consumer.factory
            )
            for made in given.made_by:
                if generation and made.file is self.file:
                    consumers[id(made.call)] = generation
        for made in tokenizing_calls(self.file):
            if made.kind != "transformers":
                continue
            generation = siglip_generation(made.loaded_as) or consumers.get(id(made.call))
            if generation is None or any(k.arg is None for k in made.call.keywords):
                continue  # not SigLIP, or `**kwargs` may pad
            problem = _padding_problem(made, generation)
            if problem is not None:
                length = SIGLIP_TEXT_LENGTH if generation == 2 and not made.processor else None
                self.report(
                    made.call,
                    problem,
                    edits=padding_edits(self.file, made.call, length),
                    fix_title='Pad to the fixed length: padding="max_length"',
                )


def _padding_problem(made: Tokenizing, generation: int) -> str | None:
    """What is wrong with the call's padding for SigLIP `generation`, or None."""
    padding = keyword(made.call, "padding")
    model = "SigLIP 2" if generation == 2 else "SigLIP"
    trained = f"{model} was trained on text padded to {SIGLIP_TEXT_LENGTH} tokens"
    if padding is None:
        if generation == 2 and made.processor:
            return None  # `Siglip2Processor` pads to max_length, 64 by default
        return f'{trained}, and this call does not pad: pass `padding="max_length"`'
    if not isinstance(padding, ast.Constant):
        return None  # a padding chosen elsewhere
    if padding.value == "max_length":
        if generation == 2 and not made.processor and keyword(made.call, "max_length") is None:
            return (
                f"{trained}, and a bare tokenizer pads to `max_length` only as far as its own "
                f"limit: pass `max_length={SIGLIP_TEXT_LENGTH}` too"
            )
        return None
    does = (
        "pads only to the longest text of the batch"
        if padding.value in (True, "longest")
        else "does not pad"
    )
    written = made.file.segment(padding)
    return f'{trained}, and `padding={written}` {does}: pass `padding="max_length"`'
