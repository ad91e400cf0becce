"""reid: re-identify anime and manga characters with pluggable detectors, encoders and clusterers."""

import importlib
import importlib.abc
import importlib.util
import sys

from reid.errors import ImageLoadError, PluginError, ReidError, UnknownNameError
from reid.hookspecs import hookimpl

__version__ = "0.1.0"

# Plugins written before the model layer had its own folder import these paths (reid.encoders.base.Encoder, ...):
# they name the very same modules, so isinstance checks and registries see one class, never a copy.
MOVED_PACKAGES = {"reid.encoders": "reid.models.encoders", "reid.detectors": "reid.models.detectors",
                  "reid.clusterers": "reid.models.clusterers"}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self._real_specs = {}  # alias name -> the module's own spec, while the import machinery runs

    def find_spec(self, fullname, path=None, target=None):
        for old, new in MOVED_PACKAGES.items():
            if fullname == old or fullname.startswith(old + "."):
                return importlib.util.spec_from_loader(fullname, self, is_package=fullname == old)
        return None

    def create_module(self, spec):
        old = next(o for o in MOVED_PACKAGES if spec.name == o or spec.name.startswith(o + "."))
        module = importlib.import_module(MOVED_PACKAGES[old] + spec.name[len(old):])
        self._real_specs[spec.name] = module.__spec__  # the machinery stamps the alias's spec on it: put it back
        return module

    def exec_module(self, module):
        module.__spec__ = self._real_specs.pop(module.__spec__.name)


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _MovedModuleFinder())


def __getattr__(name: str):
    # imported on first use: the console script handles signals before anything slow is imported
    if name == "register_encoder_config":
        from reid.models.encoders.config import register_encoder_config

        return register_encoder_config
    if name == "register_detector_config":
        from reid.models.detectors.learned import register_detector_config

        return register_detector_config
    raise AttributeError(f"module 'reid' has no attribute {name!r}")


__all__ = ["hookimpl", "register_encoder_config", "register_detector_config", "ReidError", "ImageLoadError", "PluginError", "UnknownNameError", "__version__"]
