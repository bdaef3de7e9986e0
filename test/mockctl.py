#!/usr/bin/env python3
"""Drive the mock Quo API from tests:
  mockctl.py URL reset | log | stats | flight | fault JSON | clearfaults | clearlog | workspace JSON | change JSON
                | truth QUERY | percall QUERY

Used from SQL through COPY ... FROM PROGRAM (see sql/setup.sql), so each
output line becomes a row.  Talks to 127.0.0.1 only.

clearfaults: drop the faults added (not the log, not the changes).
clearlog: forget the request log (not the faults, not the changes).
change JSON: change the default workspace (POST /_mock/change, see
mock_quo.py); prints one line per op, e.g. "call AC90000001 CN00000005".
A refused change exits non-zero with "mockctl: change: reason"; nothing
of it was applied.

truth QUERY: "kind=calls&phone=PNsales0001&after=2024-03-01 09:00:00+00";
the values are taken literally (this encodes them), so a timestamptz's text
form can be passed as it is.  "kind=contacts" and "kind=tasks" print what
list contacts / list tasks answer ("count N", "ids_md5 X").
percall QUERY: "kind=summaries" (transcripts, recordings, voicemails).

change JSON examples (the ops are documented in mock_quo.py's
change_workspace()): a late summary, a completed task, a deleted contact:
  {"op": "percall", "kind": "summaries", "call": "AC00000008",
   "value": {"nextSteps": null, "status": "completed", "summary": ["..."]}}
  {"op": "update_task", "id": "TK00000001", "completed": true}
  {"op": "delete_contact", "id": "664d0db69fcac7cf2e6e0004"}
"""
import sys
import urllib.error
import urllib.request
from urllib.parse import quote


def literal_query(arg):
    parts = []
    for item in arg.split("&"):
        if item:
            k, _, v = item.partition("=")
            parts.append(quote(k, safe="") + "=" + quote(v, safe=""))
    return "&".join(parts)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: mockctl.py URL reset|log|stats|flight|fault JSON|clearfaults|clearlog|workspace JSON|change JSON"
                 "|truth QUERY|percall QUERY")
    base, cmd = sys.argv[1].rstrip("/"), sys.argv[2]
    if not base.startswith("http://127.0.0.1:"):
        sys.exit("mockctl: refusing a non-loopback address")
    try:
        if cmd in ("log", "stats", "flight"):
            with urllib.request.urlopen(base + "/_mock/" + cmd, timeout=10) as r:
                sys.stdout.write(r.read().decode())
        elif cmd == "reset":
            urllib.request.urlopen(urllib.request.Request(base + "/_mock/reset", data=b"", method="POST"),
                                   timeout=10)
        elif cmd == "fault":
            urllib.request.urlopen(urllib.request.Request(base + "/_mock/faults", data=sys.argv[3].encode(),
                                                          method="POST"), timeout=10)
        elif cmd == "clearlog":
            urllib.request.urlopen(urllib.request.Request(base + "/_mock/clearlog", data=b"", method="POST"),
                                   timeout=10)
        elif cmd == "clearfaults":
            urllib.request.urlopen(urllib.request.Request(base + "/_mock/faults", data=b'{"action": "clear"}',
                                                          method="POST"), timeout=10)
        elif cmd in ("workspace", "change"):
            req = urllib.request.Request(base + "/_mock/" + cmd, data=sys.argv[3].encode(), method="POST")
            with urllib.request.urlopen(req, timeout=60) as r:
                sys.stdout.write(r.read().decode())
        elif cmd in ("truth", "percall"):
            with urllib.request.urlopen(base + "/_mock/%s?" % cmd + literal_query(sys.argv[3]), timeout=60) as r:
                sys.stdout.write(r.read().decode())
        else:
            sys.exit("mockctl: unknown command " + cmd)
    except urllib.error.HTTPError as e:
        sys.exit("mockctl: " + e.read().decode(errors="replace").strip())


if __name__ == "__main__":
    main()
