from clipguard.lint.gate.carriers import ANY, trigger_carriers
from clipguard.lint.gate.imports import bound_names

STATS = b"(0.485, 0.456, 0.406)"


def carriers(source: str, triggers=(b"485",)):
    return trigger_carriers(source.encode(), triggers, bound_names)


def test_a_constant_and_the_names_that_refer_to_it_carry_its_trigger():
    source = f"_BASE = {STATS.decode()}\nMEAN = _BASE\nSEED = 0\n"
    assert carriers(source) == {b"_BASE", b"MEAN"}


def test_a_definition_carries_what_its_body_holds_and_a_caller_carries_it_on():
    source = (
        "import torch\n\n\ndef _raw(model, x):\n    return model.encode_image(x)\n\n\n"
        "@torch.no_grad()\ndef embed(model, x):\n    return _raw(model, x)\n\n\n"
        "class Other:\n    def run(self):\n        return 1\n"
    )
    assert carriers(source, (b".encode_image",)) == {b"_raw", b"embed"}


def test_a_decorator_belongs_to_its_definition():
    source = "@register(lambda m: m.encode_image)\n@other\ndef embed(x):\n    return x\n"
    assert carriers(source, (b".encode_image",)) == {b"embed"}


def test_imports_carry_only_the_clauses_they_bind():
    source = "from .constants import (  # statistics\n    IMAGENET_MEAN as MEAN,\n    OTHER,\n)\n"
    assert carriers(source, (b"IMAGENET",)) == {b"MEAN"}
    assert carriers("from .imagenet import MEAN, STD\n", (b"imagenet",)) == {b"MEAN", b"STD"}
    assert carriers("import imagenet_stats as stats, numpy\n", (b"imagenet",)) == {b"stats"}
    assert carriers("from .imagenet_stats import *\n", (b"imagenet",)) is ANY
    assert carriers("import numpy as np\nx = 1\n", (b"IMAGENET",)) == set()


def test_a_block_at_top_level_carries_the_names_it_binds():
    source = (
        "if TYPE_CHECKING:\n    from .stats import IMAGENET_MEAN\nelse:\n"
        "    IMAGENET_MEAN = make(\n        fill=1,\n    )\n"
    )
    assert carriers(source, (b"IMAGENET",)) == {b"IMAGENET_MEAN"}


def test_dunder_names_do_not_carry():
    source = f'MEAN = {STATS.decode()}\n__all__ = ["MEAN"]\n'
    assert carriers(source) == {b"MEAN"}


def test_a_statement_it_cannot_read_makes_every_name_carry():
    assert carriers(f"print({STATS.decode()})\n") is ANY
    assert carriers(f'"""Docs.\nExample: {STATS.decode()}\n"""\n') is ANY


def test_the_module_docstring_before_any_statement_carries_nothing():
    assert carriers(f'"""Uses {STATS.decode()}."""\nx = 1\n') == set()


def test_near_clip_numbers_carry_to_importers_but_versions_do_not():
    from clipguard.rules.cg102_mistyped_clip_normalization import MistypedClipNormalization

    source = (
        "MEAN = (0.48, 0.45, 0.40)\nSTD = [68.5, 66.6, 70.3]\nNAME = OPENAI_CLIP_MEAN\n"
        'REQUIRED = "0.48"\nVERSION = version("0.48.0")\nRATE = 1.45\n'
    )
    found = trigger_carriers(
        source.encode(), MistypedClipNormalization.imported_triggers, bound_names
    )
    assert found == {b"MEAN", b"STD", b"NAME"}


def test_a_statement_starting_with_a_bracket_makes_every_name_carry():
    assert carriers(f"SEED = 0\n(MEAN, STD) = {STATS.decode()}, (0.229, 0.224, 0.225)\n") is ANY


def test_a_decorator_with_no_definition_below_cannot_be_read():
    assert carriers("@register(0.485)") is ANY
    assert carriers("x = 1\n@register(0.485)\n") is ANY
