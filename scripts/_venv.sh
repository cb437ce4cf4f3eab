# Sourced by scripts/demo and scripts/test: make .venv and install airtf into it
# (editable, with the extras given as $1), doing nothing when nothing changed.
set -euo pipefail
AIRTF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${AIRTF_VENV:-$AIRTF_ROOT/.venv}

pick_python() {
    for candidate in python3.11 python3.12 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
            echo "$candidate"
            return
        fi
    done
    echo "airtf needs Python 3.10, 3.11 or 3.12 (TensorFlow 2.16's range); none was found on PATH" >&2
    exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
fi
extras=${1:-}
stamp="$VENV/.airtf-installed${extras:+-$extras}"
wanted=$(cat "$AIRTF_ROOT/setup.cfg" "$AIRTF_ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$AIRTF_ROOT${extras:+[$extras]}"
    # tinysoundfont renders the demo data sets; it declares pyaudio (live playback
    # only), which fails to build without PortAudio's headers, so it comes without it.
    "$VENV/bin/python" -m pip install --quiet --no-deps tinysoundfont==0.3.7
    echo "$wanted" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
cd "$AIRTF_ROOT"
