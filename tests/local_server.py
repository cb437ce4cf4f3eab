"""An HTTP server on 127.0.0.1 for the download tests: files from memory, Range, cut connections, slowness."""

import http.server
import time


class Server(http.server.ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes); Range, dropped connections and slowness on request."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.requests = {}, []
        self.ranges = True
        self.drop_after = None  # bytes sent before the connection is cut, once
        self.delay = 0.0  # seconds between chunks of 4 KiB

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.respond(body=False)

    def do_GET(self):
        self.respond(body=True)

    def respond(self, body):
        server = self.server
        name = self.path.lstrip("/")
        server.requests.append((self.command, name, self.headers.get("Range")))
        if name not in server.files:
            self.send_error(404)
            return
        content, start = server.files[name], 0
        wanted = self.headers.get("Range")
        if wanted and server.ranges:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(content) - start))
        self.end_headers()
        if not body:
            return
        rest = content[start:]
        if server.drop_after is not None:
            rest, server.drop_after = rest[:server.drop_after], None
            self.close_connection = True
        for offset in range(0, len(rest), 4096):
            self.wfile.write(rest[offset:offset + 4096])
            time.sleep(server.delay)
