"""Models: encoders, detectors and clusterers (the plugin kinds), the networks they share, and how they are
applied to images (embedding, body context, clustering, video tracks). Imports ``reid.io`` and the core modules."""
