"""CG401 and CG402 beyond their examples and fixtures: the tokenizer table checked against the
installed open_clip, SigLIP 2's processor defaults checked against transformers, fixed code run
with a real (randomly initialised) model, and the text analysis they rely on."""

from __future__ import annotations

import textwrap

import open_clip
import pytest
import torch

from clipguard.analysis.source import SourceFile
from clipguard.analysis.text import CLIP_BPE, text_inputs, tokenizing_calls
from clipguard.lint.examples import fix_all, run_example
from clipguard.profiles import CLIP_CONTEXT, SIGLIP_TEXT_LENGTH, _tokenizer_table, open_clip_text
from clipguard.rules import rule_by_code

CG401, CG402 = rule_by_code("CG401"), rule_by_code("CG402")
TEXTS = ["a photo of a cat", "ein Hund auf der Wiese"]


def test_the_table_is_what_open_clip_get_tokenizer_reads_from_each_config():
    for profile in _tokenizer_table().values():
        text = open_clip.get_model_config(profile.model)["text_cfg"]
        assert profile.context_length == text.get("context_length", CLIP_CONTEXT), profile.model
        if text.get("hf_tokenizer_name"):
            assert profile.tokenizer == f"hf:{text['hf_tokenizer_name']}", profile.model
        else:
            assert profile.tokenizer in (CLIP_BPE, "siglip:c4-en", "siglip:mc4", "siglip:gemma")


@pytest.mark.parametrize("model", ["ViT-B-32", "MobileCLIP2-S0", "PE-Core-B-16", "coca_ViT-B-32"])
def test_clip_bpe_models_get_open_clip_tokenize_at_their_own_length(model):
    profile = open_clip_text(model)
    tokenizer = open_clip.get_tokenizer(model)
    assert profile.tokenizer == CLIP_BPE and type(tokenizer).__name__ == "SimpleTokenizer"
    assert tokenizer.context_length == profile.context_length
    expected = open_clip.tokenize(TEXTS, context_length=profile.context_length)
    assert torch.equal(tokenizer(TEXTS), expected)
    assert profile.clip_bpe == (profile.context_length == CLIP_CONTEXT)


def test_hf_hub_names_find_their_model_s_tokenizer():
    assert open_clip_text("hf-hub:timm/ViT-B-16-SigLIP").model == "ViT-B-16-SigLIP"
    assert open_clip_text("xlm-roberta-base-ViT-B-32").tokenizer == "hf:xlm-roberta-base"
    assert open_clip_text("not-a-model") is None


def test_cg402_fix_makes_a_wrong_length_model_work():
    code = textwrap.dedent("""\
        import open_clip
        import torch
        model = open_clip.create_model("PE-Core-T-16-384")
        model.eval()
        with torch.no_grad():
            features = model.encode_text(open_clip.tokenize(texts))
        """)
    findings = run_example(CG402, code)
    assert [f.rule for f in findings] == ["CG402"] and "32 tokens" in findings[0].message
    fixed = fix_all(code, findings)
    assert 'open_clip.get_tokenizer("PE-Core-T-16-384")(texts)' in fixed
    with pytest.raises(RuntimeError):
        exec(compile(code, "<original>", "exec"), {"texts": TEXTS})  # noqa: S102 - our snippet
    scope = {"texts": TEXTS}
    exec(compile(fixed, "<fixed>", "exec"), scope)  # noqa: S102 - our own snippet
    assert scope["features"].shape[0] == len(TEXTS)


def _siglip2_processor():
    from transformers import Siglip2ImageProcessor, Siglip2Processor, Siglip2Tokenizer

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "▁a": 5, "▁cat": 6}
    tokenizer = Siglip2Tokenizer(vocab=vocab, merges=[])
    return Siglip2Processor(image_processor=Siglip2ImageProcessor(), tokenizer=tokenizer)


def test_siglip2_processor_pads_to_the_trained_length_unless_told_otherwise():
    """Why CG401 is silent for `Siglip2Processor` without `padding`, and fires on `padding=True`."""
    processor = _siglip2_processor()
    assert processor(text=TEXTS, return_tensors="pt")["input_ids"].shape[1] == SIGLIP_TEXT_LENGTH
    shorter = processor(text=TEXTS, padding=True, return_tensors="pt")["input_ids"]
    assert shorter.shape[1] < SIGLIP_TEXT_LENGTH
    fixed = processor(text=TEXTS, padding="max_length", return_tensors="pt")["input_ids"]
    assert fixed.shape[1] == SIGLIP_TEXT_LENGTH
    bare = processor.tokenizer(TEXTS, padding="max_length", return_tensors="pt")["input_ids"]
    assert bare.shape[1] != SIGLIP_TEXT_LENGTH  # its own limit decides, not the 64 SigLIP 2 wants
    with_length = processor.tokenizer(
        TEXTS, padding="max_length", max_length=SIGLIP_TEXT_LENGTH, return_tensors="pt"
    )
    assert with_length["input_ids"].shape[1] == SIGLIP_TEXT_LENGTH


def test_a_processor_s_tokenizer_is_a_bare_tokenizer():
    file = SourceFile.from_text(
        textwrap.dedent("""\
        from transformers import AutoProcessor
        processor = AutoProcessor.from_pretrained("google/siglip2-base-patch16-256")
        joint = processor(text=texts, images=images)
        alone = processor.tokenizer(texts, return_tensors="pt")
        pixels = processor(images=images)
        """)
    )
    found = [(t.call.lineno, t.processor, t.loaded_as) for t in tokenizing_calls(file)]
    checkpoint = "google/siglip2-base-patch16-256"
    assert found == [(3, True, checkpoint), (4, False, checkpoint)]
    messages = [f.message for f in run_example(CG401, file.text)]
    assert len(messages) == 1 and "max_length" in messages[0]


def test_tokens_are_traced_to_the_model_through_helpers_and_attributes():
    file = SourceFile.from_text(
        textwrap.dedent("""\
        import open_clip

        class Classifier:
            def __init__(self):
                self.model = open_clip.create_model("nllb-clip-base", pretrained="v1")

            def tokens(self, labels):
                return open_clip.tokenize(labels)

            def weights(self, labels):
                return self.model.encode_text(self.tokens(labels))
        """)
    )
    (given,) = text_inputs(file)
    assert given.consumer.model_name == "nllb-clip-base"
    assert [(m.call.lineno, m.kind) for m in given.made_by] == [(8, CLIP_BPE)]
    assert [f.line for f in run_example(CG402, file.text)] == [8]


def test_clip_s_tokenize_kept_under_another_name_is_still_clip_s_tokenizer():
    code = textwrap.dedent("""\
        import clip
        import open_clip
        model = open_clip.create_model("ViT-B-16-SigLIP", pretrained="webli")
        tokenize = clip.tokenize
        features = model.encode_text(tokenize(["a cat"]))
        """)
    (finding,) = run_example(CG402, code)
    assert finding.line == 5
    assert 'open_clip.get_tokenizer("ViT-B-16-SigLIP")(["a cat"])' in fix_all(code, [finding])
