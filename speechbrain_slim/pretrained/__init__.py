"""The shipped model: where the default model of the CLI, ``make demo`` and the examples is.

The repository holds the shipped model once, in ``hub/slim-demucs-real``. A wheel (or any
non-editable install) carries a copy of that folder inside this package,
``speechbrain_slim/pretrained/slim-demucs-real/``, made by ``setup.py`` when it builds the
package, so an installed ``speechbrain-slim`` finds its model without the source tree; a
checkout (or an editable install) reads ``hub/slim-demucs-real`` itself.

The environment variable ``SPEECHBRAIN_SLIM_MODEL`` overrides the default with another model
folder or a Hugging Face Hub repo id ``ORG/NAME`` (``--source`` overrides both).

Authors
 * speechbrain-slim contributors 2026
"""

import os

__all__ = ["ENV_VAR", "SHIPPED_MODEL", "default_source", "shipped_model"]

ENV_VAR = "SPEECHBRAIN_SLIM_MODEL"
SHIPPED_MODEL = "slim-demucs-real"

_PACKAGED = os.path.dirname(os.path.realpath(__file__))
_CHECKOUT_HUB = os.path.join(os.path.dirname(os.path.dirname(_PACKAGED)), "hub")


def shipped_model(name=SHIPPED_MODEL):
    """The folder of the shipped model ``name``: the installed package's copy, else the checkout's.

    Looks for ``speechbrain_slim/pretrained/<name>`` (an installed wheel), then for
    ``hub/<name>`` beside the package (a checkout). When neither holds a
    ``hyperparams.yaml``, returns the folder where the model was expected (the checkout's
    when there is a ``hub`` folder, else the package's), so that loading it fails with
    that path in the message.

    Arguments
    ---------
    name : str
        The model folder's name (only ``slim-demucs-real`` is in a wheel; a checkout also
        has ``slim-demucs-embedded``).

    Returns
    -------
    str
        An absolute path.

    Example
    -------
    >>> folder = shipped_model()
    >>> os.path.basename(folder), os.path.isfile(os.path.join(folder, "hyperparams.yaml"))
    ('slim-demucs-real', True)
    """
    packaged = os.path.join(_PACKAGED, name)
    checkout = os.path.join(_CHECKOUT_HUB, name)
    for folder in (packaged, checkout):
        if os.path.isfile(os.path.join(folder, "hyperparams.yaml")):
            return folder
    return checkout if os.path.isdir(_CHECKOUT_HUB) else packaged


def default_source(environ=None):
    """The default model source: ``$SPEECHBRAIN_SLIM_MODEL`` when set, else the shipped model.

    Arguments
    ---------
    environ : mapping, optional
        The environment to read (default: ``os.environ``).

    Returns
    -------
    str
        A model folder or a Hub repo id.

    Example
    -------
    >>> default_source({ENV_VAR: "ORG/NAME"})
    'ORG/NAME'
    >>> default_source({ENV_VAR: ""}) == shipped_model()
    True
    """
    environ = os.environ if environ is None else environ
    return environ.get(ENV_VAR, "").strip() or shipped_model()
