"""The static side: `clipguard lint`. Never imports torch, torchvision, numpy or PIL."""
