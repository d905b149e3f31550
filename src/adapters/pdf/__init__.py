"""PDF inspection and thumbnail rendering with PyMuPDF, isolated in worker processes."""

from .renderer import PymupdfRenderer

__all__ = ["PymupdfRenderer"]
