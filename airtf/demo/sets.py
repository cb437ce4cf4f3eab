"""Demo data sets rendered from a General MIDI soundfont, in their released layouts.

Nobody here can download OpenMIC-2018, NSynth or Freesound, so these make
small sets of real instrument audio in the same layouts, which airtf's
loaders read unchanged::

    OUT/openmic/                            OUT/nsynth/
        audio/000/000046_3840.ogg               nsynth-train/examples.json
        vggish/000/000046_3840.json  (*)        nsynth-train/audio/<note_str>.wav
        class-map.json                          nsynth-valid/...
        openmic-2018.npz                        nsynth-test/...
        openmic-2018-aggregated-labels.csv  OUT/freesound/
        partitions/split01_train.csv            audio/<sound_id>.ogg
        partitions/split01_test.csv             tags.csv

    (*) and openmic-2018.npz's X only when filled with a VGGish's features
        (:func:`airtf.features.extract.fill_released_features`, ``airtf-data demo --weights``).

Each set folder also holds ``.airtf-demo.json``: how it was made (seed,
size, soundfont) and what each OpenMIC clip and NSynth instrument holds.
Sets are deterministic: the same seed gives identical label files and
identical audio (OGG files differ only in their random stream serial
number, not in their samples).
"""

import dataclasses
import shutil
import time
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile

from airtf import params
from airtf.datasets.pipeline import read_json
from airtf.demo import DEFAULT_SIZES, effects, gm, music, qualities, SETS
from airtf.demo.synth import Part, SoundFont, SOUNDFONT_FIX
from airtf.errors import AirtfError
from airtf.support.files import atomic_path, display, write_json, write_npz

MARKER = ".airtf-demo.json"
SILENT_RMS = 1e-4

OPENMIC_CLASSES = tuple(gm.OPENMIC)
"""OpenMIC-2018's 20 classes, in class-map order."""
OPENMIC_SECONDS = 10.0
OPENMIC_RATE = 44100
TRAIN_FRACTION = 0.75

NSYNTH_SPLITS = ("train", "valid", "test")
NOTES_PER_INSTRUMENT = 4
COVER_COPIES = {"train": 2, "valid": 1, "test": 1}
"""Instruments of a split that apply each quality (:func:`nsynth_instruments`)."""

FREESOUND_RATE = 44100
FREESOUND_STYLES = ("staccato", "legato", "chord", "arpeggio")
FREESOUND_EFFECTS = {"reverb": 0.3, "distortion": 0.1, "tremolo": 0.12, "low-pass": 0.12}
"""Effect tag -> how often a Freesound demo clip has it."""


@dataclasses.dataclass
class Rendered:
    """What rendering one demo set made."""

    folder: Path
    summary: str
    seconds: float


