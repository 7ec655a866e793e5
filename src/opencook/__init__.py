"""opencook: the OpenCoder cookbook and the 100M-class training system, runnable."""

__version__ = "0.1.0"
