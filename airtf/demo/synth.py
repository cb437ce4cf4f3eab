"""Render notes with a General MIDI SoundFont (tinysoundfont).

tinysoundfont declares pyaudio, for live playback only, as a dependency;
rendering needs none of it, so ``pip install --no-deps tinysoundfont`` is
enough. The default soundfont is TimGM6mb.sf2, which ships inside the
pretty_midi package.
"""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np

from airtf.demo import gm
from airtf.errors import AirtfError

SOUNDFONT_FIX = "pass --soundfont PATH with a General MIDI .sf2 file (e.g. Debian's fluid-soundfont-gm)"


def default_soundfont():
    """Path of TimGM6mb.sf2 inside the installed pretty_midi package."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise AirtfError(f"pretty_midi is not installed, so its TimGM6mb.sf2 is not available; "
                         f"`pip install pretty_midi` or {SOUNDFONT_FIX}")
    return Path(spec.submodule_search_locations[0]) / "TimGM6mb.sf2"


@dataclasses.dataclass(frozen=True)
class Part:
    """One instrument's notes and how to play them.

    Attributes
    ----------
    notes : sequence of :class:`airtf.demo.music.Note`.
    program : GM program (0-based); the kit preset when ``kit`` is set.
    kit : play on the GM percussion channel with drum kit ``program``.
    tuning : detuning in semitones.
    """

    notes: tuple
    program: int
    kit: bool = False
    tuning: float = 0.0


class SoundFont:
    """A loaded soundfont that renders :class:`Part` objects to stereo float32.

    Parameters
    ----------
    path : .sf2 file; default :func:`default_soundfont`.
    sample_rate : output rate in Hz.
    """

    def __init__(self, path=None, sample_rate=44100):
        try:
            import tinysoundfont
        except ImportError:
            raise AirtfError("tinysoundfont is not installed; `pip install --no-deps tinysoundfont` "
                             "(the demo renders without pyaudio)") from None
        self.path = Path(path) if path else default_soundfont()
        self.sample_rate = sample_rate
        if not self.path.is_file():
            raise AirtfError(f"{self.path}: soundfont not found; {SOUNDFONT_FIX}")
        self._synth = tinysoundfont.Synth(samplerate=sample_rate)
        try:
            self._id = self._synth.sfload(str(self.path))
        except (RuntimeError, OSError) as error:
            raise AirtfError(f"{self.path}: not a readable SoundFont ({error}); {SOUNDFONT_FIX}") from None

    def has_program(self, program, kit=False):
        """Whether the soundfont holds a GM program (or drum kit)."""
        bank = gm.PERCUSSION_BANK if kit else 0
        return self._synth.sfpreset_name(self._id, bank, program) is not None

    def render(self, part, seconds):
        """Render ``part`` for ``seconds``; returns float32 (samples, 2).

        Notes still sounding at the end are cut off there.
        """
        channel = gm.DRUM_CHANNEL if part.kit else 0
        bank = gm.PERCUSSION_BANK if part.kit else 0
        self._synth.program_select(channel, self._id, bank, part.program, is_drums=part.kit)
        self._synth.set_tuning(channel, part.tuning)
        total = int(round(seconds * self.sample_rate))
        chunks, done = [], 0
        for sample, is_on, note in _events(part.notes, self.sample_rate):
            if sample >= total:
                break
            if sample > done:
                chunks.append(self._generate(sample - done))
                done = sample
            if is_on:
                self._synth.noteon(channel, note.pitch, note.velocity)
            else:
                self._synth.noteoff(channel, note.pitch)
        chunks.append(self._generate(total - done))
        self._silence()
        return np.concatenate(chunks)

    def _generate(self, samples):
        return np.frombuffer(self._synth.generate(samples), dtype=np.float32).reshape(-1, 2).copy()

    def _silence(self):
        """Stop every voice, so that the next render starts from silence."""
        self._synth.sounds_off()
        for _ in range(100):
            if not np.any(self._generate(self.sample_rate // 100)):
                return


def _events(notes, sample_rate):
    """(sample, is note-on, note) in time order; note-offs first at equal times.

    A note is released when its pitch is struck again, so that overlapping
    (legato) repeats do not cut the new note short.
    """
    events = []
    ordered = sorted(notes, key=lambda note: note.start)
    for index, note in enumerate(ordered):
        end = note.start + note.duration
        restruck = next((later.start for later in ordered[index + 1:]
                         if later.pitch == note.pitch and later.start > note.start), end)
        start = int(round(note.start * sample_rate))
        events.append((start, True, note))
        events.append((max(start + 1, int(round(min(end, restruck) * sample_rate))), False, note))
    return sorted(events, key=lambda event: (event[0], event[1]))
