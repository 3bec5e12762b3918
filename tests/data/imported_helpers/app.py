import clip
import torchvision.transforms as T
from stats import (  # the dataset's statistics
    MEAN,
    STD as S,
)
from helpers import embed

model, _ = clip.load("ViT-B/32")
transform = T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                       T.ToTensor(), T.Normalize(MEAN, S)])
text = model.encode_text(tokens)
text = text / text.norm(dim=-1, keepdim=True)
scores = embed(model, transform(image).unsqueeze(0)) @ text.T
