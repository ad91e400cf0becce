"""Training encoders that reid then loads as plugin directories: metric learning, classification
fine-tuning and DeepCluster. Every command writes ``plugin.py`` + ``config.json`` + ``weights.pt``."""
