#!/usr/bin/env python3
"""Self-check of the mock Quo API's workspace extras and ground truth.

Starts test/mock_quo.py on a free loopback port, switches the extras on
(POST /_mock/workspace), lists calls and messages workspace-wide as a client
would (conversations first, then each conversation's calls and messages,
pruning conversations by lastActivityAt), and asserts that what it got
equals GET /_mock/truth.  Prints timings; exits 0 on success.

  python3 test/mock_selfcheck.py [--conversations 1000] [--messages 100]

Python 3 standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "selfcheck-key"
SECOND = timedelta(seconds=1)


def ts(s):
    dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def z(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Client:
    """One keep-alive connection, as quo_fdw keeps one; counts requests and page times."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.requests = 0
        self.times = {}

    def get(self, path, auth=True):
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"Authorization": KEY} if auth else {})
        r = self.conn.getresponse()
        body = r.read()
        if path.startswith("/v1/"):
            self.requests += 1
            kind = path[4:].split("?")[0].split("/")[0]
            self.times.setdefault(kind, []).append(time.perf_counter() - t)
        return r.status, body

    def post(self, path, body):
        self.conn.request("POST", path, body=body.encode())
        r = self.conn.getresponse()
        return r.status, r.read().decode()

    def pages(self, path, params, size=100):
        """Every row of a list, page by page."""
        rows, token = [], None
        while True:
            q = list(params) + [("maxResults", str(size))] + ([("pageToken", token)] if token else [])
            st, body = self.get(path + "?" + urllib.parse.urlencode(q))
            assert st == 200, (path, q, st, body[:300])
            d = json.loads(body)
            rows += d["data"]
            token = d.get("nextPageToken")
            if not token:
                return rows

    def truth(self, query):
        st, body = self.get("/_mock/truth?" + query)
        assert st == 200, (query, body)
        return dict(l.split(" ", 1) for l in body.decode().splitlines())


def workspace_wide(c, kind, phones=(), after=None, before=None, user=None, check_order=False):
    """kind rows with after <= createdAt <= before, listed the way the feature will."""
    convs = c.pages("/v1/conversations", [("phoneNumbers", p) for p in phones])
    if check_order:
        keys = [(ts(v["updatedAt"]), v["id"]) for v in convs]
        assert keys == sorted(keys, reverse=True), "conversations not newest first"
        assert len({v["id"] for v in convs}) == len(convs), "a conversation listed twice"
    ids, per_conv, skipped, pruned = [], {}, [], 0
    for v in convs:
        last = v["lastActivityAt"]
        if after is not None and (last is None or ts(last) < after):
            pruned += 1
            continue
        n = len(v["participants"])
        if (kind == "calls" and n != 1) or n > 10:
            skipped.append(v)
            continue
        params = [("phoneNumberId", v["phoneNumberId"])] + [("participants", p) for p in v["participants"]]
        if user:
            params.append(("userId", user))
        # createdAfter/createdBefore may be exclusive or inclusive: widen, recheck
        if after is not None:
            params.append(("createdAfter", z(after - SECOND)))
        if before is not None:
            params.append(("createdBefore", z(before + SECOND)))
        rows = c.pages("/v1/" + kind, params)
        times = [ts(r["createdAt"]) for r in rows]
        if check_order:
            want = sorted(times, reverse=(kind == "calls"))
            assert times == want, "%s of %s out of order" % (kind, v["id"])
            if last is not None and rows:
                # pruning by lastActivityAt is safe: no row is later than it
                assert max(times) <= ts(last), v
        got = [r["id"] for r, t in zip(rows, times)
               if (after is None or t >= after) and (before is None or t <= before)]
        if got:
            per_conv[v["id"]] = len(got)
        ids += got
    assert len(set(ids)) == len(ids), "a row listed twice"
    ids.sort()
    return {"count": str(len(ids)), "ids_md5": hashlib.md5(",".join(ids).encode()).hexdigest(),
            "conversations": str(len(per_conv))}, skipped, pruned, convs


