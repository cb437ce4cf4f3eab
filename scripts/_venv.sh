# Sourced by scripts/demo and scripts/test: make .venv and install airtf into it (editable, with
# its test extras) at the exact versions of constraints.txt; nothing happens when nothing changed.
# AIRTF_VENV, AIRTF_CONSTRAINTS and AIRTF_EXTRAS choose another environment (scripts/test-beam).
set -euo pipefail
AIRTF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${AIRTF_VENV:-$AIRTF_ROOT/.venv}
CONSTRAINTS=$AIRTF_ROOT/${AIRTF_CONSTRAINTS:-constraints.txt}
EXTRAS=${AIRTF_EXTRAS:-test,litert,onnx}

pick_python() {
    for candidate in python3.11 python3.12 python3.13 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "airtf needs Python 3.10 to 3.13 (TensorFlow's range); none was found on PATH" >&2
    exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
fi
stamp="$VENV/.airtf-installed"
wanted=$( (cat "$AIRTF_ROOT/setup.cfg" "$AIRTF_ROOT/pyproject.toml" "$CONSTRAINTS" "${BASH_SOURCE[0]}"; echo "$EXTRAS") |
    sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "installing airtf and its dependencies into $VENV (once; about a minute with a warm pip cache)" >&2
    pip=("$VENV/bin/python" -m pip -qq --disable-pip-version-check)
    "${pip[@]}" install --upgrade pip
    "${pip[@]}" install -c "$CONSTRAINTS" -e "$AIRTF_ROOT[$EXTRAS]"
    # tinysoundfont renders the demo data sets; it declares pyaudio (live playback
    # only), which fails to build without PortAudio's headers, so it comes without it.
    "${pip[@]}" install -c "$CONSTRAINTS" --no-deps tinysoundfont
    # musicnn's published wheel: the tests check the musicnn ports against its own TF1 code and fetch its
    # checkpoints from the wheel; its metadata pins an old numpy, so it comes without its dependencies.
    "${pip[@]}" download --no-deps --dest "$VENV/wheels" "musicnn==0.1.0"
    "${pip[@]}" install --no-deps "$VENV/wheels/musicnn-0.1.0-py3-none-any.whl"
    echo "$wanted" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
cd "$AIRTF_ROOT"
