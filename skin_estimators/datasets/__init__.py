"""Datasets: any class-per-folder tree of images, the reference study's skin3 photographs, and
SD-198's photos of the same three diseases (a yardstick) and of 24 other conditions."""

from ._home import get_data_home
from ._image_folder import IMAGE_EXTENSIONS, load_image_folder
from ._sd198 import fetch_sd198
from ._skin3 import fetch_skin3

__all__ = ["IMAGE_EXTENSIONS", "fetch_sd198", "fetch_skin3", "get_data_home", "load_image_folder"]
