"""The objective contract: a typed config, the data, the model, and what TensorBoard shows; and the registry.

An objective is a class registered under its command-line name::

    @register
    class DenAdd(Objective):
        name = "den-add"
        data = "NSynth"
        Config = DenAddConfig          # a frozen dataclass; its fields are the objective's options

        def datasets(self, data_dir, *, batch_size, seed, limit=None): ...   # -> Datasets
        def build(self, backbone, data, seed): ...                          # -> keras.Model
        def example_counts(self, data_dir, data, limit): ...                 # -> {"train": n, ...}
        def projector_examples(self, data_dir, data, limit, count): ...     # -> (examples, labels)

The config's fields, declared with :func:`option`, carry their default, a
help text and a check; ``airtf-pretrain`` makes its command-line options
from them, and ``config.json`` keeps them. ``build`` returns a keras.Model
around the backbone (``model.backbone``) that computes its own loss, is
compiled with only an optimizer, and reports ``loss`` (and ``val_loss``).
"""

import abc
import collections
import dataclasses
import importlib

from airtf.errors import AirtfError

Datasets = collections.namedtuple("Datasets", ["train", "validation", "info", "callbacks"], defaults=((),))
"""What an objective's ``datasets`` returns: two batched tf.data pipelines and a dict of what they hold."""

REGISTRY = {}
"""Command-line name -> objective class, filled by :func:`register`."""


class ObjectiveError(AirtfError):
    """An unknown objective, or an option it does not take or cannot take."""


def option(default, help, check=None, flag=None, metavar=None, choices=None):
    """A config field: its default, its command-line help and how a value is checked.

    Parameters
    ----------
    default
        The default value (a dict or list default is copied per config).
    help : str
        What the option does, for ``--help``.
    check : callable or None
        Text or value -> value, raising ``argparse.ArgumentTypeError``
        (see :mod:`airtf.support.numbers`); runs on the command line and when a
        config is made in Python.
    flag : str or None
        The command-line flag where it is not ``--<name>`` (``--no-autoencoder``).
    metavar : str or None
    choices : sequence or None
        The values the command line accepts.
    """
    metadata = {"help": help, "check": check, "flag": flag, "metavar": metavar, "choices": choices}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of the objectives' configs: every field an :func:`option`, each checked when the config is made."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check = field.metadata.get("check")
            value = getattr(self, field.name)
            if check is not None and value is not None:
                try:
                    object.__setattr__(self, field.name, check(value))
                except Exception as error:  # ArgumentTypeError, or a check's ValueError
                    raise ObjectiveError(f"option {field.name}: {error}") from None

    def to_json(self):
        """The options as a JSON-ready dict."""
        return dataclasses.asdict(self)


class Objective(abc.ABC):
    """A pre-training objective (see the module docstring).

    Parameters
    ----------
    config : Config or None
        The objective's options; None takes ``Config(**options)``.
    **options
        Options by name, for a config made here.

    Raises
    ------
    ObjectiveError
        An option the objective does not take, or a value its check refuses.
    """

    name = ""
    """The command-line name."""
    data = ""
    """The data set it reads, in its released layout (for help and errors)."""
    dataset = None
    """Its :class:`airtf.datasets.base.Dataset` class, which names what goes wrong as the data streams."""
    Config = Config
    saved_files = ()
    """What :meth:`save` writes into a run directory (an overwritten run loses them)."""

    def __init__(self, config=None, **options):
        if config is not None and options:
            raise ObjectiveError("give a config or options, not both")
        unknown = sorted(set(options) - set(self.option_names()))
        if unknown:
            raise ObjectiveError(f"the {self.name} objective takes no option {', '.join(unknown)}; its options are "
                                 f"{', '.join(self.option_names())}")
        self.config = config if config is not None else self.Config(**options)

    @property
    def implementation(self):
        """The objective package's ``model`` module (Keras, tf.data), imported on first use.

        An objective is a package: its ``__init__`` declares the class and
        its config without importing Keras, so that listing the objectives
        (``airtf-pretrain --help``) stays fast.
        """
        return importlib.import_module(f"{type(self).__module__}.model")

    @classmethod
    def summary(cls):
        """What the objective learns, in a few words: its docstring's first line after the name."""
        first = (cls.__doc__ or cls.name).strip().splitlines()[0]
        return first.split(": ", 1)[-1].rstrip(".")

    @classmethod
    def option_names(cls):
        """The names of the config's fields."""
        return [field.name for field in dataclasses.fields(cls.Config)]

    @abc.abstractmethod
    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        """The training and validation pipelines, batched (see :data:`Datasets`)."""

    @abc.abstractmethod
    def build(self, backbone, data, seed):
        """The objective's keras.Model around ``backbone``, for the data ``datasets`` returned."""

    @abc.abstractmethod
    def example_counts(self, data_dir, data, limit):
        """Examples in one epoch, without reading audio: ``{"train": n, "validation": n, "exact": bool}``."""

    @abc.abstractmethod
    def projector_examples(self, data_dir, data, limit, count):
        """Up to ``count`` validation log-mel examples (n, 96, 64) and a row of projector metadata for each
        (list of dicts, column -> str, the same columns in every row)."""

    def tensorboard_callbacks(self, run, model, data):
        """The objective's own TensorBoard views (callbacks writing under ``run.logs``); none by default."""
        return []

    def save(self, run, data):
        """Keep beside the trained backbone what using it needs (e.g. align's vocabulary); nothing by default."""


def register(cls):
    """Class decorator: make an :class:`Objective` subclass available under its ``name``."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"objective {cls.__name__} needs a name of its own (got {cls.name!r})")
    REGISTRY[cls.name] = cls
    return cls
