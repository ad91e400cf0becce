"""The plugin directories that ship with reid, installed as ``reid.shipped_plugins``.

Nothing here is imported as a module: reid finds this folder through the import system and loads each
plugin directory in it by path, like one given with ``--plugin-dir``."""
