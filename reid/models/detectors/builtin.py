"""Built-in detectors."""

from reid.models.detectors.base import WholeImageDetector
from reid.hookspecs import hookimpl


def _lbp_cascade(**kwargs):
    from reid.models.detectors.cascade import LbpCascadeDetector

    return LbpCascadeDetector(**kwargs)


def _animeface(**kwargs):
    from reid.models.detectors.animeface import AnimeFaceDetector

    return AnimeFaceDetector(**kwargs)


@hookimpl
def register_detectors(register):
    register("whole", WholeImageDetector, description="the whole image is the face (folders of face crops)")
    register("lbp_cascade", _lbp_cascade,
             description="OpenCV LBP cascade for anime faces; the cascade file comes from --cascade or $REID_CASCADE")
    register("animeface", _animeface,
             description="AnimeFace 2009, a learned detector shipped in the animeface wheel (no file to supply)")
