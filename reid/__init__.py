"""reid: re-identify anime and manga characters with pluggable detectors, encoders and clusterers."""

from reid.errors import ImageLoadError, PluginError, ReidError, UnknownNameError
from reid.hookspecs import hookimpl

__version__ = "0.1.0"


def __getattr__(name: str):
    # imported on first use: the console script handles signals before anything slow is imported
    if name == "register_encoder_config":
        from reid.encoders.config import register_encoder_config

        return register_encoder_config
    if name == "register_detector_config":
        from reid.detectors.learned import register_detector_config

        return register_detector_config
    raise AttributeError(f"module 'reid' has no attribute {name!r}")


__all__ = ["hookimpl", "register_encoder_config", "register_detector_config", "ReidError", "ImageLoadError", "PluginError", "UnknownNameError", "__version__"]
