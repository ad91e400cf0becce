"""Network architectures that encoders, detectors and training share (EfficientNet-Lite, metric and
classifier nets). Pure torch: imports only ``reid.errors``."""
