"""Screenshots of TensorBoard's dashboards over airtf runs, with headless Chromium, for the README.

    python tools/tensorboard_screenshots.py LOGDIR --out DIR [--chromium PATH] [--width 1400 --height 900]

Starts TensorBoard on 127.0.0.1 over LOGDIR, waits until it answers, and
writes DIR/<dashboard>.png for the scalars, images, histograms, text,
projector and hparams dashboards, each rendered by Chromium (Debian's
``chromium`` package) in headless mode with time to load its data. Prints
each file written.
"""

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DASHBOARDS = ("scalars", "images", "histograms", "text", "projector", "hparams")
RENDER_MILLISECONDS = 20000
"""Virtual time Chromium gives a dashboard to fetch and draw its data before the screenshot."""


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logdir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--dashboards", nargs="+", choices=DASHBOARDS, default=list(DASHBOARDS))
    return parser.parse_args(argv)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(logdir):
    """A TensorBoard process over ``logdir`` on 127.0.0.1, and its address, once it answers."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host",
                               "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{address}/data/runs", timeout=5).read()
            return server, address
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"TensorBoard did not start over {logdir}")
            time.sleep(0.5)


def screenshot(chromium, url, path, width, height):
    """Render ``url`` in headless Chromium and write its screenshot to ``path``."""
    with tempfile.TemporaryDirectory(prefix="airtf-chromium-") as profile:
        subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--virtual-time-budget={RENDER_MILLISECONDS}", f"--screenshot={path}", url],
                       check=True, capture_output=True, timeout=180)


def main(argv=None):
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    server, address = serve(args.logdir)
    try:
        for dashboard in args.dashboards:
            path = args.out / f"{dashboard}.png"
            screenshot(args.chromium, f"{address}/#{dashboard}", path.resolve(), args.width, args.height)
            print(f"wrote {path}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
