"""Where CLIP features come from and what is done to them, by library API.

Sources: openai/CLIP `model.py` (`encode_image`, `encode_text`), open_clip 3.x `CLIP`,
transformers 5.x `CLIPModel.get_image_features` / `get_text_features` and the `image_embeds` /
`text_embeds` of model outputs; torch, numpy, scipy, sklearn and faiss for the operations.
"""

from __future__ import annotations

SOURCE_METHODS = ("encode_image", "encode_text", "get_image_features", "get_text_features")
# Byte triggers of the similarity rules: the sources above and the embeds of model outputs.
SOURCE_TRIGGERS = (*(m.encode() for m in SOURCE_METHODS), b"image_embeds", b"text_embeds")
EMBED_ATTRS = ("image_embeds", "text_embeds")
# The same sources written as code, for the modules a file imports: a method call or an output's
# attribute or key (documentation that only names them is imported everywhere).
IMPORTED_SOURCE_TRIGGERS = (
    *(b"." + m.encode() for m in SOURCE_METHODS),
    *(b"." + a.encode() for a in EMBED_ATTRS),
    *(q + a.encode() + q for a in EMBED_ATTRS for q in (b'"', b"'")),
)
# Methods that return the same vectors (other device, dtype, layout or container).
VECTOR_KEEPERS = frozenset(
    {
        "cpu",
        "cuda",
        "numpy",
        "float",
        "double",
        "half",
        "bfloat16",
        "detach",
        "to",
        "clone",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "t",
        "transpose",
        "permute",
        "reshape",
        "view",
        "type",
        "astype",
        "copy",
        "tolist",
        "requires_grad_",
        "eval",
        "train",
        "expand_as",
        "expand",
        "clamp",
        "clamp_min",
        "clip",
        "squeeze_",
        "unsqueeze_",
        "detach_",
        "flatten",
    }
)
TRANSPOSES = frozenset({"t", "transpose", "permute"})
TO_NUMPY = frozenset({"numpy", "astype"})
DOT_FUNCTIONS = {
    "torch.matmul",
    "torch.mm",
    "torch.bmm",
    "torch.dot",
    "torch.inner",
    "torch.tensordot",
    "torch.einsum",
    "numpy.dot",
    "numpy.matmul",
    "numpy.inner",
    "numpy.tensordot",
    "numpy.einsum",
    "numpy.vdot",
}
DOT_METHODS = frozenset({"matmul", "mm", "bmm", "dot", "inner", "__matmul__"})
JOIN_FUNCTIONS = {
    "torch.cat",
    "torch.concat",
    "torch.concatenate",
    "torch.stack",
    "torch.vstack",
    "numpy.concatenate",
    "numpy.stack",
    "numpy.vstack",
    "numpy.array",
    "numpy.asarray",
    "torch.tensor",
    "torch.as_tensor",
    "torch.from_numpy",
}
NORM_FUNCTIONS = {
    "torch.norm",
    "torch.linalg.norm",
    "torch.linalg.vector_norm",
    "numpy.linalg.norm",
}
# Functions that keep a vector norm a norm: reshaping it, or guarding it against zero.
NORM_KEEPERS = {
    "numpy.atleast_1d",
    "numpy.expand_dims",
    "torch.unsqueeze",
    "numpy.maximum",
    "torch.maximum",
    "torch.clamp",
    "torch.clamp_min",
    "torch.clip",
    "numpy.clip",
    "numpy.fmax",
    "torch.fmax",
}
SOFTMAX_FUNCTIONS = {
    "torch.softmax",
    "torch.nn.functional.softmax",
    "torch.special.softmax",
    "scipy.special.softmax",
    "torch.log_softmax",
    "torch.nn.functional.log_softmax",
    "scipy.special.log_softmax",
}
COSINE_FUNCTIONS = {
    "torch.nn.functional.cosine_similarity",
    "torch.cosine_similarity",
    "sklearn.metrics.pairwise.cosine_similarity",
}
FAISS_INDEXES = {"faiss.IndexFlatIP", "faiss.IndexFlatL2"}
FAISS_WRAPPERS = {"faiss.IndexIDMap", "faiss.IndexIDMap2"}
RANKING_ONLY = frozenset({"argmax", "argsort"})
RANKING_ONLY = frozenset({"argmax", "argsort"})
