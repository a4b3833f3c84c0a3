#!/usr/bin/env python3
"""A stand-in for the fleet behind its balancer, for infra/tests/run.sh to smoke-test.

    stub_server.py MODE PORT_FILE

Listens on 127.0.0.1 on a free port, writes the port to PORT_FILE, and answers /hello
and /repeat the way the service does, alternating X-Instance-Id between two instances.
MODE "good" answers correctly; "bad-repeat" returns 99 lines from /repeat; "no-header"
omits X-Instance-Id. Exits by itself after 60 s or when killed.
"""

import http.server
import sys
import threading

MODE = sys.argv[1]
COUNT = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        COUNT[0] += 1
        if self.path == "/hello":
            body = "Hello World\n"
        elif self.path == "/repeat":
            body = "Hello World\n" * (99 if MODE == "bad-repeat" else 100)
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        if MODE != "no-header":
            self.send_header("X-Instance-Id", f"i-stub{COUNT[0] % 2}")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(str(server.server_address[1]))
threading.Timer(60, server.shutdown).start()
server.serve_forever()
