"""Files and images: reading images, folders, videos and labelled sets; writing outputs atomically.

Imports nothing of reid but ``reid.errors``, ``reid.progress`` and ``reid.choices``."""
