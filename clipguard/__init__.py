"""clipguard: find CLIP preprocessing and similarity mistakes.

Importing this package is cheap: it never imports torch, torchvision, numpy or PIL.
"""

__version__ = "0.1.0"
