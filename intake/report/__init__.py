"""The reporter's pages: the form and the receipt."""

from .views import bp

__all__ = ["bp"]
