"""CG303: a mean of normalized embeddings (prompt ensembling) used without normalizing again."""

from __future__ import annotations

from clipguard.analysis.features import returns, similarities
from clipguard.analysis.resolve import callers
from clipguard.analysis.states import MEAN, RAW, Operand
from clipguard.analysis.vocab.features import IMPORTED_SOURCE_TRIGGERS, SOURCE_TRIGGERS
from clipguard.rule import Invalid, Rule
from clipguard.rules.fixes import normalize_edits

_CLASSIFIER = """\
import torch


def zeroshot_classifier(classnames, templates):
    with torch.no_grad():
        zeroshot_weights = []
        for classname in classnames:
            texts = clip.tokenize([t.format(classname) for t in templates])
            class_embeddings = model.encode_text(texts)
            class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)
            class_embedding = class_embeddings.mean(dim=0)
{renormalize}            zeroshot_weights.append(class_embedding)
        zeroshot_weights = torch.stack(zeroshot_weights, dim=1)
    return zeroshot_weights


weights = zeroshot_classifier(names, templates)
image_features = model.encode_image(images)
image_features /= image_features.norm(dim=-1, keepdim=True)
logits = 100.0 * image_features @ weights
"""


class EnsembleMeanNotRenormalized(Rule):
    code = "CG303"
    name = "ensemble-mean-not-renormalized"
    message = (
        "mean of normalized embeddings used without normalizing again: its norm is below 1, "
        "so its scores are not cosine similarities and shrink when the averaged vectors disagree"
    )
    summary = "Mean of normalized embeddings (prompt ensemble) used without renormalizing"
    fix_applicability = "unsafe"
    # Feature sources. A file that only calls a project helper holding them (`rank(embed(x), ...)`)
    # still runs this rule when it names the helper.
    triggers = SOURCE_TRIGGERS
    imported_triggers = IMPORTED_SOURCE_TRIGGERS
    valid = (
        # The openai/CLIP zero-shot notebook: normalize, average, normalize again.
        _CLASSIFIER.format(renormalize="            class_embedding /= class_embedding.norm()\n"),
        """\
import torch.nn.functional as F
prompts = F.normalize(model.encode_text(tokens), dim=-1)
score = prompts.mean(dim=-1)
""",
    )
    invalid = (
        Invalid(
            _CLASSIFIER.format(renormalize=""),
            fixed=_CLASSIFIER.format(renormalize="")
            .replace(
                "class_embedding = class_embeddings.mean(dim=0)",
                "class_embedding = F.normalize(class_embeddings.mean(dim=0), dim=-1)",
            )
            .replace("import torch\n", "import torch\nimport torch.nn.functional as F\n", 1),
        ),
        """\
import numpy as np
feats = model.encode_image(batch).numpy()
feats = feats / np.linalg.norm(feats, axis=1, keepdims=True)
prototype = feats.mean(axis=0)
query = model.encode_image(q).numpy()
query /= np.linalg.norm(query, axis=-1, keepdims=True)
print(query @ prototype)
""",
    )

    def run(self) -> None:
        for similarity in similarities(self.file):
            if any(o.state.kind == RAW for o in similarity.operands):
                continue  # raw features are CG301's finding
            for mean in (o for o in similarity.operands if o.state.kind == MEAN):
                here = mean.state.origin is not None and mean.state.path == self.file.path
                node = mean.state.origin if here else similarity.node
                edits = normalize_edits(self.file, [mean])
                self.report(node, edits=edits, fix_title="L2-normalize the mean")
        for escaped in returns(self.file):
            state = escaped.state
            if state is None or state.kind != MEAN or callers(self.file, escaped.scope):
                continue  # what callers do with it decides, where there are callers
            here = state.origin is not None and state.path == self.file.path
            node = state.origin if here else escaped.node
            operand = Operand(escaped.node, state, state.origin if here else None, state.backend)
            self.report(
                node,
                "a mean of normalized embeddings is returned without normalizing "
                "again: it is shorter than unit length, so its dot products are not cosines",
                edits=normalize_edits(self.file, [operand]),
                fix_title="L2-normalize the mean",
            )
