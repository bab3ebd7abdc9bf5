"""Restore drills: prove that each source's newest DR copy restores, and measure how long it takes (RTO).

``model`` (a drill's record), ``table`` (drill records and per-source locks in
the consumer's job table), ``settings`` (what the operator sets), ``checks``
(the service's own view, and the operator's validation Lambda), ``costs``
(what a drill costs), ``drills`` (the use-case: choose, restore, wait, check,
clean up, sweep).
"""
