"""The factorial API's reference design: Python's math.factorial behind gunicorn
(bench/books.sh runs it with two workers on the service's core)."""
import json
import math
import sys
from urllib.parse import parse_qs

# 5000! has 16,326 digits; Python refuses int -> str past 4,300 unless told.
sys.set_int_max_str_digits(0)


def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    try:
        n = int(q["number"][0])
        if n < 0 or n > 10000:
            raise ValueError
    except (KeyError, ValueError):
        body = b'{"error":"bad number"}'
        start_response("400 Bad Request", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body)))])
        return [body]
    body = json.dumps({"number": n, "factorial": str(math.factorial(n))}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
