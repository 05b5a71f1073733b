"""ImageLoader: image files (or in-memory images) to a uint8 array of equal-sized RGB images."""

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin

import skin_estimators.preprocessing._decode as _decode  # the module, whose switches tests set

from ..utils._array_cache import _CACHE, clear_image_cache
from ..utils._model_state import stored_in_model_files
from ..utils._param_validation import validate_constraints
from ._decode import RESAMPLING, RESIZE_MODES, describe_error
from ._errors import ImageLoadError
from ._loader_input import PATH_TYPES as _PATH_TYPES
from ._loader_input import as_items as _as_items
from ._loader_params import IMAGE_LOADER_CONSTRAINTS, MAX_IMAGE_SIDE  # noqa: F401 (re-exported)
from ._loader_params import as_size as _as_size
from ._loader_params import n_threads as _n_threads
from ._stored_state import LOADER_FIELDS, check_loader_state
from ._tiles import check_loader_options

__all__ = ["CONTROLLED_INPUTS", "ImageLoader"]

#: The controlled input recipe, as ImageLoader parameters: ``ImageLoader(size=224,
#: **CONTROLLED_INPUTS)``. It removes the shortcuts that ``skin-estimators audit`` finds in
#: skin3's photos: the bottom 15 % (the watermark band) is cut, every photo is brought to
#: a common pixel scale (shorter side 298 px, the smallest in skin3), and the centre square
#: is taken instead of stretching, so that neither the watermark, nor the resolution, nor the
#: aspect ratio reaches the model.
CONTROLLED_INPUTS = {"resize": "crop", "crop_bottom": 0.15, "common_scale": 298}


