"""Tokenizers and text encoders, by library API.

Sources: open_clip 3.x `tokenize` (CLIP's BPE, `SimpleTokenizer`, 77 tokens) and
`get_tokenizer`; openai/CLIP `clip.tokenize`; transformers 5.x tokenizer and processor classes
(`AutoTokenizer`, `SiglipTokenizer`, `Siglip2Tokenizer`, `GemmaTokenizerFast`, `AutoProcessor`,
`SiglipProcessor`, `Siglip2Processor`) and `get_text_features`.
"""

from __future__ import annotations

import re

CLIP_TOKENIZE = frozenset(
    {
        "open_clip.tokenize",
        "open_clip.tokenizer.tokenize",
        "open_clip_torch.tokenize",
        "clip.tokenize",
        "clip.clip.tokenize",
    }
)
OPEN_CLIP_GET_TOKENIZER = frozenset(
    {"open_clip.get_tokenizer", "open_clip.factory.get_tokenizer", "open_clip_torch.get_tokenizer"}
)
HF_TOKENIZER = re.compile(r"^\w*Tokenizer(Fast)?$")
# Processors that take text (image-, video- and audio-only processors do not).
HF_PROCESSOR = re.compile(r"^(?!\w*(Image|Video|Audio)Processor$)\w*Processor$")
TOKENIZER_METHODS = frozenset({"batch_encode_plus", "encode_plus", "__call__"})
# Keywords a tokenizing call takes, and names a tokenizer is kept under.
TOKENIZING_KEYWORDS = frozenset({"padding", "return_tensors", "truncation", "max_length", "text"})
TOKENIZER_NAMES = frozenset({"tok", "proc"})
TOKENIZER_WORDS = ("token", "process")
TEXT_ENCODER_METHODS = frozenset({"encode_text", "get_text_features"})
MODEL_TEXT_KEYWORDS = frozenset({"input_ids", "text", "attention_mask"})
