"""NSynth notes whose quality labels are true by construction.

A :class:`Patch` is a demo NSynth instrument: a GM program plus the set of
rendering choices that it always applies. Each choice causes one quality:

================  ==========================================================
quality           rendering choice
================  ==========================================================
bright            +9 to +15 dB above 2-4 kHz (high shelf)
dark              4th-order low-pass at 500-1200 Hz
distortion        tanh waveshaping, drive 4-12
fast_decay        key released after 0.15-0.4 s, then faded with 0.06-0.12 s
long_release      key held to the end, faded after 3 s with 0.8-1.5 s (only
                  for sustained, not percussive, programs)
multiphonic       a second note a third, fourth or fifth above, or a second
                  layer detuned by 12-30 cents
nonlinear_env     tremolo (4-8 Hz, depth 0.5-0.9) or vibrato (5-7 Hz, 30-60
                  cents)
percussive        the program is struck or plucked (piano, mallets, guitars,
                  plucked basses, harp, pizzicato); not a choice
reverb            convolution with a synthetic room of 1.5-3 s, wet 0.35-0.55
tempo-synced      a sixteenth-note gate pattern at 90-160 BPM
================  ==========================================================

Without fast_decay or long_release a note is held for 3 s and released, as
NSynth's notes are. A patch's settings are drawn from its seed in one fixed
order, so switching one quality off leaves every other setting unchanged.
"""

import dataclasses

import numpy as np

from airtf.demo import effects, gm
from airtf.demo.music import Note
from airtf.demo.synth import Part

QUALITIES = ("bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic", "nonlinear_env",
             "percussive", "reverb", "tempo-synced")
"""NSynth's note qualities, in index order."""

CHANCES = {"bright": 0.15, "dark": 0.15, "distortion": 0.12, "fast_decay": 0.15, "long_release": 0.15,
           "multiphonic": 0.15, "nonlinear_env": 0.15, "reverb": 0.3, "tempo-synced": 0.08}
"""How often a random patch applies each rendering choice."""

EXCLUSIVE = (("bright", "dark"), ("fast_decay", "long_release"))
"""Pairs of choices that a patch never combines (the second one is dropped)."""

SAMPLE_RATE = 16000
NOTE_SECONDS = 4.0
RELEASE_SECONDS = 3.0
VELOCITIES = (25, 50, 75, 100, 127)
GATE_PATTERNS = ((1, 0) * 8, (1, 1, 0, 0) * 4, (1, 0, 0, 1, 0, 0, 1, 0) * 2, (1, 1, 1, 0) * 4)


@dataclasses.dataclass(frozen=True)
class Patch:
    """A GM program with the rendering choices it always applies.

    Attributes
    ----------
    program : GM program (0-based), a key of :data:`airtf.demo.gm.PROGRAMS`.
    choices : frozenset of quality names caused by rendering choices.
    seed : seeds the settings of the choices (cutoffs, rates, room).
    """

    program: int
    choices: frozenset
    seed: int

    @property
    def qualities(self):
        """The qualities of every note of this patch, in index order."""
        percussive = {"percussive"} if gm.PROGRAMS[self.program].percussive else set()
        return [name for name in QUALITIES if name in self.choices | percussive]

    @property
    def quality_vector(self):
        """The 10 quality flags as ints, NSynth's ``qualities`` field."""
        present = set(self.qualities)
        return [int(name in present) for name in QUALITIES]


def random_patch(rng, program, required=frozenset()):
    """A patch of ``program`` applying ``required`` and further choices drawn at :data:`CHANCES`.

    A drawn choice that the program or an earlier choice rules out (see
    :func:`compatible`) is left out.
    """
    drawn = [name for name, chance in CHANCES.items() if rng.random() < chance]
    choices = set(required)
    for name in drawn:
        if compatible(name, program, choices):
            choices.add(name)
    return Patch(program, frozenset(choices), int(rng.integers(2 ** 31)))


def compatible(choice, program, choices):
    """Whether a patch of ``program`` that applies ``choices`` may also apply ``choice``.

    Not long_release on a struck or plucked program (its release is its own
    decay), nor either choice of an :data:`EXCLUSIVE` pair with the other.
    """
    if choice == "long_release" and gm.PROGRAMS[program].percussive:
        return False
    return not any(choice in pair and (set(pair) - {choice}) & set(choices) for pair in EXCLUSIVE)


PLACEMENT_ORDER = ("long_release", "fast_decay", "bright", "dark", "distortion", "multiphonic", "nonlinear_env",
                   "reverb", "tempo-synced")
"""The most constrained choices first, so that :func:`covering_patches` finds room for each."""


