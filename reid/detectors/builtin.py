"""Built-in detectors."""

from reid.detectors.base import WholeImageDetector
from reid.hookspecs import hookimpl


@hookimpl
def register_detectors(register):
    register("whole", WholeImageDetector, description="the whole image is the face (folders of face crops)")
