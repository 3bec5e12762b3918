import clip
from stats import SEED
from helpers import unrelated

model, _ = clip.load("ViT-B/32")
x = unrelated() + SEED
