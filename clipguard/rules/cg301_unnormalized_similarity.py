"""CG301: unnormalized CLIP features in a dot product, so the score is not cosine similarity."""

from __future__ import annotations

from clipguard.analysis.features import similarities
from clipguard.analysis.states import NORM, RAW, Similarity
from clipguard.analysis.vocab.features import IMPORTED_SOURCE_TRIGGERS, SOURCE_TRIGGERS
from clipguard.rule import Invalid, Rule, Valid
from clipguard.rules.fixes import normalize_edits

_TEXT_LIMIT = 40

_OTHER_MODULE = """\
import torch.nn.functional as F


def l2(x):
    return F.normalize(x, dim=-1)


def cosine(a, b):
    a = a / a.norm(dim=-1, keepdim=True)
    return a @ b.T
"""


class UnnormalizedSimilarity(Rule):
    code = "CG301"
    name = "unnormalized-similarity"
    message = "unnormalized CLIP features reach a dot product: the score is not cosine similarity"
    summary = "CLIP features used in a dot product or index without L2 normalization"
    fix_applicability = "unsafe"
    # Feature sources. A file that only calls a project helper holding them (`rank(embed(x), ...)`)
    # still runs this rule when it names the helper.
    triggers = SOURCE_TRIGGERS
    imported_triggers = IMPORTED_SOURCE_TRIGGERS
    valid = (
        # The openai/CLIP README zero-shot example.
        """\
import clip
import torch

model, preprocess = clip.load("ViT-B/32")
with torch.no_grad():
    image_features = model.encode_image(image)
    text_features = model.encode_text(text)
image_features /= image_features.norm(dim=-1, keepdim=True)
text_features /= text_features.norm(dim=-1, keepdim=True)
similarity = (100.0 * image_features @ text_features.T).softmax(dim=-1)
""",
        """\
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
txt = model.encode_text(t, normalize=True)
scores = img @ txt.T
""",
        """\
import numpy as np
from sklearn.preprocessing import normalize
a = normalize(model.get_image_features(**inputs).numpy())
b = model.get_text_features(**tokens).numpy()
b = b / np.linalg.norm(b, axis=1, keepdims=True)
print(np.dot(a, b.T))
""",
        """\
import torch.nn.functional as F
sims = F.cosine_similarity(model.encode_image(x), model.encode_text(t))
""",
        # Unknown right-hand side (e.g. a trained linear head): not necessarily a cosine.
        """\
feats = model.encode_image(x)
logits = feats @ head_weights
""",
        # Normalized in a helper of another module.
        Valid(
            """\
from helpers import l2
a = l2(model.encode_image(x))
b = l2(model.encode_text(t))
s = a @ b.T
""",
            files={"helpers.py": _OTHER_MODULE},
        ),
        # An `nn.Module` whose `forward` normalizes, called as modules are.
        """\
import torch.nn as nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def forward(self, x):
        return F.normalize(self.clip.encode_image(x), dim=-1)


encoder = Encoder()
scores = encoder(queries) @ encoder(gallery).T
""",
        # Normalized only on one path: unclear, so silent.
        """\
import torch.nn.functional as F
feats = model.encode_image(x)
if normalize:
    feats = F.normalize(feats, dim=-1)
other = F.normalize(model.encode_text(t), dim=-1)
s = feats @ other.T
""",
    )
    invalid = (
        # mlfoundations/open_clip#68: the README demo without normalization.
        Invalid(
            """\
import torch
with torch.no_grad():
    image_features = model.encode_image(image)
    text_features = model.encode_text(text)
    logits = 100.0 * image_features @ text_features.T
""",
            fixed="""\
import torch
import torch.nn.functional as F
with torch.no_grad():
    image_features = model.encode_image(image)
    text_features = model.encode_text(text)
    logits = 100.0 * F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T
""",
        ),
        # Normalized, then the name is reassigned to raw features.
        Invalid(
            """\
import torch
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
img = model.encode_image(y)
txt = F.normalize(model.encode_text(t), dim=-1)
s = torch.matmul(img, txt.t())
""",
            fixed="""\
import torch
import torch.nn.functional as F
img = F.normalize(model.encode_image(x), dim=-1)
img = model.encode_image(y)
txt = F.normalize(model.encode_text(t), dim=-1)
s = torch.matmul(F.normalize(img, dim=-1), txt.t())
""",
        ),
        # A `cosine` helper in another module that normalizes only one side.
        Invalid(
            """\
from helpers import cosine
s = cosine(model.encode_text(t), model.encode_image(x))
""",
            files={"helpers.py": _OTHER_MODULE},
        ),
        # An `nn.Module` called as modules are (`module(x)` runs `forward`), also from its own
        # methods (`self(x)`, as Lightning steps do).
        Invalid(
            """\
import torch.nn as nn


class Retrieval(nn.Module):
    def forward(self, images, texts):
        return self.clip.encode_image(images), self.clip.encode_text(texts)

    def validation_step(self, batch):
        img, txt = self(*batch)
        return img @ txt.T


model = Retrieval()
image_features, text_features = model(images, texts)
scores = image_features @ text_features.T
""",
            count=2,
        ),
        # Raw vectors in a faiss inner-product index.
        """\
import faiss
feats = model.encode_image(images).cpu().numpy()
index = faiss.IndexFlatIP(feats.shape[1])
index.add(feats)
""",
    )

    def run(self) -> None:
        for similarity in similarities(self.file):
            raw = [o for o in similarity.operands if o.state.kind == RAW]
            if not raw or any(
                o.state.kind == NORM and not o.state.source for o in similarity.operands
            ):
                continue  # the normalized side may not be CLIP features (a cosine classifier head)
            edits = normalize_edits(self.file, raw)
            self.report(
                similarity.node,
                self._message(similarity, raw),
                edits=edits,
                fix_title="L2-normalize the features",
            )

    def _message(self, event: Similarity, raw: list) -> str:
        shown = [o.target or o.node for o in raw if o.node is not None]
        names = " and ".join(f"`{self._text(node)}`" for node in shown)
        source = next((o.state.source for o in raw if o.state.source), "a CLIP encoder")
        verb = "reach" if len(shown) > 1 else "reaches"
        what = f"{names} (from `{source}`)" if names else f"features from `{source}`"
        where = f"`{event.sink}` in `{event.callee}`" if event.callee else f"`{event.sink}`"
        if event.sink.startswith("faiss"):
            return (
                f"{what} {verb} {where} without L2 normalization: the index then ranks "
                "by vector norm, not by cosine similarity"
            )
        return (
            f"{what} {verb} {where} without L2 normalization: the score is not cosine "
            "similarity and ranks by vector norm"
        )

    def _text(self, node) -> str:
        text = " ".join(self.file.segment(node).split())
        return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."