def covering_patches(rng, programs, copies=1):
    """Random patches of ``programs``, one each, among which every rendering choice is applied ``copies`` times.

    Each choice is dealt to ``copies`` patches (those with the fewest choices
    so far, ties drawn at random) that may take it (:func:`compatible`), then
    each patch draws further choices as :func:`random_patch` does. With too
    few programs (an exclusive pair needs ``2 * copies``, long_release as
    many sustained programs) a choice is dealt as often as they allow.
    """
    dealt = [set() for _ in programs]
    for choice in PLACEMENT_ORDER:
        order = rng.permutation(len(programs))
        takers = [int(index) for index in order if compatible(choice, programs[index], dealt[index])]
        for index in sorted(takers, key=lambda index: len(dealt[index]))[:copies]:
            dealt[index].add(choice)
    return [random_patch(rng, program, frozenset(choices)) for program, choices in zip(programs, dealt)]


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The numbers behind every choice, drawn from a patch's seed in a fixed order."""

    bright_corner: float
    bright_gain: float
    dark_cutoff: float
    drive: float
    short_hold: float
    short_fade: float
    long_fade: float
    interval: int
    detune: float
    use_dyad: bool
    use_tremolo: bool
    modulation_hz: float
    tremolo_depth: float
    vibrato_cents: float
    room_seconds: float
    room_wet: float
    tempo: float
    gate_pattern: tuple
    room_seed: int

    @classmethod
    def draw(cls, seed):
        rng = np.random.default_rng(seed)
        return cls(bright_corner=rng.uniform(2000, 4000), bright_gain=rng.uniform(9, 15),
                   dark_cutoff=rng.uniform(500, 1200), drive=rng.uniform(4, 12),
                   short_hold=rng.uniform(0.15, 0.4), short_fade=rng.uniform(0.06, 0.12),
                   long_fade=rng.uniform(0.8, 1.5), interval=int(rng.choice([3, 4, 5, 7])),
                   detune=rng.uniform(0.12, 0.3), use_dyad=bool(rng.random() < 0.5),
                   use_tremolo=bool(rng.random() < 0.5), modulation_hz=rng.uniform(4, 8),
                   tremolo_depth=rng.uniform(0.5, 0.9), vibrato_cents=rng.uniform(30, 60),
                   room_seconds=rng.uniform(1.5, 3.0), room_wet=rng.uniform(0.35, 0.55),
                   tempo=float(rng.integers(90, 161)), gate_pattern=GATE_PATTERNS[rng.integers(len(GATE_PATTERNS))],
                   room_seed=int(rng.integers(2 ** 31)))


def render_note(soundfont, patch, pitch, velocity):
    """One 4 s note of ``patch``, float32 mono at the soundfont's rate.

    ``soundfont`` is an :class:`airtf.demo.synth.SoundFont` (NSynth's rate is
    16 kHz). The peak is scaled with velocity, from 0.28 (25) to 0.9 (127).
    """
    settings = _Settings.draw(patch.seed)
    rate = soundfont.sample_rate
    audio = _played(soundfont, patch.program, patch.choices, settings, pitch, velocity)
    if "fast_decay" in patch.choices:
        audio = effects.decay(audio, rate, settings.short_hold, settings.short_fade)
    if "long_release" in patch.choices:
        audio = effects.decay(audio, rate, RELEASE_SECONDS, settings.long_fade)
    if "nonlinear_env" in patch.choices:
        audio = (effects.tremolo(audio, rate, settings.modulation_hz, settings.tremolo_depth)
                 if settings.use_tremolo else effects.vibrato(audio, rate, settings.modulation_hz,
                                                              settings.vibrato_cents))
    if "tempo-synced" in patch.choices:
        audio = effects.gate(audio, rate, settings.tempo, settings.gate_pattern)
    if "distortion" in patch.choices:
        audio = effects.drive(audio, settings.drive)
    if "dark" in patch.choices:
        audio = effects.low_pass(audio, rate, settings.dark_cutoff)
    if "bright" in patch.choices:
        audio = effects.high_boost(audio, rate, settings.bright_corner, settings.bright_gain)
    if "reverb" in patch.choices:
        audio = effects.reverb(audio, rate, np.random.default_rng(settings.room_seed), settings.room_seconds,
                               settings.room_wet)
    return effects.normalize(audio, 0.9 * (0.2 + 0.8 * velocity / 127))


def _played(soundfont, program, choices, settings, pitch, velocity):
    """The raw note (with its multiphonic layer), mono."""
    held = {"fast_decay": settings.short_hold, "long_release": NOTE_SECONDS}
    duration = next((held[name] for name in held if name in choices), RELEASE_SECONDS)
    notes = [Note(0.0, duration, pitch, velocity)]
    layers = [Part(tuple(notes), program)]
    if "multiphonic" in choices and settings.use_dyad:
        layers = [Part((*notes, Note(0.0, duration, pitch + settings.interval, velocity)), program)]
    elif "multiphonic" in choices:
        layers.append(Part(tuple(notes), program, tuning=settings.detune))
    return sum(soundfont.render(layer, NOTE_SECONDS).mean(axis=1) for layer in layers)
