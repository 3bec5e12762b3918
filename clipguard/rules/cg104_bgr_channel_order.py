"""CG104: OpenCV frames (BGR) reach a CLIP model without being converted to RGB."""

from __future__ import annotations

from clipguard.analysis.origins import BGR
from clipguard.analysis.preprocessing import fed_origins
from clipguard.rule import Invalid, Rule


class BgrChannelOrder(Rule):
    code = "CG104"
    name = "bgr-channel-order"
    message = "an OpenCV image (BGR) reaches a CLIP model, which expects RGB"
    summary = "OpenCV frames (BGR) reach CLIP without a BGR to RGB conversion"
    needs_model = True
    triggers = (b"imread", b"imdecode", b"VideoCapture")
    valid = (
        (
            "import clip\nimport cv2\nfrom PIL import Image\nmodel, preprocess = clip.load('ViT-B/32')\n"
            "frame = cv2.cvtColor(cv2.imread('frame.jpg'), cv2.COLOR_BGR2RGB)\n"
            "features = model.encode_image(preprocess(Image.fromarray(frame))[None])\n"
        ),
        (
            "import clip\nimport cv2\nfrom PIL import Image\nmodel, preprocess = clip.load('ViT-B/32')\n"
            "frame = cv2.imread('frame.jpg')[..., ::-1]\n"
            "features = model.encode_image(preprocess(Image.fromarray(frame))[None])\n"
        ),
        # a grayscale read has no channel order to get wrong
        (
            "import clip\nimport cv2\nfrom PIL import Image\nmodel, preprocess = clip.load('ViT-B/32')\n"
            "gray = cv2.imread('scan.png', cv2.IMREAD_GRAYSCALE)\n"
            "features = model.encode_image(preprocess(Image.fromarray(gray).convert('RGB'))[None])\n"
        ),
        # BGR only for the OpenCV overlay; CLIP gets the PIL image
        (
            "import clip\nimport cv2\nimport numpy as np\nfrom PIL import Image\n"
            "model, preprocess = clip.load('ViT-B/32')\nimage = Image.open('a.jpg')\n"
            "features = model.encode_image(preprocess(image)[None])\n"
            "overlay = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)\ncv2.imwrite('out.jpg', overlay)\n"
        ),
    )
    invalid = (
        # a video loop as public demos write it (openai/CLIP#418)
        (
            "import clip\nimport cv2\nimport torch\nfrom PIL import Image\n"
            "model, preprocess = clip.load('ViT-B/32')\ncapture = cv2.VideoCapture('clip.mp4')\n"
            "with torch.no_grad():\n    while True:\n        ok, frame = capture.read()\n"
            "        if not ok:\n            break\n"
            "        features = model.encode_image(preprocess(Image.fromarray(frame)).unsqueeze(0))\n"
        ),
        # converted twice: back to BGR (musubi-tuner PR #176)
        Invalid(
            "import clip\nimport cv2\nfrom PIL import Image\nmodel, preprocess = clip.load('ViT-B/32')\n"
            "def load(path):\n    image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)\n"
            "    return image[:, :, ::-1]\n"
            "features = model.encode_image(preprocess(Image.fromarray(load('a.jpg')))[None])\n"
        ),
    )

    def run(self) -> None:
        for fed in fed_origins(self.file):
            if fed.origin.form != BGR:
                continue
            feeds = [
                f for f in fed.feeds if f.consumer.traced and "no-channel-order" not in f.after
            ]
            if not feeds or any("rgb" in f.after for f in feeds):
                continue  # converted on some way: the other ways are somebody's choice
            consumer = feeds[0].consumer
            name = f"CLIP ({consumer.profile.name})" if consumer.known else "a CLIP model"
            self.report(
                fed.origin.node,
                f"`{fed.origin.what}` gives BGR images that reach {name}, which "
                "expects RGB: convert with `cv2.cvtColor(image, cv2.COLOR_BGR2RGB)`",
            )
