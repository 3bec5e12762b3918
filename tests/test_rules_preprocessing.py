"""CG101-CG204 beyond their own examples and the golden fixtures: constant forms, tolerances,
aliases, interpolation spellings, project-level flow, and fixes checked against real libraries."""

import textwrap

import pytest

from clipguard.analysis.flow import Flow
from clipguard.analysis.source import SourceFile
from clipguard.analysis.statistics import NAMED, Evaluator, judge
from clipguard.lint.examples import fix_all, run_example
from clipguard.lint.gate.imports import config_bases
from clipguard.profiles import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD
from clipguard.rules import rule_by_code

CG101, CG102, CG201, CG202, CG203, CG204 = (
    rule_by_code(c) for c in ("CG101", "CG102", "CG201", "CG202", "CG203", "CG204")
)


def codes(rule, code, files=None):
    return [f.rule for f in run_example(rule, textwrap.dedent(code), files)]


# -- constants ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mean", "std", "verdict"),
    [
        (CLIP_MEAN, CLIP_STD, "clip"),
        ((0.481, 0.458, 0.408), (0.269, 0.261, 0.276), "clip"),  # rounded: within one 8-bit step
        ((122.7709383, 116.7460125, 104.09373615), (68.5005327, 66.6321579, 70.32316305), "clip"),
        (IMAGENET_MEAN, IMAGENET_STD, "imagenet"),
        ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "imagenet"),
        ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "half"),
        ((0, 0, 0), (1, 1, 1), "none"),
        (CLIP_MEAN, IMAGENET_STD, "near-clip"),
        ((0.48, 0.45, 0.40), (0.26, 0.26, 0.27), "near-clip"),  # truncated beyond tolerance
        (
            (108.3272985, 116.7460125, 104.09373615),
            (68.5005327, 66.6321579, 70.32316305),
            "near-clip",
        ),
        # ImageNet's mean is within 1/255 of CLIP's: with CLIP's std the pair is equivalent
        (IMAGENET_MEAN, CLIP_STD, "clip"),
        ((0.4, 0.4, 0.4), (0.2, 0.2, 0.2), "other"),
    ],
)
def test_judge_tolerance_table(mean, std, verdict):
    assert judge(mean, std) == verdict


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[v * 255 for v in (0.485, 0.456, 0.406)]", (123.675, 116.28, 103.53)),
        ("np.array([0.485, 0.456, 0.406]) * 255", (123.675, 116.28, 103.53)),
        ("torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1) / 255", IMAGENET_MEAN),
        ("tuple(x / 255 for x in [124, 117, 104])", (124 / 255, 117 / 255, 104 / 255)),
        ("MEAN", IMAGENET_MEAN),
    ],
)
def test_evaluator_reads_computed_forms(expression, expected):
    file = SourceFile.from_text(
        f"import numpy as np\nimport torch\nMEAN = (0.485, 0.456, 0.406)\nvalue = {expression}\n"
    )
    node = file.tree.body[-1].value
    values = Evaluator(file, Flow(file.tree)).values(node)
    assert len(values) == 1
    assert values[0].values == pytest.approx(expected)


def test_evaluator_gives_every_branch_of_a_switch():
    file = SourceFile.from_text(
        "mean = (0.485, 0.456, 0.406) if name == 'rn50' else "
        "(0.48145466, 0.4578275, 0.40821073)\nvalue = mean\n"
    )
    values = Evaluator(file, Flow(file.tree)).values(file.tree.body[-1].value)
    assert sorted(v.values for v in values) == sorted([IMAGENET_MEAN, CLIP_MEAN])


def test_named_constants_match_the_installed_libraries():
    import open_clip.constants
    import timm.data.constants
    import transformers.utils.constants

    for module in (timm.data.constants, transformers.utils.constants, open_clip.constants):
        for name, value in vars(module).items():
            if name in NAMED:
                assert tuple(value) == pytest.approx(NAMED[name]), f"{module.__name__}.{name}"


# -- CG101 / CG102 forms ------------------------------------------------------------------------
def test_sub_div_chain_and_255_scale_fire():
    assert codes(
        CG101,
        """
        import clip
        import torch
        model, _ = clip.load("RN50")
        MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
        STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
        def embed(batch):
            return model.encode_image(batch.float().sub(MEAN).div(STD))
        """,
    ) == ["CG101"]


def test_a_dict_of_pipelines_is_a_switch():
    assert (
        codes(
            CG101,
            """
        import clip
        import torchvision.transforms as T
        model, _ = clip.load("ViT-B/32")
        TRANSFORMS = {
            "imagenet": T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]),
            "clip": T.Compose([T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073),
                                                          (0.26862954, 0.26130258, 0.27577711))]),
        }
        """,
        )
        == []
    )


def test_a_reassigned_tensor_follows_the_last_assignment():
    code = """
        import clip, torchvision
        import torchvision.transforms as T
        model, preprocess = clip.load("ViT-B/32")
        resnet = torchvision.models.resnet50()
        imagenet = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        x = imagenet(tensor)
        logits = resnet(x)
        x = preprocess(image)
        features = model.encode_image(x)
        """
    assert codes(CG101, code) == []