def check(c, kind, query, **kw):
    t = time.perf_counter()
    n0 = c.requests
    got, skipped, pruned, convs = workspace_wide(c, kind, **kw)
    want = c.truth(query)
    for k, v in got.items():
        assert want[k] == v, "%s %s: %s is %s, truth says %s" % (kind, query, k, v, want[k])
    assert int(want["unlistable_conversations"]) <= len(skipped), (want, len(skipped))
    print("ok  %-8s %-70s count %7s  convs %4s (%d pruned, %d unlistable)  %d requests %.1fs"
          % (kind, query, got["count"], got["conversations"], pruned, len(skipped),
             c.requests - n0, time.perf_counter() - t))
    return want, skipped, convs


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=100)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="mock_selfcheck.")
    port_file = os.path.join(tmp, "port")
    t0 = time.perf_counter()
    mock = subprocess.Popen([sys.executable, os.path.join(HERE, "mock_quo.py"), "--port", "0",
                             "--port-file", port_file, "--key", KEY], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.02)
        startup = time.perf_counter() - t0
        port = int(open(port_file).read())
        c = Client(port)
        rss0 = rss_kb(mock.pid)

        # the default workspace: truth agrees with a crawl, nothing unlistable
        for kind in ("calls", "messages"):
            want, _, _ = check(c, kind, "kind=" + kind, check_order=True)
            assert want["unlistable_count"] == "0", want

        spec = {"bulk_conversations": args.conversations, "bulk_messages": args.messages, "big_group": True}
        t = time.perf_counter()
        st, summary = c.post("/_mock/workspace", json.dumps(spec))
        enable = time.perf_counter() - t
        assert st == 200, summary
        print("workspace:", summary.replace("\n", "; "))
        info = dict(l.split(" ", 1) for l in summary.splitlines())
        rss1 = rss_kb(mock.pid)

        want, skipped, convs = check(c, "messages", "kind=messages", check_order=True)
        assert len(convs) == 55 + args.conversations + 1, len(convs)
        assert [v["id"] for v in skipped] == ["CNG0000001"], skipped
        assert want["unlistable_count"] == "6" and want["unlistable_conversations"] == "1", want
        # the group's messages exist (by id), but list messages refuses 12 participants
        g = skipped[0]
        q = urllib.parse.urlencode([("phoneNumberId", g["phoneNumberId"]), ("maxResults", "10")]
                                   + [("participants", p) for p in g["participants"]])
        st, body = c.get("/v1/messages?" + q)
        assert st == 400 and json.loads(body)["code"] == "0206400", (st, body)
        n = 0
        while c.get("/v1/messages/ACG%07d" % n)[0] == 200:
            n += 1
        assert str(n) == want["unlistable_count"], n
        assert c.get("/v1/messages/" + g["lastActivityId"])[0] == 200
        want, skipped, _ = check(c, "calls", "kind=calls", check_order=True)
        assert want["unlistable_count"] == "0"
        bulk_msgs = int(info["bulk_messages"])
        want = c.truth("kind=messages&phone=PNbulk00003")
        assert want["count"] == str(bulk_msgs), (want, bulk_msgs)
        want = c.truth("kind=calls&phone=%2B15550004000")
        assert want["count"] == info["bulk_calls"], want

        # bounds that are exact row times (inclusive), pruning by lastActivityAt
        bulk = [v for v in convs if v["phoneNumberId"] == "PNbulk00003"]
        mid = bulk[len(bulk) // 2]
        params = [("phoneNumberId", mid["phoneNumberId"]), ("participants", mid["participants"][0])]
        rows = c.pages("/v1/messages", params)
        lo, hi = rows[len(rows) // 3]["createdAt"], rows[2 * len(rows) // 3]["createdAt"]
        first_call = c.pages("/v1/calls", params)
        for kind in ("messages", "calls"):
            for phones in ((), ("PNbulk00003",), ("PNbulk00003", "PNsales0001")):
                pq = "".join("&phone=" + p for p in phones)
                check(c, kind, "kind=%s%s&after=%s" % (kind, pq, urllib.parse.quote(lo)),
                      phones=phones, after=ts(lo))
                check(c, kind, "kind=%s%s&after=%s&before=%s" % (kind, pq, urllib.parse.quote(lo),
                                                                  urllib.parse.quote(hi)),
                      phones=phones, after=ts(lo), before=ts(hi))
        if first_call:
            at = first_call[-1]["createdAt"]
            check(c, "calls", "kind=calls&after=%s&before=%s" % (urllib.parse.quote(at), urllib.parse.quote(at)),
                  after=ts(at), before=ts(at))
        check(c, "messages", "kind=messages&user=USbob000002&after=2025-06-01T00:00:00Z",
              user="USbob000002", after=ts("2025-06-01T00:00:00Z"))
        check(c, "calls", "kind=calls&user=UScarol0003", user="UScarol0003")
        # a default row whose createdAt lost its milliseconds: truth follows the rendered time
        default = c.pages("/v1/messages", [("phoneNumberId", "PNsales0001"), ("participants", "+15550109999")])
        bare = next(r["createdAt"] for r in default if "." not in r["createdAt"])
        check(c, "messages", "kind=messages&phone=PNsales0001&before=" + urllib.parse.quote(bare),
              phones=("PNsales0001",), before=ts(bare))
        check(c, "messages", "kind=messages&after=" + urllib.parse.quote(bare), after=ts(bare))
        rss2 = rss_kb(mock.pid)

        # users: maxResults 1..50 as documented, pages to the last user,
        # get by id with the documented 400 and 404
        assert c.get("/v1/users?maxResults=51")[0] == 400
        assert c.get("/v1/users")[0] == 400
        st, _ = c.post("/_mock/workspace", json.dumps({"bulk_users": 120}))
        assert st == 200
        users = c.pages("/v1/users", [], size=50)
        assert len(users) == 124 and len({u["id"] for u in users}) == 124, len(users)
        for u in users:
            assert set(u) == {"id", "email", "firstName", "lastName", "pictureUrl", "role",
                              "createdAt", "updatedAt"}, u
            assert u["id"].startswith("US") and u["role"] in ("owner", "admin", "member"), u
        assert c.get("/v1/users/USbob000002")[0] == 200
        assert c.get("/v1/users/USnobody")[0] == 404
        assert c.get("/v1/users/bob")[0] == 400

        # tasks: maxResults 1..100, the last page without nextPageToken,
        # the 16 documented fields, ^TK ids
        for bad in ("/v1/tasks?maxResults=0", "/v1/tasks?maxResults=101", "/v1/tasks"):
            assert c.get(bad)[0] == 400, bad
        st, body = c.get("/v1/tasks?maxResults=100")
        assert st == 200 and "nextPageToken" in json.loads(body)
        tasks = c.pages("/v1/tasks", [], size=100)
        assert len(tasks) == 130 and len({t["taskId"] for t in tasks}) == 130, len(tasks)
        for t in tasks:
            assert set(t) == {"taskId", "phoneNumberId", "conversationId", "activityId", "phoneNumberGroupId",
                              "orgId", "title", "description", "dueDate", "assignedTo", "assignedBy",
                              "createdAt", "createdBy", "completed", "isDeleted", "revision"}, t
            assert t["taskId"].startswith("TK") and isinstance(t["completed"], bool), t
        st, body = c.get("/v1/tasks?" + urllib.parse.urlencode({"maxResults": "100", "pageToken": json.loads(
            c.get("/v1/tasks?maxResults=100")[1])["nextPageToken"]}))
        assert st == 200 and "nextPageToken" not in json.loads(body), body[:200]
        assert c.get("/v1/tasks/TK00000001")[0] == 200
        assert c.get("/v1/tasks/TK99999999")[0] == 404
        assert c.get("/v1/tasks/task-1")[0] == 400

        # reset switches the extras off
        c.post("/_mock/reset", "")
        assert len(c.pages("/v1/conversations", [])) == 55
        assert len(c.pages("/v1/users", [], size=50)) == 4
        assert c.truth("kind=messages")["count"] == "2634"

        def stats(xs):
            xs = sorted(xs)
            return "%d pages, median %.1f ms, p95 %.1f ms, max %.1f ms" % (
                len(xs), 1000 * xs[len(xs) // 2], 1000 * xs[int(len(xs) * .95)], 1000 * xs[-1])
        print("mock startup %.2fs; workspace switch %.2fs; mock RSS %d MB -> %d MB with extras -> %d MB after crawls"
              % (startup, enable, rss0 // 1024, rss1 // 1024, rss2 // 1024))
        for kind, xs in sorted(c.times.items()):
            print("  %-14s %s" % (kind, stats(xs)))
        print("selfcheck ok: %d API requests" % c.requests)
    finally:
        mock.terminate()
        mock.wait()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
