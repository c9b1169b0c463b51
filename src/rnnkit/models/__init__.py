"""Task models: recurrent layers + heads, each with a frozen config dataclass."""

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent

__all__ = ["MODEL_KINDS", "backbone_output_size", "build_recurrent"]