def render_demo(out, sets=SETS, sizes=None, seed=0, soundfont=None, overwrite=False, progress=False):
    """Render demo sets into ``out/<set>``.

    Parameters
    ----------
    out : folder that receives one folder per set.
    sets : names from :data:`SETS`.
    sizes : {set: count}; missing sets take :data:`DEFAULT_SIZES`.
    seed : non-negative int; equal seeds give equal sets.
    soundfont : .sf2 file; default TimGM6mb.sf2 from pretty_midi.
    overwrite : replace set folders that an earlier demo render made.
    progress : show a progress bar per set.

    Returns a list of :class:`Rendered`, one per set.
    """
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise AirtfError(f"unknown demo set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    for folder in (Path(out), *Path(out).parents):
        if folder.exists() and not folder.is_dir():
            raise AirtfError(f"{display(folder)}: is a file, not a folder; choose another --out")
    for name in sets:  # fail before rendering anything
        _check_folder(Path(out) / name, overwrite)
    renderers = {"openmic": render_openmic, "nsynth": render_nsynth, "freesound": render_freesound}
    return [renderers[name](Path(out) / name, sizes[name], seed=seed, soundfont=soundfont, overwrite=overwrite,
                            progress=progress) for name in sets]


# ---------------------------------------------------------------- shared helpers

def _check_folder(folder, overwrite):
    """Refuse to replace files, unless ``overwrite`` and the folder is an earlier demo set."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise AirtfError(f"{folder}: exists and is not a folder; choose another --out")
    if not any(folder.iterdir()):
        return
    if not overwrite:
        raise AirtfError(f"{folder}: already holds files; pass --overwrite to replace it with a new demo set, "
                         "or choose another --out")
    if not (folder / MARKER).is_file():
        raise AirtfError(f"{folder}: holds files that no demo render made (no {MARKER}), so --overwrite "
                         "does not delete them; choose another --out")


def describe(folder):
    """A line saying that ``folder`` is a demo set and what that means for its report, or None if it is not one."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return None
    made = read_json(marker, "render the demo set again (airtf-data demo --overwrite)")
    line = f"a demo set (airtf-data demo, seed {made.get('seed')}, size {made.get('size')})"
    if made.get("set") == "openmic":
        line += ("; demo sets have no released features unless made with --weights, so clips without them are "
                 "expected here")
    return line


def _start_set(folder, overwrite, name, seed, size, font):
    """Check and empty ``folder``, then mark it as a demo set; returns the marker's content."""
    if seed < 0:
        raise AirtfError(f"seed {seed} is negative; pass a seed of 0 or more")
    folder = Path(folder)
    _check_folder(folder, overwrite)
    if folder.exists():
        shutil.rmtree(folder)
    provenance = {"set": name, "seed": seed, "size": size, "soundfont": font.path.name, "airtf": params.VERSION}
    write_json(folder / MARKER, provenance)
    return provenance


def _finish_set(folder, provenance, contents):
    """Record what each item holds in the marker."""
    write_json(Path(folder) / MARKER, {**provenance, "contents": contents})


def _rng(seed, name, *index):
    """The random generator of a set (no index) or of one of its items."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), *index])


def _bar(items, name, unit, progress, total=None):
    from tqdm import tqdm

    return tqdm(items, desc=name, unit=unit, disable=not progress, total=total)


def _write_audio(path, audio, rate, subtype):
    """Write audio atomically; the format follows the suffix (.ogg, .wav)."""
    with atomic_path(path) as temporary:
        soundfile.write(temporary, audio, rate, subtype=subtype)


def _write_lines(path, lines):
    """Write text lines atomically, each ending in a newline."""
    with atomic_path(path) as temporary:
        temporary.write_text("".join(f"{line}\n" for line in lines))


def _level(audio, db):
    """``audio`` scaled to an RMS of ``db`` dBFS (silence stays silent)."""
    rms = np.sqrt(np.mean(audio ** 2))
    return audio * (10 ** (db / 20) / rms) if rms > SILENT_RMS else audio


def _pan(stereo, position):
    """Constant-power pan, ``position`` from -1 (left) to 1 (right)."""
    angle = (position + 1) * np.pi / 4
    return stereo * (np.sqrt(2) * np.array([np.cos(angle), np.sin(angle)], np.float32))


def _limit(audio, peak=0.9):
    """Scale down to ``peak`` if louder."""
    largest = np.max(np.abs(audio))
    return (audio * (peak / largest) if largest > peak else audio).astype(np.float32)


def _required(font, found):
    """``found`` (programs of the soundfont), unless it is empty."""
    if not found:
        raise AirtfError(f"{font.path}: holds none of the General MIDI programs the demo plays; {SOUNDFONT_FIX}")
    return found


def _available_programs(font):
    """The programs of :data:`gm.PROGRAMS` that the soundfont holds."""
    return _required(font, [program for program in gm.PROGRAMS if font.has_program(program)])


def _available_kits(font):
    return [kit for kit in gm.DRUM_KITS if font.has_program(kit, kit=True)]


# ---------------------------------------------------------------- OpenMIC-2018

@dataclasses.dataclass(frozen=True)
class Player:
    """One instrument of an OpenMIC demo clip."""

    instrument: str
    role: str
    part: Part

    def describe(self):
        """A JSON-ready summary: instrument, role, and GM program or drum kit."""
        kind = "kit" if self.part.kit else "program"
        return {"instrument": self.instrument, "role": self.role, kind: self.part.program}


def openmic_voicings(font):
    """OpenMIC class -> programs (or drum kits) of it that the soundfont holds."""
    kits = _available_kits(font)
    available = {name: kits if voicing.percussion else [p for p in voicing.programs if font.has_program(p)]
                 for name, voicing in gm.OPENMIC.items()}
    return _required(font, {name: choices for name, choices in available.items() if choices})


def openmic_clip(font, rng, available, seconds=OPENMIC_SECONDS):
    """A clip of 1 to 4 instruments playing one song.

    Returns (stereo float32 audio, list of :class:`Player` that are audible).
    """
    song = music.random_song(rng, seconds)
    names = rng.choice(sorted(available), size=min(int(rng.integers(1, 5)), len(available)), replace=False)
    mix = np.zeros((int(round(seconds * font.sample_rate)), 2), np.float32)
    players = []
    for name in sorted(names):
        player = _openmic_player(song, rng, str(name), available[name])
        audio = font.render(player.part, seconds)
        if np.sqrt(np.mean(audio ** 2)) > SILENT_RMS:
            mix += _pan(_level(audio, rng.uniform(-24, -16)), rng.uniform(-0.6, 0.6))
            players.append(player)
    return _limit(mix), players


def _openmic_player(song, rng, name, choices):
    voicing = gm.OPENMIC[name]
    role = str(rng.choice(voicing.roles))
    program = int(rng.choice(choices))
    if voicing.percussion:
        return Player(name, role, Part(tuple(music.BEATS[role](song, rng)), program, kit=True))
    return Player(name, role, Part(tuple(music.ROLES[role](song, rng, voicing.low, voicing.high)), program))


def openmic_annotations(rng, present):
    """Labels of a clip as OpenMIC's annotators give them: {class: (relevance, responses)}.

    Every instrument present is annotated positive (relevance 0.67 to 1), and
    1 to 3 absent classes negative (0 to 0.2); classes that share samples with
    a present one (:data:`gm.CONFUSABLE`) are never annotated negative.
    """
    blocked = set(present).union(*(group for group in gm.CONFUSABLE if group & set(present)))
    candidates = [name for name in OPENMIC_CLASSES if name not in blocked]
    negatives = rng.choice(candidates, size=min(int(rng.integers(1, 4)), len(candidates)), replace=False)
    labels = {name: (round(float(rng.uniform(0.67, 1.0)), 4), int(rng.integers(2, 6))) for name in present}
    for name in negatives:
        relevance = 0.0 if rng.random() < 0.5 else round(float(rng.uniform(0.0, 0.2)), 4)
        labels[str(name)] = (relevance, int(rng.integers(2, 6)))
    return labels


def openmic_keys(rng, count):
    """Sample keys like OpenMIC's: 6-digit track id, underscore, start in ms (a multiple of 960)."""
    tracks = rng.choice(155000, size=count, replace=False) + 1
    starts = 960 * rng.integers(0, 320, size=count)
    return [f"{track:06d}_{start}" for track, start in zip(tracks, starts)]


def render_openmic(folder, clips=DEFAULT_SIZES["openmic"], seed=0, soundfont=None, overwrite=False, progress=False):
    """Render a demo OpenMIC-2018 set into ``folder``.

    10 s clips (OGG Vorbis, 44.1 kHz stereo) of 1 to 4 instruments, labels
    in the aggregated-labels CSV and in openmic-2018.npz (Y_true, Y_mask,
    sample_key), the class map and a 75/25 train/test partition. The
    released-format features (vggish/ and the npz's X) are left out:
    :func:`airtf.features.extract.fill_released_features` computes them with any VGGish.

    Returns a :class:`Rendered`.
    """
    began = time.perf_counter()
    folder = Path(folder)
    font = SoundFont(soundfont, OPENMIC_RATE)
    available = openmic_voicings(font)
    provenance = _start_set(folder, overwrite, "openmic", seed, clips, font)
    set_rng = _rng(seed, "openmic")
    keys = openmic_keys(set_rng, clips)
    labels, contents = {}, {}
    for index, key in enumerate(_bar(keys, "openmic", "clip", progress)):
        rng = _rng(seed, "openmic", index)
        audio, players = openmic_clip(font, rng, available)
        _write_audio(openmic_audio_path(folder, key), audio, OPENMIC_RATE, "VORBIS")
        labels[key] = openmic_annotations(rng, [player.instrument for player in players])
        contents[key] = [player.describe() for player in players]
    keys = sorted(keys)
    train, test = _openmic_partition(set_rng, keys)
    _write_openmic_labels(folder, keys, labels, train, test)
    _finish_set(folder, provenance, contents)
    positives = sum(relevance >= 0.5 for clip in labels.values() for relevance, _ in clip.values())
    annotations = sum(len(clip) for clip in labels.values())
    summary = (f"{clips} clips ({len(train)} train, {len(test)} test), {positives} positive and "
               f"{annotations - positives} negative annotations; "
               + "X and vggish/ left out (airtf-data demo --weights fills them)")
    return Rendered(folder, summary, time.perf_counter() - began)


def openmic_audio_path(folder, key):
    """audio/<first 3 characters of key>/<key>.ogg, as OpenMIC-2018 stores it."""
    return Path(folder) / "audio" / key[:3] / f"{key}.ogg"


def _openmic_partition(rng, keys):
    """Sorted (train keys, test keys), about 75/25."""
    shuffled = list(rng.permutation(keys))
    cut = int(round(TRAIN_FRACTION * len(keys)))
    return sorted(map(str, shuffled[:cut])), sorted(map(str, shuffled[cut:]))


def _write_openmic_labels(folder, keys, labels, train, test):
    write_json(folder / "class-map.json", {name: index for index, name in enumerate(OPENMIC_CLASSES)})
    _write_lines(folder / "partitions" / "split01_train.csv", train)
    _write_lines(folder / "partitions" / "split01_test.csv", test)
    rows = ["sample_key,instrument,relevance,num_responses"]
    y_true = np.full((len(keys), len(OPENMIC_CLASSES)), 0.5, np.float32)
    y_mask = np.zeros(y_true.shape, bool)
    for row, key in enumerate(keys):
        for name, (relevance, responses) in sorted(labels[key].items()):
            rows.append(f"{key},{name},{relevance!r},{responses}")
            column = OPENMIC_CLASSES.index(name)
            y_true[row, column] = relevance
            y_mask[row, column] = True
    _write_lines(folder / "openmic-2018-aggregated-labels.csv", rows)
    write_npz(folder / "openmic-2018.npz", Y_true=y_true, Y_mask=y_mask, sample_key=np.array(keys, dtype=str))


# ---------------------------------------------------------------- NSynth

@dataclasses.dataclass(frozen=True)
class NSynthInstrument:
    """A demo NSynth instrument: its number, name and patch."""

    index: int
    name: str
    patch: qualities.Patch

    @property
    def program(self):
        """The :class:`gm.Program` it plays."""
        return gm.PROGRAMS[self.patch.program]


def nsynth_instruments(rng, programs, splits):
    """One instrument per entry of ``splits``, whose patches cover every quality within each split.

    Each instrument draws a family uniformly, then a program of it. Within a
    split, at least :data:`COVER_COPIES` instruments are struck or plucked
    and as many are not (programs redrawn where too few are, as far as the
    split's size allows), and their patches apply every rendering choice
    :data:`COVER_COPIES` times (:func:`airtf.demo.qualities.covering_patches`):
    so each split holds every quality, on 4 notes per instrument at the
    default size. Names follow NSynth: ``<family>_<source>_<number within
    family and source, 3 digits>``.
    """
    chosen = [_draw_program(rng, programs) for _ in splits]
    patches = [None] * len(splits)
    for split in NSYNTH_SPLITS:
        members = [index for index, name in enumerate(splits) if name == split]
        copies = COVER_COPIES[split]
        _mix_attacks(rng, programs, chosen, members, min(copies, len(members) // 2))
        for index, patch in zip(members, qualities.covering_patches(rng, [chosen[i] for i in members], copies)):
            patches[index] = patch
    numbers, instruments = {}, []
    for index, patch in enumerate(patches):
        prefix = f"{gm.PROGRAMS[patch.program].family}_{gm.PROGRAMS[patch.program].source}"
        numbers[prefix] = numbers.get(prefix, -1) + 1
        instruments.append(NSynthInstrument(index, f"{prefix}_{numbers[prefix]:03d}", patch))
    return instruments


def _draw_program(rng, programs):
    """A family drawn uniformly among those ``programs`` hold, then one of its programs."""
    families = sorted({gm.PROGRAMS[program].family for program in programs}, key=gm.FAMILIES.index)
    family = families[rng.integers(len(families))]
    return int(rng.choice([program for program in programs if gm.PROGRAMS[program].family == family]))


def _mix_attacks(rng, programs, chosen, members, least):
    """Redraw programs of ``members`` (as one of that kind) until at least ``least`` are percussive and ``least``
    are not."""
    for percussive in (True, False):
        pool = [program for program in programs if gm.PROGRAMS[program].percussive == percussive]
        have = [index for index in members if gm.PROGRAMS[chosen[index]].percussive == percussive]
        others = [index for index in members if index not in have]
        spare = max(0, len(others) - least)  # leave the other kind its own least
        for index in list(rng.permutation(others))[:min(spare, max(0, least - len(have))) if pool else 0]:
            chosen[index] = int(rng.choice(pool))


def nsynth_splits(rng, count):
    """Split of each instrument: about 80/10/10 train/valid/test, instruments disjoint."""
    held_out = max(1, int(round(0.1 * count))) if count >= 3 else 0
    order = rng.permutation(count)
    splits = ["train"] * count
    for position, index in enumerate(order[:2 * held_out]):
        splits[index] = "valid" if position < held_out else "test"
    return splits


def _nsynth_notes(rng, instrument, count):
    """``count`` distinct (pitch, velocity) pairs in the family's range."""
    low, high = gm.FAMILY_RANGES[instrument.program.family]
    pairs = [(pitch, velocity) for pitch in range(low, high + 1) for velocity in qualities.VELOCITIES]
    return [pairs[i] for i in sorted(rng.choice(len(pairs), size=min(count, len(pairs)), replace=False))]


def nsynth_example(note_id, instrument, pitch, velocity):
    """The examples.json entry of one note."""
    program = instrument.program
    note_str = f"{instrument.name}-{pitch:03d}-{velocity:03d}"
    return {"note": note_id, "note_str": note_str, "pitch": pitch, "velocity": velocity,
            "instrument": instrument.index, "instrument_str": instrument.name,
            "instrument_family": gm.FAMILIES.index(program.family), "instrument_family_str": program.family,
            "instrument_source": gm.SOURCES.index(program.source), "instrument_source_str": program.source,
            "qualities": instrument.patch.quality_vector, "qualities_str": instrument.patch.qualities,
            "sample_rate": qualities.SAMPLE_RATE}


class PlannedNote(NamedTuple):
    """One note of a demo NSynth set, before it is rendered."""

    instrument: NSynthInstrument
    split: str
    pitch: int
    velocity: int


def nsynth_plan(seed, programs, notes):
    """The notes :func:`render_nsynth` renders: about ``notes / 4`` instruments (at least 3 when there are 3
    notes), split by instrument (:func:`nsynth_splits`), their patches covering every quality in each split
    (:func:`nsynth_instruments`); a list of :class:`PlannedNote`."""
    rng = _rng(seed, "nsynth")
    count = max(min(notes, 3), int(round(notes / NOTES_PER_INSTRUMENT)))
    splits = nsynth_splits(rng, count)
    instruments = nsynth_instruments(rng, programs, splits)
    shares = [notes // count + (index < notes % count) for index in range(count)]  # notes per instrument
    return [PlannedNote(instrument, splits[instrument.index], pitch, velocity)
            for instrument, share in zip(instruments, shares)
            for pitch, velocity in _nsynth_notes(rng, instrument, share)]


def render_nsynth(folder, notes=DEFAULT_SIZES["nsynth"], seed=0, soundfont=None, overwrite=False, progress=False):
    """Render a demo NSynth set (json/wav layout) into ``folder``.

    4 s notes (:func:`nsynth_plan`), 16 kHz mono 16-bit WAV, split by
    instrument into nsynth-train, nsynth-valid and nsynth-test. Qualities
    are true by construction (see :mod:`airtf.demo.qualities`).

    Returns a :class:`Rendered`.
    """
    began = time.perf_counter()
    folder = Path(folder)
    font = SoundFont(soundfont, qualities.SAMPLE_RATE)
    programs = _available_programs(font)
    provenance = _start_set(folder, overwrite, "nsynth", seed, notes, font)
    plan = nsynth_plan(seed, programs, notes)
    instruments = list({note.instrument.index: note.instrument for note in plan}.values())
    examples = {split: {} for split in NSYNTH_SPLITS}
    for note_id, note in enumerate(_bar(plan, "nsynth", "note", progress)):
        example = nsynth_example(note_id, note.instrument, note.pitch, note.velocity)
        audio = qualities.render_note(font, note.instrument.patch, note.pitch, note.velocity)
        _write_audio(folder / f"nsynth-{note.split}" / "audio" / f"{example['note_str']}.wav", audio,
                     qualities.SAMPLE_RATE, "PCM_16")
        examples[note.split][example["note_str"]] = example
    for split, entries in examples.items():
        write_json(folder / f"nsynth-{split}" / "examples.json", dict(sorted(entries.items())))
    _finish_set(folder, provenance, {i.name: {"program": i.patch.program, "choices": sorted(i.patch.choices)}
                                     for i in instruments})
    counts = ", ".join(f"{split} {len(examples[split])}" for split in NSYNTH_SPLITS)
    return Rendered(folder, f"{len(plan)} notes of {len(instruments)} instruments ({counts})",
                    time.perf_counter() - began)


# ---------------------------------------------------------------- Freesound

def _hyphenated(words):
    return words.lower().replace("_", "-").replace(" ", "-")


def _register_range(family, register):
    """MIDI pitch range of a family's low, mid or high register (overlapping thirds)."""
    low, high = gm.FAMILY_RANGES[family]
    third = (high - low) // 3
    return {"low": (low, low + third + 6), "mid": (low + third, high - third), "high": (high - third - 6, high)}[register]


def _styled_notes(style, song, rng, low, high):
    if style in ("staccato", "legato"):
        return music.melody(song, rng, low, high, articulation=0.3 if style == "staccato" else 1.15)
    return {"chord": music.chords, "arpeggio": music.arpeggio}[style](song, rng, low, high)


def freesound_clip(font, rng, programs, kits):
    """A clip of one instrument (or a drum loop) with effects; returns (mono float32 audio, tags)."""
    seconds = float(rng.integers(2, 7))
    song = music.random_song(rng, seconds, tempo_range=(60, 181))
    if kits and rng.random() < 0.15:
        kit = int(rng.choice(kits))
        part = Part(tuple(music.drum_beat(song, rng) + music.cymbal_beat(song, rng)), kit, kit=True)
        tags = ["drums", "drum-loop", "percussion", "beat", "loop", f"{gm.DRUM_KITS[kit]}-kit"]
    else:
        program = int(rng.choice(programs))
        info = gm.PROGRAMS[program]
        register = str(rng.choice(["low", "mid", "high"]))
        style = str(rng.choice(FREESOUND_STYLES))
        part = Part(tuple(_styled_notes(style, song, rng, *_register_range(info.family, register))), program)
        tags = [_hyphenated(info.name), _hyphenated(info.family), info.source, register, style, song.key_name]
    audio = font.render(part, seconds).mean(axis=1)
    for name, chance in FREESOUND_EFFECTS.items():
        if rng.random() < chance:
            audio = _freesound_effect(name, audio, font.sample_rate, rng)
            tags.append(name)
    tags += [f"{int(song.tempo)}-bpm"] + (["slow"] if song.tempo < 90 else ["fast"] if song.tempo > 135 else [])
    return effects.normalize(audio, rng.uniform(0.4, 0.9)), list(dict.fromkeys(tags))


def _freesound_effect(name, audio, rate, rng):
    if name == "reverb":
        return effects.reverb(audio, rate, rng, rng.uniform(1.2, 3.0), rng.uniform(0.3, 0.5))
    if name == "distortion":
        return effects.drive(audio, rng.uniform(4, 12))
    if name == "tremolo":
        return effects.tremolo(audio, rate, rng.uniform(3, 8), rng.uniform(0.5, 0.9))
    return effects.low_pass(audio, rate, rng.uniform(500, 1500))


def render_freesound(folder, clips=DEFAULT_SIZES["freesound"], seed=0, soundfont=None, overwrite=False,
                     progress=False):
    """Render a demo Freesound set into ``folder``: audio/<sound_id>.ogg and tags.csv.

    2 to 6 s clips (OGG Vorbis, 44.1 kHz mono) of one GM instrument or a drum
    loop. Tags: instrument name, family, source, register (low, mid, high),
    playing style (staccato, legato, chord, arpeggio), key, effects (reverb,
    distortion, tremolo, low-pass), tempo ("<n>-bpm", slow, fast).

    Returns a :class:`Rendered`.
    """
    began = time.perf_counter()
    folder = Path(folder)
    font = SoundFont(soundfont, FREESOUND_RATE)
    programs, kits = _available_programs(font), _available_kits(font)
    _start_set(folder, overwrite, "freesound", seed, clips, font)
    sound_ids = [int(i) + 1000 for i in _rng(seed, "freesound").choice(699000, size=clips, replace=False)]
    tags = {}
    for index, sound_id in enumerate(_bar(sound_ids, "freesound", "clip", progress)):
        audio, tags[sound_id] = freesound_clip(font, _rng(seed, "freesound", index), programs, kits)
        _write_audio(folder / "audio" / f"{sound_id}.ogg", audio, FREESOUND_RATE, "VORBIS")
    _write_lines(folder / "tags.csv", ["sound_id,tags"] + [f"{i},{' '.join(tags[i])}" for i in sorted(tags)])
    vocabulary = len({tag for clip in tags.values() for tag in clip})
    return Rendered(folder, f"{clips} clips, {vocabulary} distinct tags", time.perf_counter() - began)
