"""Which part of an encoder enrollment-time adaptation fine-tunes: its metric-learned network, alone or as the
first part of a fusion (whose other parts, weights-free descriptors, stay as they are)."""

from __future__ import annotations

import copy

from reid.errors import ReidError
from reid.models.encoders.base import Encoder
from reid.models.encoders.fusion import FusedEncoder
from reid.models.encoders.trained import MetricEncoder


def network_part(encoder: Encoder) -> MetricEncoder:
    """The metric-learned network inside ``encoder``; a ReidError when it has none."""
    if isinstance(encoder, MetricEncoder):
        return encoder
    if isinstance(encoder, FusedEncoder) and isinstance(encoder.parts[0][0], MetricEncoder):
        return encoder.parts[0][0]
    raise ReidError(f"encoder {encoder.name!r} cannot adapt: adaptation fine-tunes a network trained by "
                    "`reid train metric` (such as charfaces_lite0); enroll without --adapt or choose such an --encoder")


def other_parts(encoder: Encoder) -> list[tuple[Encoder, float]]:
    """The fused parts besides the network, each with its scale in the concatenation."""
    if isinstance(encoder, FusedEncoder):
        return [(part, scale) for (part, _), scale in zip(encoder.parts[1:], encoder.scales[1:])]
    return []


def network_scale(encoder: Encoder) -> float:
    return encoder.scales[0] if isinstance(encoder, FusedEncoder) else 1.0


def with_network(encoder: Encoder, network: MetricEncoder) -> Encoder:
    """``encoder`` with its network part replaced by ``network``."""
    if isinstance(encoder, MetricEncoder):
        return network
    fused = copy.copy(encoder)
    fused.parts = [(network, encoder.parts[0][1])] + list(encoder.parts[1:])
    return fused