def test_module_without_models_feeds_clip_through_its_importers():
    helpers = (
        "import torchvision.transforms as T\n"
        "transform = T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])\n"
    )
    clip_user = "import clip\nfrom helpers import transform\nmodel, _ = clip.load('ViT-B/32')\n"
    mixed_user = clip_user + "import torchvision\nnet = torchvision.models.resnet50()\n"
    # linted as helpers.py itself: main.py is the helpers module, other.py imports it
    assert codes(CG101, helpers, {"other.py": clip_user.replace("helpers", "main")}) == ["CG101"]
    assert codes(CG101, helpers, {"other.py": mixed_user.replace("helpers", "main")}) == []
    assert codes(CG101, helpers) == []


def test_clipa_profile_accepts_imagenet_statistics_and_bilinear_squash():
    code = """
        import open_clip
        import torchvision.transforms as T
        model = open_clip.create_model("{name}", pretrained="datacomp1b")
        transform = T.Compose([T.Resize((224, 224)), T.ToTensor(),
                               T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        features = model.encode_image(transform(image)[None])
        """
    for rule in (CG101, CG201, CG202):
        assert codes(rule, code.format(name="ViT-L-14-CLIPA")) == []
        assert codes(rule, code.format(name="ViT-L-14")) == [rule.code]


def test_near_miss_is_not_judged_against_siglip():
    code = """
        import open_clip
        import torchvision.transforms as T
        model = open_clip.create_model("{name}", pretrained="webli")
        norm = T.Normalize([0.48145466, 0.4578275, 0.40821073], [0.5, 0.5, 0.5])
        features = model.encode_image(norm(x))
        """
    assert codes(CG102, code.format(name="ViT-B-16-SigLIP")) == []
    assert codes(CG102, code.format(name="ViT-B-16").replace("webli", "openai")) == ["CG102"]


# -- CG201 aliases and spellings -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "fires"),
    [
        ("R(224, interpolation=IM.BILINEAR)", True),
        ("R(224, interpolation=IM.NEAREST)", True),
        ("R(224, interpolation=IM.BICUBIC)", False),
        ("R(224, IM.BICUBIC)", False),
        ("R(224, interpolation=mode)", True),  # mode = IM.BILINEAR below
        ("R(224, interpolation=Image.BILINEAR)", True),
        ("R(224, interpolation=Image.Resampling.BICUBIC)", False),
        ("R(224, interpolation=2)", True),
        ("R(224, interpolation=3)", False),
        ("R(224, interpolation=unknown)", False),
    ],
)
def test_interpolation_spellings(call, fires):
    code = f"""
        import clip
        from PIL import Image
        from torchvision.transforms import Resize as R, InterpolationMode as IM
        mode = IM.BILINEAR
        model, _ = clip.load("ViT-B/32")
        tf = {call}
        features = model.encode_image(to_tensor(tf(img))[None])
        """
    assert codes(CG201, code) == (["CG201"] if fires else [])


@pytest.mark.parametrize(
    ("call", "fires"),
    [
        ("cv2.resize(img, (256, 224))", True),
        ("cv2.resize(img, (256, 224), interpolation=cv2.INTER_CUBIC)", False),
        ("cv2.resize(img, (256, 224), interpolation=1)", True),
        ("cv2.resize(img, (256, 224), interpolation=cv2.INTER_AREA)", False),
        ("Image.fromarray(img).resize((256, 224), resample=2)", True),
        ("Image.fromarray(img).resize((256, 224), resample=3)", False),
        ("Image.fromarray(img).resize((256, 224))", False),  # PIL's default is bicubic
        ("F.interpolate(img, size=(256, 224))", True),  # default mode is nearest
        ("F.interpolate(img, size=(256, 224), mode='bicubic', antialias=True)", False),
    ],
)
def test_other_libraries(call, fires):
    code = f"""
        import clip, cv2
        import torch.nn.functional as F
        from PIL import Image
        model, _ = clip.load("ViT-B/32")
        def embed(img):
            return model.encode_image(to_tensor({call})[None])
        """
    assert codes(CG201, code) == (["CG201"] if fires else [])


def test_one_import_for_two_fixed_resizes():
    code = textwrap.dedent("""\
        import clip
        import torchvision.transforms as T
        model, _ = clip.load("ViT-B/32")
        a = T.Compose([T.Resize(224), T.CenterCrop(224)])
        b = T.Compose([T.Resize(224), T.CenterCrop(224)])
        features = model.encode_image(a(x)) + model.encode_image(b(y))
        """)
    fixed = fix_all(code, run_example(CG201, code))
    assert fixed.count("from torchvision.transforms import InterpolationMode") == 1
    assert fixed.count("interpolation=InterpolationMode.BICUBIC") == 2
    assert run_example(CG201, fixed) == []


