"""The reid command line (installed as ``reid.app``)."""
