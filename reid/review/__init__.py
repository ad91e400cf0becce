"""``reid review``: a local web page to check, name and correct a cluster or classify result, then enroll it.
Imports ``reid.search``, ``reid.models`` and ``reid.io``.

``result`` reads the result folder, ``store`` keeps the decisions (SQLite, beside the result), ``state`` replays
them, ``suggest`` ranks merge candidates and outliers, ``export`` writes an enrollment or a labels CSV, and
``server`` is the FastAPI application."""
