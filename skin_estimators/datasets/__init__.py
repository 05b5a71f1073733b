"""Datasets: any class-per-folder tree of images, and the reference study's skin3 photographs."""

from ._home import get_data_home
from ._image_folder import IMAGE_EXTENSIONS, load_image_folder
from ._skin3 import fetch_skin3

__all__ = ["IMAGE_EXTENSIONS", "fetch_skin3", "get_data_home", "load_image_folder"]
