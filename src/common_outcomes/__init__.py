"""common-outcomes: a borough's outcomes-led early help strategy as checked data.

The package is layered (see docs/ARCHITECTURE.md); importing it stays cheap, so
heavy dependencies are imported only by the modules that need them.
"""

__version__ = "0.1.0"
