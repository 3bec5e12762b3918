"""Normalization constants."""
_BASE_MEAN = (0.485, 0.456, 0.406)
_BASE_STD = (0.229, 0.224, 0.225)
MEAN = _BASE_MEAN
STD = _BASE_STD
SEED = 0
