"""Generated stills from an OpenAI-compatible Images API.

    POST {base}/images/generations  {"model", "prompt", "size", "n": 1}
        → {"data": [{"b64_json": ...} | {"url": ...}]}

Every scene's prompt ends with the same style suffix (from the video's visual style), so
the stills of one video look alike. The API takes no seed, so the style suffix is what
keeps them consistent; re-renders reuse the cached still.
"""

from __future__ import annotations

import base64
import binascii
import re
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from reelforge.errors import ProviderError
from reelforge.model.storyboard import Aspect, Scene, VideoSettings, VisualStyle
from reelforge.providers.base import VisualAsset
from reelforge.providers.http import ProviderClient
from reelforge.providers.usage import Meter
from reelforge.providers.visual_choice import save_media

DEFAULT_MODEL = "gpt-image-1"
MAX_SUBJECT_CHARS = 600
SIZES = {Aspect.LANDSCAPE: "1536x1024", Aspect.PORTRAIT: "1024x1536", Aspect.SQUARE: "1024x1024"}
"""What gpt-image-1 supports; the engine fills and crops to the frame."""
DALL_E_3_SIZES = {
    Aspect.LANDSCAPE: "1792x1024", Aspect.PORTRAIT: "1024x1792", Aspect.SQUARE: "1024x1024",
}  # fmt: skip
STYLE_SUFFIXES = {
    VisualStyle.MODERN: "clean modern editorial photography, vivid cool tones, soft light",
    VisualStyle.WARM: "warm golden-hour photography, amber and coral tones, soft haze",
    VisualStyle.OCEAN: "calm photography in teal and deep blue tones, airy and fresh",
    VisualStyle.NOIR: "moody low-key photography, deep shadows, muted colour, gold accents",
    VisualStyle.PASTEL: "bright pastel photography, soft pinks and lavenders, gentle light",
}
_NO_TEXT = "no text, no letters, no watermark"
"""Captions and headlines are drawn by the engine; generated lettering would clash."""
_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def image_size(aspect: Aspect, model: str) -> str:
    """The supported size nearest the frame's aspect for `model`."""
    table = DALL_E_3_SIZES if model.startswith("dall-e-3") else SIZES
    return table[aspect]


def image_prompt(scene: Scene, style: VisualStyle) -> str:
    """The scene's visual prompt (or its narration) plus the video's shared style suffix."""
    subject = " ".join(scene.visual.prompt.split())
    if not subject:
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(scene.narration.split()))
        subject = " ".join(sentences[:2])
        if scene.headline.strip():
            subject = f"{' '.join(scene.headline.split())}: {subject}"
    subject = subject[:MAX_SUBJECT_CHARS].rstrip(" ,;:.")
    if not subject:
        return ""
    return f"{subject}. Style: {STYLE_SUFFIXES[style]}; {_NO_TEXT}."


def _image_type(content: bytes) -> str | None:
    """The image's MIME type, or None if Pillow cannot read it."""
    try:
        with Image.open(BytesIO(content)) as img:
            img.verify()
            return _FORMATS.get(img.format or "", "application/octet-stream")
    except (UnidentifiedImageError, OSError):
        return None


class OpenAIImages:
    """A `VisualSource` that always yields a still (unless the scene gives no prompt)."""

    id = "openai-images"
    version = "1"

    def __init__(
        self, client: ProviderClient, api_key: str, *, model: str = DEFAULT_MODEL,
        meter: Meter | None = None,
    ) -> None:  # fmt: skip
        self._client = client
        self._key = api_key
        self._model = model
        self._meter = meter or Meter()

    def generate(self, prompt: str, size: str) -> bytes:
        """One image's bytes for `prompt` at `size` (a `WxH` the model supports).

        Raises:
            InvalidInput: bad key, or the prompt was refused. ProviderError: the call failed.
        """
        body = {"model": self._model, "prompt": prompt, "size": size, "n": 1}
        # The key goes on this call only: a returned `url` may point at another host.
        response = self._client.request(
            "POST", "/images/generations", json=body,
            headers={"Authorization": f"Bearer {self._key}"},
        )  # fmt: skip
        self._meter.record("openai-images", "generate", images=1)
        try:
            item = response.json()["data"][0]
            if item.get("b64_json"):
                return base64.b64decode(item["b64_json"], validate=True)
            url = str(item["url"])
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, binascii.Error):
            raise ProviderError("openai-images sent an unexpected response") from None
        return self._client.request("GET", url).content

    def find(
        self, scene: Scene, index: int, settings: VideoSettings, size: tuple[int, int],
        out_dir: Path,
    ) -> VisualAsset | None:  # fmt: skip
        """Generate the scene's still into `out_dir`; None only when there is no prompt."""
        prompt = image_prompt(scene, settings.visual_style)
        if not prompt:
            return None
        content = self.generate(prompt, image_size(settings.aspect, self._model))
        content_type = _image_type(content)
        if content_type is None:
            raise ProviderError("openai-images sent data that is not an image")
        path = save_media(content, content_type, "", out_dir, f"{self.id}-{index}", ".png")
        return VisualAsset(path)
