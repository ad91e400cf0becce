"""Searching reference sets: the faiss index, enrollment and the files it writes, the embedding cache, ranking,
the classifier head, open-set thresholds and the metrics they are calibrated with. Imports ``reid.models``,
``reid.render`` and ``reid.io``."""
