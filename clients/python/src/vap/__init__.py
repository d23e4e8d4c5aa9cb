"""vap: the Video Agent Portal from the command line (`vap --help`)."""

__version__ = "0.1.0"