@stored_in_model_files
class ImageLoader(TransformerMixin, BaseEstimator):
    """Load images from files into a ``uint8`` array ``(n_samples, height, width, 3)``.

    The first step of a pipeline that works from file paths: every image is decoded, turned
    into RGB, rotated upright according to its EXIF orientation tag and resized to ``size``.
    It learns nothing, so putting it inside a pipeline that is cross-validated is safe; put
    :class:`ChannelNormalizer` after it to get the float tensors the networks take.

    Colour handling: grey, bilevel, palette, CMYK and YCbCr images are converted to RGB with
    Pillow (no ICC colour management); 16-bit images (``I;16``, ``I``) are scaled from
    0..65535 to 0..255 rather than clipped; transparency (RGBA, grey+alpha, palette or grey
    with a transparent colour) is composited onto white.

    Supported formats: JPEG (also phone MPO files), PNG, TIFF, BMP, WebP, GIF (first frame),
    PPM/PGM, TGA, JPEG 2000 and AVIF.

    Parameters
    ----------
    size : int or (int, int), default=400
        Output size: an int for square images, or ``(height, width)``.
    resize : {"stretch", "pad", "crop"}, default="stretch"
        How images of another aspect ratio reach ``size``:

        - ``"stretch"``: resize to ``size`` ignoring the aspect ratio, as the reference
          study did (torchvision ``Resize((400, 400))``).
        - ``"pad"``: shrink or enlarge to fit inside ``size`` keeping the aspect ratio and
          fill the borders with black (0, 0, 0), centred.
        - ``"crop"``: resize so that the image covers ``size`` keeping the aspect ratio and
          cut out the centre (like ``Resize(shorter side)`` + ``CenterCrop``).
    interpolation : {"bilinear", "bicubic", "lanczos", "nearest", "box", "hamming"}, \
default="bilinear"
        Pillow resampling filter (Pillow's filters antialias when shrinking).
    n_jobs : int or None, default=None
        Threads that decode in parallel (Pillow releases the GIL while decoding and
        resizing). ``None`` means 1 unless in a ``joblib.parallel_config(n_jobs=...)``
        context; ``-1`` means all CPU cores (for the speed-up, see the user guide's "The
        data"). Leave it at 1 when the pipeline
        already runs in parallel processes (``GridSearchCV(n_jobs=...)``).
    cache : bool, default=True
        Keep decoded, resized images in a process-wide cache shared by all ImageLoaders, so
        that the folds of a cross-validation or the candidates of a grid search decode each
        file once. Entries are keyed on the file's real path (links to one photo share an
        entry), size and modification time plus ``size``, ``resize``, ``interpolation`` and
        the reframing options: a changed file is read again (unless it is rewritten with
        exactly the same size within the file system's timestamp resolution, a few
        milliseconds at worst). The
        cache holds at most 2 GiB (least recently used images are dropped); see
        :func:`set_image_cache_max_bytes` and :func:`clear_image_cache` (or
        ``ImageLoader.clear_cache()``). ``False`` bypasses it.
    crop_bottom : float, default=0.0
        Fraction of the height (of the upright image) cut off at the bottom before
        anything else, in [0, 1): the band where atlas watermarks, rulers and captions
        usually sit. ``0.15`` removes the "Danderm" watermarks of skin3's photos.
    common_scale : int or None, default=None
        If set, every image is first resized (keeping its aspect ratio) so that its shorter
        side has ``common_scale`` pixels, and only then brought to ``size``. Photos of
        different resolutions then reach the model at one pixel scale, so that sharpness and
        JPEG artefacts tell less about where a photo comes from. ``None`` resizes in one
        step, as before.

        Together with ``resize="crop"``, these two give the controlled inputs of
        :data:`CONTROLLED_INPUTS`.
    tiles : int or None, default=None
        With ``resize="crop"``: instead of the centre crop, ``tiles`` crops spread evenly
        from one end of the photo's longer side to the other (they overlap and cover it),
        stacked from top to bottom into a strip ``(n, tiles * height, width, 3)``. Their
        number never depends on the photo. ``PretrainedFeatures(tiles=...)`` with the same
        number averages their features; ``tiles=1`` is the centre crop.
    color_constancy : {None, "shades_of_gray", "grey_world"}, default=None
        White-balance each photo (after ``crop_bottom`` and ``common_scale``, before the
        resize): Shades of Gray (p = 6) or grey-world, in floating point, ``uint8`` out.

    Attributes
    ----------
    n_features_in_ : int
        Only set when ``fit`` is given paths as a 2-D column ``(n_samples, 1)``: 1.

    See Also
    --------
    ChannelNormalizer : the step after this one; scales and puts the channels first.

    Notes
    -----
    Input ``X`` may be:

    - a list, tuple or 1-D array of paths (``str`` or ``pathlib.Path``), a pandas Series;
    - paths as a column ``(n_samples, 1)`` (object array, list of 1-element lists or a
      one-column DataFrame): imbalanced-learn's samplers need a 2-D ``X``, so
      ``make_pipeline(RandomOverSampler(), ImageLoader(), ...)`` works;
    - images already in memory: an array ``(n, H, W, 3)``, ``(n, H, W, 4)`` or grey
      ``(n, H, W)`` of ``uint8`` (0..255) or floats (0..1), or a list of PIL images or such
      arrays of different sizes. They are resized like files but never cached.

    Files that cannot be used raise one :class:`ImageLoadError` (a ``ValueError``) after all
    images were tried; it names every bad file with the reason. That covers missing files,
    files that are not images, corrupt and truncated files (never silently grey-filled),
    images smaller than 8x8 pixels, and images with more pixels than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's decompression-bomb guard, which this class
    keeps; Pillow may also warn about such files).

    JPEGs are decoded at a reduced scale (libjpeg's 1/2, 1/4 or 1/8 DCT scaling) when that is
    still at least twice the target size, the trick of Pillow's ``thumbnail``: faster, and a
    fraction of a grey level from a full decode (figures in the user guide's "The data"). A
    photo less than twice the target size is decoded in full, so the output is then
    identical to Pillow's plain ``resize(size, BILINEAR)``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skin_estimators.preprocessing import ImageLoader, ImageLoadError
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = [os.path.join(tmp.name, "wide.png"), os.path.join(tmp.name, "tall.jpg")]
    >>> Image.new("RGB", (40, 30), (200, 100, 50)).save(paths[0])
    >>> Image.new("L", (20, 50), 128).save(paths[1])
    >>> X = ImageLoader(size=16).fit_transform(paths)
    >>> X.shape, X.dtype
    ((2, 16, 16, 3), dtype('uint8'))
    >>> X[0, 0, 0], X[1, 0, 0]
    (array([200, 100,  50], dtype=uint8), array([128, 128, 128], dtype=uint8))
    >>> ImageLoader(size=(16, 32), resize="pad").transform(paths).shape
    (2, 16, 32, 3)

    Images already in memory are resized the same way:

    >>> ImageLoader(size=8).transform(np.zeros((3, 32, 32, 3), dtype=np.uint8)).shape
    (3, 8, 8, 3)

    The controlled recipe (:data:`CONTROLLED_INPUTS`): bottom band cut, common pixel scale,
    centre square:

    >>> from skin_estimators.preprocessing import CONTROLLED_INPUTS
    >>> CONTROLLED_INPUTS
    {'resize': 'crop', 'crop_bottom': 0.15, 'common_scale': 298}
    >>> ImageLoader(size=16, **CONTROLLED_INPUTS).transform(paths).shape
    (2, 16, 16, 3)

    Bad files are reported all at once:

    >>> try:
    ...     ImageLoader(size=16).transform(paths + ["missing.jpg"])
    ... except ImageLoadError as err:
    ...     print(err.errors)
    [('missing.jpg', 'file not found')]
    >>> tmp.cleanup()
    """

    #: What a safe model file keeps of it, and the check of what a file gives it.
    _model_file_fields = LOADER_FIELDS
    _check_model_file_state = check_loader_state

    def __init__(
        self,
        size=400,
        resize="stretch",
        interpolation="bilinear",
        n_jobs=None,
        cache=True,
        crop_bottom=0.0,
        common_scale=None,
        tiles=None,
        color_constancy=None,
    ):
        self.size = size
        self.resize = resize
        self.interpolation = interpolation
        self.n_jobs = n_jobs
        self.crop_bottom = crop_bottom
        self.common_scale = common_scale
        self.cache = cache
        self.tiles = tiles
        self.color_constancy = color_constancy

    def fit(self, X, y=None):
        """Check the parameters and the form of ``X``; no file is read.

        Parameters
        ----------
        X : list of paths, array of images, ...
            See the class documentation.
        y : None
            Ignored.

        Returns
        -------
        self : ImageLoader
        """
        self._check_params()
        check_loader_options(self)
        _, _, is_column = _as_items(X)
        if is_column:
            self.n_features_in_ = 1
        return self

    def transform(self, X):
        """Load and resize the images.

        Parameters
        ----------
        X : list of paths, array of images, ...
            See the class documentation.

        Returns
        -------
        images : ndarray of shape (n_samples, height, width, 3), dtype uint8
            C-contiguous RGB images (``tiles * height`` rows with ``tiles``).

        Raises
        ------
        ImageLoadError
            If any image cannot be loaded; lists all of them.
        """
        size, n_threads = self._check_params()
        resample = RESAMPLING[self.interpolation]
        reframe = {
            "crop_bottom": float(self.crop_bottom),
            "common_scale": None if self.common_scale is None else int(self.common_scale),
            **check_loader_options(self),
        }
        shape = size if reframe["tiles"] is None else (reframe["tiles"] * size[0], size[1])
        kind, items, _ = _as_items(X)
        n = len(items)
        if (
            kind == "batch"
            and items.dtype == np.uint8
            and items.ndim == 4
            and items.shape[1:] == (*size, 3)
            and not self.crop_bottom
            and self.common_scale is None
            and reframe["tiles"] is None
            and reframe["color_constancy"] is None
        ):
            return np.array(items, dtype=np.uint8, order="C")  # nothing to do but copy

        out = np.empty((n, *shape, 3), dtype=np.uint8)
        errors = {}  # index -> (name, reason)
        jobs = {}  # key -> zero-argument callable returning an (H, W, 3) array
        positions = {}  # key -> indices of X that get the job's result
        use_cache = bool(self.cache)
        for i, item in enumerate(items):
            if isinstance(item, _PATH_TYPES):
                path = os.fsdecode(item)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    errors[i] = (path, describe_error(exc))
                    continue
                key = (
                    # The file itself: links to one photo are decoded once.
                    os.path.realpath(path),
                    st.st_size,
                    st.st_mtime_ns,
                    size,
                    self.resize,
                    self.interpolation,
                    reframe["crop_bottom"],
                    reframe["common_scale"],
                    reframe["tiles"],
                    reframe["color_constancy"],
                    _decode._USE_DRAFT,
                )
                if key in positions:  # the same file twice, e.g. after oversampling
                    positions[key].append(i)
                    continue
                cached = _CACHE.get(key) if use_cache else None
                if cached is not None:
                    out[i] = cached
                    continue
                jobs[key] = partial(
                    _decode.decode_file, path, size, self.resize, resample, **reframe
                )
                positions[key] = [i]
            elif isinstance(item, (Image.Image, np.ndarray)):
                key = ("in-memory", i)
                jobs[key] = partial(
                    _decode.image_to_array, item, size, self.resize, resample, **reframe
                )
                positions[key] = [i]
            else:
                errors[i] = (
                    f"X[{i}]",
                    f"expected a file path or an image, got {type(item).__name__} {item!r:.80}",
                )

        for key, result in zip(jobs, _run(jobs.values(), n_threads), strict=True):
            if isinstance(result, Exception):
                reason = describe_error(result)
                for i in positions[key]:
                    errors[i] = (_name(items[i], i), reason)
                continue
            for i in positions[key]:
                out[i] = result
            if use_cache and key[0] != "in-memory":
                _CACHE.put(key, result)

        if errors:
            raise ImageLoadError([errors[i] for i in sorted(errors)], n_total=n)
        return out

    @staticmethod
    def clear_cache():
        """Empty the process-wide image cache (same as :func:`clear_image_cache`).

        Examples
        --------
        >>> from skin_estimators.preprocessing import ImageLoader, image_cache_info
        >>> ImageLoader.clear_cache()
        >>> image_cache_info().n_images
        0
        """
        clear_image_cache()

    _parameter_constraints = IMAGE_LOADER_CONSTRAINTS

    def _check_params(self):
        """Validate the parameters; return ``((height, width), n_threads)``."""
        validate_constraints(self)
        return _as_size(self.size), _n_threads(self.n_jobs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # stateless: transform works without fit
        tags.input_tags.string = True  # file paths
        tags.transformer_tags.preserves_dtype = []  # always returns uint8
        return tags


def _name(item, i):
    return os.fsdecode(item) if isinstance(item, _PATH_TYPES) else f"X[{i}]"


def _call(job):
    # The per-image error boundary: Pillow raises many types for bad data (OSError,
    # SyntaxError, ValueError, struct.error, zlib.error, MemoryError, ...), and every one of
    # them means "this image cannot be used", to be reported with its file name.
    try:
        return job()
    except Exception as exc:  # noqa: BLE001
        return exc


def _run(jobs, n_threads):
    jobs = list(jobs)
    if n_threads == 1 or len(jobs) < 2:
        return [_call(job) for job in jobs]
    with ThreadPoolExecutor(min(n_threads, len(jobs))) as pool:
        return list(pool.map(_call, jobs))
