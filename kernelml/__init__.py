"""kernelml: an ML library for operating-system kernels, in Python."""

__version__ = "0.1.0"
