"""Public-health statistics exactly as OHID computes them (PHEindicatormethods, Fingertips).

Pure and vectorised over numpy arrays: no I/O, no engine. Each function names its source.
"""
