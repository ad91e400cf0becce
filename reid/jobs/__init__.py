"""The jobs that commands run, one module each (classify, cluster, detect, evaluate and its HTML report, similarity,
visualize, manga109). Imports any layer below (``reid.search``, ``reid.render``, ``reid.models``, ``reid.io``), never
``reid.app``."""
