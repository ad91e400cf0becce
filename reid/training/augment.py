"""Views that teach an encoder to recognise a character without colour: grayscale and screentone (manga).

Hair and eye colour are identity cues in colour images, so colour views keep their hue; but manga pages
have none, and an encoder trained on colour alone falls apart there. Some views are therefore grey, and
some of those are halftoned like a printed screentone: dark lines stay black, paper stays white, mid-tones
become dot patterns of random pitch and angle.
"""

from __future__ import annotations

import math

import torch

# ITU-R BT.601 luma weights, as PIL's convert("L") uses
LUMA = (0.299, 0.587, 0.114)


def grayscale(image: torch.Tensor) -> torch.Tensor:
    """A uint8 or float C x H x W RGB tensor as grey in all three channels, same dtype."""
    weights = torch.tensor(LUMA, dtype=torch.float32).view(3, 1, 1)
    grey = (image.float() * weights).sum(0, keepdim=True)
    if not image.is_floating_point():
        grey = grey.round()
    return grey.to(image.dtype).expand(3, -1, -1).clone()


def screentone(image: torch.Tensor, pitch: float, angle: float, ink: float = 0.22, paper: float = 0.85) -> torch.Tensor:
    """Halftone a uint8 RGB tensor: below ``ink`` black, above ``paper`` white, a dot screen in between."""
    grey = grayscale(image)[0].float() / 255
    height, width = grey.shape
    y, x = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                          indexing="ij")
    u = (x * math.cos(angle) + y * math.sin(angle)) * (2 * math.pi / pitch)
    v = (-x * math.sin(angle) + y * math.cos(angle)) * (2 * math.pi / pitch)
    screen = (torch.sin(u) * torch.sin(v) + 1) / 2  # 0..1 threshold map: dots grow as the tone darkens
    # mid-tones are stretched to the full range so that a light tone gets small dots, a dark one large
    tone = ((grey - ink) / (paper - ink)).clamp(0, 1)
    toned = torch.where(grey <= ink, 0.0, torch.where(grey >= paper, 1.0, (tone > screen).float()))
    return (toned * 255).round().to(torch.uint8).expand(3, -1, -1).clone()


class MonochromeViews(torch.nn.Module):
    """With probability ``p`` an image becomes grey; a ``tone_share`` of those is screentoned. Draws its
    randomness from torch's global generator, so seeding and checkpoints make it reproducible."""

    def __init__(self, p: float = 0.25, tone_share: float = 0.5, pitch: tuple[float, float] = (3.0, 6.0)):
        super().__init__()
        if not 0 <= p <= 1 or not 0 <= tone_share <= 1:
            raise ValueError("probabilities must lie in [0, 1]")
        self.p, self.tone_share, self.pitch = p, tone_share, pitch

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.p == 0 or float(torch.rand(())) >= self.p:
            return image
        if float(torch.rand(())) < self.tone_share:
            low, high = self.pitch
            pitch = low + (high - low) * float(torch.rand(()))
            return screentone(image, pitch, angle=float(torch.rand(())) * math.pi / 2)
        return grayscale(image)
