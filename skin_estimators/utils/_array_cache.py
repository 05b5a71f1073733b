"""Process-wide, size-bounded LRU caches of arrays: decoded images and scattering coefficients.

:class:`ArrayCache` is the byte-bounded LRU itself; this module holds its instance for the
decoded and resized images of :class:`~skin_estimators.ImageLoader` and the functions that
manage it. :mod:`._coefficient_cache` holds a second instance, for frozen-filter scattering
coefficients.

Cross-validation and grid search call ``ImageLoader.transform`` on the same files again and
again (every fold, every candidate); decoding a photo costs milliseconds, copying it from
memory microseconds. Entries are keyed on the file's absolute path, size and modification
time, so an edited or replaced file is decoded afresh.
"""

import numbers
import threading
from collections import OrderedDict, namedtuple

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ArrayCache",
    "CacheInfo",
    "clear_image_cache",
    "image_cache_info",
    "set_image_cache_max_bytes",
]

#: Default memory budget of the cache: 2 GiB, about 4,400 images at 400x400 or 43,000 at
#: 128x128.
DEFAULT_MAX_BYTES = 2 * 1024**3

CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "n_images", "nbytes", "max_bytes"])


class ArrayCache:
    """Thread-safe LRU of read-only numpy arrays under any hashable key, bounded in bytes."""

    def __init__(self, max_bytes=DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._data = OrderedDict()
        self._nbytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()  # ImageLoaders may run in several threads at once

    def get(self, key):
        with self._lock:
            arr = self._data.get(key)
            if arr is None:
                self._misses += 1
            else:
                self._hits += 1
                self._data.move_to_end(key)
            return arr

    def put(self, key, arr):
        if arr.nbytes > self.max_bytes:
            return
        arr = arr.copy()  # our own copy, read-only so no caller can change what others get
        arr.flags.writeable = False
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes
            self._data[key] = arr
            self._nbytes += arr.nbytes
            self._evict()

    def _evict(self):
        while self._nbytes > self.max_bytes and self._data:
            _, arr = self._data.popitem(last=False)
            self._nbytes -= arr.nbytes

    def clear(self):
        with self._lock:
            self._data.clear()
            self._nbytes = self._hits = self._misses = 0

    def info(self):
        with self._lock:
            return CacheInfo(
                self._hits, self._misses, len(self._data), self._nbytes, self.max_bytes
            )

    def set_max_bytes(self, max_bytes):
        with self._lock:
            previous, self.max_bytes = self.max_bytes, max_bytes
            self._evict()
            return previous


_CACHE = ArrayCache()


def clear_image_cache():
    """Empty the image cache that ``ImageLoader(cache=True)`` shares within this process.

    Examples
    --------
    >>> from skin_estimators.preprocessing import clear_image_cache, image_cache_info
    >>> clear_image_cache()
    >>> image_cache_info().n_images
    0
    """
    _CACHE.clear()


def image_cache_info():
    """Statistics of the process-wide image cache.

    Returns
    -------
    info : CacheInfo
        Named tuple ``(hits, misses, n_images, nbytes, max_bytes)``: lookups that found a
        decoded image, lookups that had to decode, images held, bytes held, budget.

    Examples
    --------
    >>> from skin_estimators.preprocessing import image_cache_info
    >>> info = image_cache_info()
    >>> info.nbytes <= info.max_bytes
    True
    """
    return _CACHE.info()


def set_image_cache_max_bytes(max_bytes):
    """Set the memory budget of the process-wide image cache.

    The least recently used images are dropped when the cache would exceed the budget.
    Each process (e.g. each joblib worker of ``GridSearchCV(n_jobs=...)``) has its own cache.

    Parameters
    ----------
    max_bytes : int
        New budget in bytes; 0 keeps nothing. The default is 2 GiB.

    Returns
    -------
    previous : int
        The budget before the call.

    Examples
    --------
    >>> from skin_estimators.preprocessing import set_image_cache_max_bytes
    >>> previous = set_image_cache_max_bytes(512 * 1024**2)
    >>> _ = set_image_cache_max_bytes(previous)
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}.")
    return _CACHE.set_max_bytes(int(max_bytes))
