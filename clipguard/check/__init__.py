"""`clipguard check`: run a user's preprocessing on probe images and explain any drift.

Everything here imports torch, torchvision, numpy and PIL lazily, inside functions or in modules
that only `check` imports; `clipguard lint` never reaches them.
"""
