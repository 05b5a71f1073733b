"""The ``__init__`` of an estimator that only changes its base's defaults and adds keywords.

scikit-learn reads an estimator's parameters and their defaults from the signature of its
``__init__`` (``get_params``, ``clone``, the ``repr``), and the documentation shows it, so each
architecture needs a signature with its own defaults (``lr``, ``max_epochs``, ...). Written
out, each such ``__init__`` repeats every keyword twice, once in the signature and once in the
call to the base. :func:`forwarding_init` writes it once, from the base's signature.
"""

import inspect

__all__ = ["forwarding_init"]


def forwarding_init(base, own=None, **defaults):
    """An ``__init__`` for a subclass of ``base``: ``base.__init__`` with other defaults.

    Parameters
    ----------
    base : type
        The class whose ``__init__`` is called.
    own : dict, default=None
        Keywords of the subclass itself (name -> default): set as attributes of the same name
        after ``base.__init__`` ran, never passed to it.
    **defaults
        New defaults of ``base.__init__``'s parameters, or keywords that ``base.__init__``
        takes through its ``**kwargs`` (added to the signature, passed on by name).

    Returns
    -------
    function
        The ``__init__``, with the signature scikit-learn reads (``__signature__``).

    Examples
    --------
    >>> class Base:
    ...     def __init__(self, module, *args, lr=0.1, **kwargs):
    ...         self.module, self.lr, self.extra = module, lr, kwargs
    >>> class Child(Base):
    ...     __init__ = forwarding_init(Base, own={"depth": 3}, lr=0.01, batch_size=4)
    >>> inspect.signature(Child)
    <Signature (module, *args, lr=0.01, batch_size=4, depth=3, **kwargs)>
    >>> child = Child("net", depth=5)
    >>> child.lr, child.extra, child.depth
    (0.01, {'batch_size': 4}, 5)
    """
    own = dict(own or {})
    signature = inspect.signature(base.__init__)
    params = list(signature.parameters.values())
    var_keyword = [p for p in params if p.kind is p.VAR_KEYWORD]
    params = [p for p in params if p.kind is not p.VAR_KEYWORD]
    names = {p.name for p in params}
    params = [p.replace(default=defaults[p.name]) if p.name in defaults else p for p in params]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
               for name, value in {**defaults, **own}.items() if name not in names]
    signature = signature.replace(parameters=params + var_keyword)

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = {name: bound.arguments.pop(name) for name in own}
        base.__init__(*bound.args, **bound.kwargs)
        for name, value in values.items():
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__
