#!/usr/bin/env python3
"""Drive the mock Quo API from tests: mockctl.py URL reset | log | stats | flight | fault JSON.

Used from SQL through COPY ... FROM PROGRAM (see sql/setup.sql), so each
output line becomes a row.  Talks to 127.0.0.1 only.
"""
import sys
import urllib.request


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: mockctl.py URL reset|log|stats|flight|fault JSON")
    base, cmd = sys.argv[1].rstrip("/"), sys.argv[2]
    if not base.startswith("http://127.0.0.1:"):
        sys.exit("mockctl: refusing a non-loopback address")
    if cmd in ("log", "stats", "flight"):
        with urllib.request.urlopen(base + "/_mock/" + cmd, timeout=10) as r:
            sys.stdout.write(r.read().decode())
    elif cmd == "reset":
        urllib.request.urlopen(urllib.request.Request(base + "/_mock/reset", data=b"", method="POST"), timeout=10)
    elif cmd == "fault":
        urllib.request.urlopen(urllib.request.Request(base + "/_mock/faults", data=sys.argv[3].encode(),
                                                      method="POST"), timeout=10)
    else:
        sys.exit("mockctl: unknown command " + cmd)


if __name__ == "__main__":
    main()
