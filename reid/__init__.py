"""reid: re-identify anime and manga characters with pluggable detectors, encoders and clusterers."""

from reid.encoders.config import register_encoder_config
from reid.errors import ImageLoadError, PluginError, ReidError, UnknownNameError
from reid.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["hookimpl", "register_encoder_config", "ReidError", "ImageLoadError", "PluginError", "UnknownNameError", "__version__"]