def test_fixed_pipeline_equals_the_openai_reference():
    """The CG101 + CG201 fixes turn a wrong pipeline into OpenAI's `_transform`, pixel for pixel."""
    import numpy as np
    import torch
    from clip.clip import _transform
    from PIL import Image

    code = textwrap.dedent("""\
        import clip
        import torchvision.transforms as T
        model, _ = clip.load("ViT-B/32")
        transform = T.Compose([T.Resize(224), T.CenterCrop(224), T.ToTensor(),
                               T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
        features = model.encode_image(transform(image)[None])
        """)
    findings = run_example(CG101, code) + run_example(CG201, code)
    fixed = fix_all(code, findings)
    pipeline_source = "\n".join(
        line
        for line in fixed.splitlines()
        if not line.startswith(("import clip", "model", "features"))
    )
    namespace: dict = {}
    exec(pipeline_source, namespace)  # noqa: S102 -- runs the fixed pipeline, written above
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    )
    assert torch.equal(namespace["transform"](image), _transform(224)(image))


def test_squash_by_same_name_and_resolution_by_name():
    code = """
        import clip
        import torchvision.transforms as T
        model, _ = clip.load("RN50x4")
        n = 224
        tf = T.Resize((n, n), interpolation=T.InterpolationMode.BICUBIC)
        features = model.encode_image(tf(batch))
        """
    assert codes(CG202, code) == ["CG202"]
    assert codes(CG203, code) == ["CG203"]  # RN50x4 takes 288


def test_antialias_false_in_functional_resize():
    code = """
        import clip
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode
        model, _ = clip.load("ViT-B/32")
        def embed(batch):
            x = TF.resize(batch, 224, interpolation=InterpolationMode.BICUBIC, antialias=False)
            return model.encode_image(TF.center_crop(x, 224))
        """
    assert codes(CG204, code) == ["CG204"]


def test_mmcv_base_configs_are_import_edges():
    assert config_bases(b"_base_ = [\n    '../_base_/models/zegclip.py', './voc.py',\n]\n") == [
        ".._base_.models.zegclip",
        ".voc",
    ]
    assert config_bases(b"_base_ = '../../a/b.py'\n") == ["...a.b"]
    assert config_bases(b"_base_ = './x.txt'\n") == []


def test_dataset_statistics_are_not_a_near_miss():
    # CIFAR-10 and a custom dataset's statistics are different numbers, not a typo of CLIP's
    assert judge((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)) == "other"
    assert judge((0.471, 0.448, 0.408), (0.234, 0.239, 0.242)) == "other"


def test_importers_decide_only_for_the_names_they_use():
    transforms = (
        "import torchvision.transforms as T\n"
        "def clip_transform():\n"
        "    return T.Compose([T.ToTensor(), T.Normalize((0.48145466, 0.4578275, 0.40821073),"
        " (0.26862954, 0.26130258, 0.27577711))])\n"
        "def imagenet_transform():\n"
        "    return T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])\n"
    )
    user = "import clip\nfrom main import {name}\nmodel, _ = clip.load('ViT-B/32')\ntf = {name}()\n"
    assert codes(CG101, transforms, {"user.py": user.format(name="clip_transform")}) == []
    assert codes(CG101, transforms, {"user.py": user.format(name="imagenet_transform")}) == [
        "CG101"
    ]


def test_processor_resample_override():
    code = """
        from transformers import CLIPImageProcessor
        from transformers.image_utils import PILImageResampling
        processor = CLIPImageProcessor.from_pretrained("openai/clip-vit-base-patch32", resample={})
        """
    assert codes(CG201, code.format("PILImageResampling.BILINEAR")) == ["CG201"]
    assert codes(CG201, code.format("2")) == ["CG201"]
    assert codes(CG201, code.format("PILImageResampling.BICUBIC")) == []


def test_config_that_overrides_the_base_statistics():
    base = (
        "img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)\n"
        "train_pipeline = [dict(type='Normalize', **img_norm_cfg)]\n"
    )
    model = "_base_ = ['./main.py']\nmodel = dict(backbone=dict(type='CLIPVisionTransformer'))\n"
    override = model + (
        "img_norm_cfg = dict(mean=[122.7709383, 116.7460125, 104.09373615],"
        " std=[68.5005327, 66.6321579, 70.32316305], to_rgb=True)\n"
    )
    resnet = "_base_ = ['./main.py']\nmodel = dict(backbone=dict(type='ResNetV1c', depth=50))\n"
    assert codes(CG101, base, {"clip_config.py": model}) == ["CG101"]
    assert codes(CG101, base, {"clip_config.py": override}) == []
    assert codes(CG101, base, {"clip_config.py": model, "resnet_config.py": resnet}) == []


def test_training_augmentation_geometry_is_not_checked():
    code = """
        import clip
        import torchvision.transforms as T
        model, _ = clip.load("ViT-B/32")
        train_tf = T.Compose([T.Resize(256), T.RandomCrop(224), T.RandomHorizontalFlip(), T.ToTensor()])
        features = model.encode_image(train_tf(image)[None])
        """
    assert codes(CG201, code) == []
    assert codes(CG203, code) == []
    assert codes(CG201, code.replace("T.RandomCrop(224), T.RandomHorizontalFlip(), ", "")) == [
        "CG201"
    ]
