#!/usr/bin/env python3
"""Summarise valgrind memcheck logs: print the error records whose stack
touches quo_fdw, libcurl or json-c, and exit 1 if there is any.

PostgreSQL itself (built without USE_VALGRIND) reports a few known false
positives, such as uninitialised padding written to WAL; those are not ours.
Usage: valgrind_report.py LOG...
"""
import re
import sys

OURS = re.compile(r"quo_fdw\.so|libcurl|libjson-c")


def records(path):
    rec = []
    with open(path, errors="replace") as f:
        for line in f:
            body = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
            if body == "":
                if rec:
                    yield rec
                rec = []
            else:
                rec.append(body)
    if rec:
        yield rec


def main():
    ours, total = [], 0
    for path in sys.argv[1:]:
        for rec in records(path):
            head = rec[0]
            if not re.match(r"(Invalid|Conditional|Use of uninit|Syscall param|Mismatched|"
                            r"Source and destination|Argument|Jump to|Process terminating)", head):
                continue
            total += 1
            if any(OURS.search(l) for l in rec):
                ours.append((path, rec))
    for path, rec in ours[:20]:
        print("--- %s" % path)
        print("\n".join(rec[:30]))
    print("valgrind: %d error record(s), %d in quo_fdw, libcurl or json-c" % (total, len(ours)))
    sys.exit(1 if ours else 0)


if __name__ == "__main__":
    main()
