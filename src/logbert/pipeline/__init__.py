"""The pipeline: one module per step, built on the stage packages, called through :mod:`logbert.api`.

* ``corpus``: read one input into labelled sessions (or windows);
* ``split``: split whole sessions, then mine templates on the training lines only;
* ``sessions``: a session scores its worst window;
* ``calibrate``: the threshold, from validation sessions only;
* ``estimator``: ``LogBertDetector`` (fit on key sequences, score, save, load);
* ``fit``: ``logbert train``; ``detector``: a loaded artifact; ``evaluate``; ``demo``; ``parse``.

Imports go one way: stages -> pipeline -> api -> cli / service / bench.
"""
