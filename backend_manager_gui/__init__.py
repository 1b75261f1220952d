"""Backend Manager: see and run the GPU backends of image-generation setups."""

__version__ = "0.1.0"
