"""The error raised for images that cannot be loaded (defined in :mod:`skin_estimators.exceptions`)."""

from ..exceptions import ImageLoadError

__all__ = ["ImageLoadError"]
