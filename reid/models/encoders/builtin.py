"""Built-in encoders."""

from reid.hookspecs import hookimpl


def _color_texture(**kwargs):
    from reid.models.encoders.color import ColorTextureEncoder

    return ColorTextureEncoder(**kwargs)


@hookimpl
def register_encoders(register):
    register("color_texture", _color_texture,
             description="weights-free colour layout + edge texture descriptor (works with no model file)")
