"""Pictures made from results: contact sheets and video timelines. Imports ``reid.models``, ``reid.io`` and the
core modules."""
