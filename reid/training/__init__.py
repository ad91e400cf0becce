"""Training encoders and detectors that reid then loads as plugin directories (metric learning, fine-tuning,
DeepCluster, FCOS). Imports ``reid.models``, ``reid.search`` and ``reid.io``; each command writes a plugin directory."""
