#!/usr/bin/env python3
"""Self-check of the mock Quo API's workspace extras and ground truth.

Starts test/mock_quo.py on a free loopback port, switches the extras on
(POST /_mock/workspace), lists calls and messages workspace-wide as a client
would (conversations first, then each conversation's calls and messages,
pruning conversations by lastActivityAt), and asserts that what it got
equals GET /_mock/truth.  Checks users, tasks, phone numbers, contacts and
contact custom fields against the OpenAPI document (parameters, pages, fields,
get by id, error codes), and every default call's summary, transcript,
recordings and voicemail against GET /_mock/percall, and changes to the
workspace (POST /_mock/change: calls, messages, conversations, per-call
objects that arrive late, contacts and tasks; the API, /_mock/truth and
/_mock/percall follow them, a refused change leaves nothing, reset undoes
them).  Prints timings; exits 0 on success.

  python3 test/mock_selfcheck.py [--conversations 1000] [--messages 100]

Python 3 standard library only.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
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

    def percall(self, kind):
        st, body = self.get("/_mock/percall?kind=" + kind)
        assert st == 200, (kind, body)
        return dict(l.split(" ", 1) for l in body.decode().splitlines())


def workspace_wide(c, kind, phones=(), after=None, before=None, user=None, check_order=False, keep=None):
    """kind rows with after <= createdAt <= before, listed the way the feature will;
    keep, when given, chooses the conversations by their participants."""
    convs = c.pages("/v1/conversations", [("phoneNumbers", p) for p in phones])
    if check_order:
        keys = [(ts(v["updatedAt"]), v["id"]) for v in convs]
        assert keys == sorted(keys, reverse=True), "conversations not newest first"
        assert len({v["id"] for v in convs}) == len(convs), "a conversation listed twice"
    ids, per_conv, skipped, pruned = [], {}, [], 0
    for v in convs:
        if keep is not None and not keep(v["participants"]):
            continue
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


PHONE_FIELDS = {"id", "groupId", "portRequestId", "formattedNumber", "forward", "name", "number", "portingStatus",
                "symbol", "users", "createdAt", "updatedAt", "restrictions"}
CONTACT_FIELDS = {"id", "externalId", "source", "sourceUrl", "defaultFields", "customFields", "createdAt",
                  "updatedAt", "createdByUserId"}
DEFAULT_FIELDS = {"company", "emails", "firstName", "lastName", "phoneNumbers", "role"}
CUSTOM_TYPES = {"address", "boolean", "date", "multi-select", "number", "string", "url"}
AI_STATUSES = {"absent", "in-progress", "completed", "failed"}
RECORDING_STATUSES = {"absent", "completed", "deleted", "failed", "in-progress", "paused", "processing", "stopped",
                      "stopping"}


def err(c, path, status, code, auth=True):
    """path answers status with the documented code of its family."""
    st, body = c.get(path, auth=auth)
    assert st == status, (path, st, body[:300])
    d = json.loads(body)
    assert d["code"] == code and d["status"] == status, (path, d)
    return d


def check_phone_numbers(c, bulk):
    st, body = c.get("/v1/phone-numbers")
    assert st == 200, body[:300]
    d = json.loads(body)
    assert set(d) == {"data"}, d.keys()          # not paginated: data only
    nums = d["data"]
    want = ["PNsales0001", "PNsupport02", "PNspare0003", "PNnull00004"] + (["PNbulk00003"] if bulk else [])
    assert [n["id"] for n in nums] == want, [n["id"] for n in nums]
    for n in nums:
        assert set(n) == PHONE_FIELDS, n
        assert re.match(r"^\+[1-9]\d{1,14}$", n["number"]) and isinstance(n["name"], str), n
        assert isinstance(n["groupId"], str) and isinstance(n["createdAt"], str) and isinstance(n["updatedAt"], str)
        for u in n["users"]:
            assert set(u) == {"email", "firstName", "lastName", "id", "role", "groupId"}, u
            assert u["id"].startswith("US") and u["groupId"].startswith("GR") and u["role"] in (
                "owner", "admin", "member"), u
        assert set(n["restrictions"]) == {"calling", "messaging"}, n
        for r in n["restrictions"].values():
            assert set(r) == {"CA", "Intl", "US"} and set(r.values()) <= {"restricted", "unrestricted"}, r
        st, body = c.get("/v1/phone-numbers/" + n["id"])
        assert st == 200 and json.loads(body) == {"data": n}, (n["id"], st)
    by = {n["id"]: n for n in nums}
    assert [u["id"] for u in by["PNsales0001"]["users"]] == ["USalice0001", "USbob000002"]
    assert [u["id"] for u in by["PNsupport02"]["users"]] == ["USbob000002", "UScarol0003"]
    assert by["PNspare0003"]["users"] == [] and by["PNsales0001"]["number"] == "+15550001000"
    for f in ("formattedNumber", "forward", "portRequestId", "portingStatus", "symbol"):
        assert any(n[f] is None for n in nums) and any(n[f] is not None for n in nums), f

    def listed(q):
        st, body = c.get("/v1/phone-numbers?" + q)
        assert st == 200, (q, body[:300])
        return [n["id"] for n in json.loads(body)["data"]]
    bulk_ids = ["PNbulk00003"] if bulk else []
    assert listed("userId=USbob000002") == ["PNsales0001", "PNsupport02"] + bulk_ids
    assert listed("userId=USalice0001") == ["PNsales0001"] + bulk_ids
    assert listed("userId=USdave00004") == ["PNnull00004"]
    assert listed("userId=USnobody") == []
    for q in ("userId=bob", "userId=USbob000002&userId=UScarol0003", "maxResults=10", "pageToken=x",
              "phoneNumberId=PNsales0001"):
        err(c, "/v1/phone-numbers?" + q, 400, "0400400")
    err(c, "/v1/phone-numbers/PNnope", 404, "0400404")
    err(c, "/v1/phone-numbers/sales", 400, "0400400")
    err(c, "/v1/phone-numbers", 401, "0400401", auth=False)


def check_contacts(c):
    # custom fields: data only, no parameters
    st, body = c.get("/v1/contact-custom-fields")
    assert st == 200, body[:300]
    d = json.loads(body)
    assert set(d) == {"data"} and 4 <= len(d["data"]) <= 6, d
    for f in d["data"]:
        assert set(f) == {"name", "key", "type"} and f["type"] in CUSTOM_TYPES, f
    types = {f["key"]: f["type"] for f in d["data"]}
    err(c, "/v1/contact-custom-fields?maxResults=10", 400, "0700400")
    err(c, "/v1/contact-custom-fields", 401, "0700401", auth=False)

    # list: maxResults required 1..50, externalIds/sources items 1..75
    # characters, unknown parameters refused; 400s are 0801400 as documented
    for q in ("", "maxResults=0", "maxResults=51", "maxResults=ten", "maxResults=10&maxResults=20",
              "maxResults=10&externalIds=", "maxResults=10&externalIds=" + "x" * 76,
              "maxResults=10&externalIds=ext-0001&externalIds=" + "y" * 76,
              "maxResults=10&sources=", "maxResults=10&sources=" + "s" * 76,
              "maxResults=10&externalId=ext-0001", "maxResults=10&source=csv", "maxResults=10&userId=USbob000002",
              "maxResults=10&pageToken=garbage"):
        d = err(c, "/v1/contacts?" + q, 400, "0801400")
        assert d["title"] == "Invalid Custom Field Item", d
    st, body = c.get("/v1/contacts?maxResults=10&externalIds=" + "x" * 75 + "&sources=" + "s" * 75)
    assert st == 200 and json.loads(body)["data"] == [], body[:300]
    err(c, "/v1/contacts?maxResults=10", 401, "0800401", auth=False)

    # pages of 50 to the end: nextPageToken on every page, null on the last
    n0 = c.requests
    contacts = c.pages("/v1/contacts", [], size=50)
    assert c.requests - n0 == 3 and len(contacts) == 120, (c.requests - n0, len(contacts))
    st, body = c.get("/v1/contacts?maxResults=50")
    d = json.loads(body)
    assert set(d) == {"data", "totalItems", "nextPageToken"} and d["nextPageToken"], d.keys()
    st, body = c.get("/v1/contacts?" + urllib.parse.urlencode({"maxResults": "50", "pageToken": d["nextPageToken"]}))
    d = json.loads(body)
    st, body = c.get("/v1/contacts?" + urllib.parse.urlencode({"maxResults": "50", "pageToken": d["nextPageToken"]}))
    d = json.loads(body)
    assert st == 200 and len(d["data"]) == 20 and "nextPageToken" in d and d["nextPageToken"] is None, d.keys()
    assert len({v["id"] for v in contacts}) == 120
    for v in contacts:
        assert set(v) == CONTACT_FIELDS, v
        assert set(v["defaultFields"]) == DEFAULT_FIELDS, v
        assert v["createdByUserId"].startswith("US") and ts(v["updatedAt"]) >= ts(v["createdAt"]), v
        for f in ("externalId", "source", "sourceUrl"):
            assert v[f] is None or 1 <= len(v[f]) <= (200 if f == "sourceUrl" else 75), v
        for item in v["defaultFields"]["emails"] + v["defaultFields"]["phoneNumbers"]:
            assert {"name", "value"} <= set(item) <= {"name", "value", "id"}, item
        for cf in v["customFields"]:
            assert {"name", "type", "value"} <= set(cf) <= {"name", "key", "id", "type", "value"}, cf
            assert types[cf["key"]] == cf["type"], cf
            want = {"boolean": (bool,), "number": (int, float), "multi-select": (list,)}.get(cf["type"], (str,))
            assert cf["value"] is None or type(cf["value"]) in want, cf
        st, body = c.get("/v1/contacts/" + urllib.parse.quote(v["id"]))
        assert st == 200 and json.loads(body) == {"data": v}, v["id"]
    for f in ("externalId", "source", "sourceUrl", "company", "firstName", "lastName", "role"):
        vals = [v[f] if f in v else v["defaultFields"][f] for v in contacts]
        assert None in vals and any(x is not None for x in vals), f
    assert {len(v["defaultFields"]["emails"]) for v in contacts} == {0, 1, 2}
    assert {len(v["defaultFields"]["phoneNumbers"]) for v in contacts} >= {0, 1, 2}
    assert sum(1 for v in contacts if v["customFields"]) >= 3
    sources = {}
    for v in contacts:
        sources[v["source"]] = sources.get(v["source"], 0) + 1
    assert sources == {"public-api": 40, "csv": 40, "google": 20, None: 20}, sources
    assert sum(v["externalId"] is not None for v in contacts) == 96
    # a join by number with the default workspace's calls is possible
    nums = {p["value"] for v in contacts for p in v["defaultFields"]["phoneNumbers"]}
    called = {p for r in c.pages("/v1/conversations", []) for p in r["participants"]}
    assert len(nums & called) >= 30, len(nums & called)

    # filters: repeated keys, AND of the two
    def ids(params):
        return [v["externalId"] for v in c.pages("/v1/contacts", params, size=50)]
    assert ids([("externalIds", "ext-0002"), ("externalIds", "ext-0001"), ("externalIds", "ext-9999")]) == [
        "ext-0001", "ext-0002"]
    assert len(ids([("sources", "google")])) == 20
    assert len(ids([("sources", "google"), ("sources", "csv")])) == 60
    assert ids([("sources", "google"), ("externalIds", "ext-0001"), ("externalIds", "ext-0004")]) == ["ext-0004"]
    # a page token is bound to its query
    st, body = c.get("/v1/contacts?maxResults=5")
    tok = json.loads(body)["nextPageToken"]
    err(c, "/v1/contacts?" + urllib.parse.urlencode({"maxResults": "5", "sources": "csv", "pageToken": tok}),
        400, "0801400")
    err(c, "/v1/contacts/664d0db69fcac7cf2e6e9999", 404, "0800404")
    err(c, "/v1/contacts/nobody", 404, "0800404")
    err(c, "/v1/contacts/" + contacts[0]["id"], 401, "0800401", auth=False)
    return contacts


PER_CALL = {  # route: (family code prefix, kind of /_mock/percall)
    "call-summaries": ("0500", "summaries"), "call-transcripts": ("0600", "transcripts"),
    "call-recordings": ("0900", "recordings"), "call-voicemails": ("1200", "voicemails")}


def all_calls(c):
    """The calls of the listed 1:1 conversations, by id."""
    calls = {r["id"]: r for r in c.pages("/v1/calls", [("phoneNumberId", "PNsales0001"),
                                                      ("participants", "+15550109999")])}
    for v in c.pages("/v1/conversations", []):
        if len(v["participants"]) == 1 and v["participants"] != ["+15550109999"]:
            for r in c.pages("/v1/calls", [("phoneNumberId", v["phoneNumberId"]),
                                           ("participants", v["participants"][0])]):
                calls[r["id"]] = r
    return calls


def crawl_per_call(c, ids, route):
    """GET route for every call of ids: /_mock/percall's lines for what it got."""
    have, rows = [], 0
    for cid in sorted(ids):
        st, body = c.get("/v1/%s/%s" % (route, cid))
        assert st in (200, 404), (route, cid, st, body[:300])
        if st == 200:
            o = json.loads(body)["data"]
            if route != "call-recordings" or o:
                have.append(cid)
                rows += len(o) if route == "call-recordings" else 1
    return {"count": str(len(have)), "ids_md5": hashlib.md5(",".join(have).encode()).hexdigest(),
            "rows": str(rows)}


def check_per_call(c):
    calls = all_calls(c)
    assert len(calls) == 2507, len(calls)
    for route, (fam, kind) in PER_CALL.items():
        t = time.perf_counter()
        n0 = c.requests
        have, rows, empty, two = [], 0, None, None
        for cid, call in sorted(calls.items()):
            st, body = c.get("/v1/%s/%s" % (route, cid))
            if st == 404:
                assert route != "call-recordings" and json.loads(body)["code"] == fam + "404", (route, cid, body)
                continue
            assert st == 200, (route, cid, st, body[:300])
            d = json.loads(body)
            assert set(d) == {"data"}, d
            o = d["data"]
            if route == "call-recordings":
                assert isinstance(o, list), o
                times = []
                for rec in o:
                    assert set(rec) == {"duration", "id", "startTime", "status", "type", "url"}, rec
                    assert rec["duration"] is None or type(rec["duration"]) is int, rec
                    assert rec["status"] is None or rec["status"] in RECORDING_STATUSES, rec
                    if rec["startTime"] is not None:
                        times.append(ts(rec["startTime"]))
                assert times == sorted(times), o               # oldest first
                if o:
                    have.append(cid)
                    rows += len(o)
                elif empty is None:
                    empty = cid
                if len(o) == 2 and two is None:
                    two = cid
                continue
            have.append(cid)
            rows += 1
            if route == "call-summaries":
                assert {"callId", "nextSteps", "status", "summary"} <= set(o) <= {
                    "callId", "nextSteps", "status", "summary", "jobs"}, o
                assert o["callId"] == cid and o["status"] in AI_STATUSES, o
                assert call["status"] == "completed", call
                for f in ("nextSteps", "summary"):
                    assert o[f] is None or all(isinstance(x, str) for x in o[f]), o
                for j in o.get("jobs") or []:
                    assert set(j) == {"icon", "name", "result"} and set(j["result"]) == {"data"}, j
                    for x in j["result"]["data"]:
                        assert set(x) == {"name", "value"} and type(x["value"]) in (str, int, float, bool), x
            elif route == "call-transcripts":
                assert set(o) == {"callId", "createdAt", "dialogue", "duration", "status"}, o
                assert o["callId"] == cid and o["status"] in AI_STATUSES and ts(o["createdAt"]), o
                assert type(o["duration"]) is float and o["duration"] != int(o["duration"]), o
                for s in o["dialogue"] or []:
                    assert set(s) == {"content", "start", "end", "identifier", "userId"}, s
                    assert s["start"] <= s["end"] and (s["userId"] is None or s["userId"].startswith("US")), s
            else:
                assert set(o) == {"duration", "id", "transcript", "recordingUrl", "status"}, o
                assert o["id"].startswith("VM") and o["status"] in ("completed", "in-progress"), o
                assert call["status"] in ("missed", "no-answer"), call
                if o["status"] == "in-progress":
                    assert o["duration"] is None and o["transcript"] is None and o["recordingUrl"] is None, o
        have.sort()
        want = c.percall(kind)
        got = {"count": str(len(have)), "ids_md5": hashlib.md5(",".join(have).encode()).hexdigest(),
               "rows": str(rows)}
        assert got == want, (route, got, want)
        print("ok  %-16s %4s calls with it, %4s rows  %d requests %.1fs"
              % (route, got["count"], got["rows"], c.requests - n0, time.perf_counter() - t))
        if route == "call-recordings":
            assert empty is not None and two is not None
            assert json.loads(c.get("/v1/call-recordings/" + empty)[1]) == {"data": []}
        else:
            missing = next(cid for cid in sorted(calls) if cid not in set(have))
            err(c, "/v1/%s/%s" % (route, missing), 404, fam + "404")
        err(c, "/v1/%s/AC99999999" % route, 404, fam + "404")
        err(c, "/v1/%s/CN00000001" % route, 400, fam + "400")
        err(c, "/v1/%s/ac00000001" % route, 400, fam + "400")
        err(c, "/v1/%s/%s" % (route, have[0]), 401, fam + "401", auth=False)
        # a plan without the feature: a status fault answers 403 with the
        # family's code, for calls with the object and without it
        st, _ = c.post("/_mock/faults", json.dumps({"match": "/v1/%s/" % route, "action": "status",
                                                   "status": 403, "times": 2}))
        assert st == 200
        other = empty if route == "call-recordings" else missing
        for cid in (have[0], other):
            d = err(c, "/v1/%s/%s" % (route, cid), 403, fam + "403")
            assert d["title"] == "Forbidden", d
        assert c.get("/v1/%s/%s" % (route, have[0]))[0] == 200
    # the extras' calls exist, but have none of these
    st, _ = c.post("/_mock/workspace", json.dumps({"bulk_conversations": 10, "bulk_messages": 2}))
    assert st == 200
    bulk_call = next(r["id"] for r in c.pages("/v1/calls", [("phoneNumberId", "PNbulk00003"),
                                                            ("participants", "+15552000001")]))
    assert c.get("/v1/calls/" + bulk_call)[0] == 200
    for route, (fam, _) in PER_CALL.items():
        err(c, "/v1/%s/%s" % (route, bulk_call), 404, fam + "404")
    check_phone_numbers(c, bulk=True)
    # status faults on the other new families: their own 403 codes
    for path, code in (("/v1/phone-numbers", "0400403"), ("/v1/contacts?maxResults=5", "0801403"),
                       ("/v1/contact-custom-fields", "0700403")):
        c.post("/_mock/faults", json.dumps({"match": path, "action": "status", "status": 403}))
        err(c, path, 403, code)


def conv_params(v):
    return [("phoneNumberId", v["phoneNumberId"])] + [("participants", p) for p in v["participants"]]


def change(c, ops, status=200):
    st, text = c.post("/_mock/change", json.dumps(ops))
    assert st == status, (ops, st, text)
    return text.splitlines()


def check_changes(c):
    """POST /_mock/change: new calls, messages and conversations, updates and
    deletions, seen through the API and the truth; reset brings back the
    workspace byte for byte."""
    t = time.perf_counter()
    fixed = ["/v1/conversations?maxResults=100", "/_mock/truth?kind=calls", "/_mock/truth?kind=messages",
             "/_mock/percall?kind=summaries"]
    convs = c.pages("/v1/conversations", [])
    by_id = {v["id"]: v for v in convs}
    # 1:1 conversations with calls and messages: A gets rows, B updates,
    # D1 is deleted and unlisted, D2 deleted and still listed
    picked = []
    for v in sorted(convs, key=lambda v: v["id"]):
        if len(v["participants"]) == 1 and v["participants"] != ["+15550109999"]:
            q = urllib.parse.urlencode(conv_params(v) + [("maxResults", "100")])
            fixed += ["/v1/calls?" + q, "/v1/messages?" + q]
            calls, msgs = c.pages("/v1/calls", conv_params(v)), c.pages("/v1/messages", conv_params(v))
            if calls and msgs:
                picked.append((v, calls, msgs))
        if len(picked) == 8:
            break
    b, b_calls, b_msgs = next(x for x in picked if any(r["answeredAt"] is None for r in x[1]))
    (a, _, _), (d1, d1_calls, d1_msgs), (d2, _, _) = [x for x in picked if x[0] is not b][:3]
    b_call = next(r for r in b_calls if r["answeredAt"] is None)
    b_msg = b_msgs[0]
    fixed += ["/v1/calls/" + b_call["id"], "/v1/messages/" + b_msg["id"], "/v1/calls/" + d1_calls[0]["id"]]
    before = {p: c.get(p)[1] for p in fixed}
    truth0 = {k: c.truth("kind=" + k) for k in ("calls", "messages")}

    new = "+15559990001"
    assert change(c, [{"op": "call", "conversation": a["id"], "status": "ringing"},
                      {"op": "message", "conversation": a["id"], "status": "sent", "ago": 30, "text": "Hi \u2615"},
                      {"op": "conversation", "phone": "PNsupport02", "participants": [new]},
                      {"op": "call", "conversation": "CN90000001", "status": "completed", "duration": 60,
                       "ago": 120},
                      {"op": "message", "conversation": "CN90000001", "status": "received"}]) == [
        "call AC90000001 " + a["id"], "message AC90000002 " + a["id"], "conversation CN90000001",
        "call AC90000003 CN90000001", "message AC90000004 CN90000001"]
    # all or nothing: a bad op refuses the whole change
    after1 = c.get("/v1/conversations?maxResults=100")[1]
    for ops, reason in (([{"op": "call", "conversation": a["id"], "status": "busy"},
                          {"op": "call", "conversation": "CN00000054", "status": "busy"}],
                         "op 2: call: a call has one"),
                        ({"op": "conversation", "phone": "PNsupport02", "participants": [new]},
                         "op 1: conversation:"),
                        ({"op": "update_call", "id": "AC99999999", "status": "completed"},
                         "op 1: update_call: unknown"),
                        ({"op": "call", "conversation": a["id"], "status": "done"}, "op 1: call: status"),
                        ({"op": "message", "conversation": a["id"], "status": "sent", "to": []}, "op 1: message takes"),
                        ("[", "")):
        text = change(c, ops, 400)
        assert text[0].startswith("change: " + reason), text
    assert c.get("/v1/conversations?maxResults=100")[1] == after1
    assert change(c, [{"op": "update_call", "id": b_call["id"], "status": "completed", "duration": 42},
                      {"op": "update_message", "id": b_msg["id"], "status": "undelivered"},
                      {"op": "delete_conversation", "id": d1["id"], "listed": False},
                      {"op": "delete_conversation", "id": d2["id"], "listed": True}]) == [
        "updated " + b_call["id"], "updated " + b_msg["id"], "deleted " + d1["id"], "deleted " + d2["id"]]
    change(c, {"op": "message", "conversation": d2["id"], "status": "sent"}, 400)     # deleted

    now = c.pages("/v1/conversations", [])
    got = {v["id"]: v for v in now}
    assert d1["id"] not in got and len(now) == len(convs), (len(now), len(convs))
    assert got[d2["id"]]["deletedAt"] is not None and by_id[d2["id"]]["deletedAt"] is None
    assert [v["id"] for v in now[:3]] == [d2["id"], "CN90000001", a["id"]], [v["id"] for v in now[:3]]
    calls = c.pages("/v1/calls", conv_params(a))
    msgs = c.pages("/v1/messages", conv_params(a))
    assert calls[0]["id"] == "AC90000001" and calls[0]["status"] == "ringing", calls[0]
    assert msgs[-1]["id"] == "AC90000002" and msgs[-1]["text"] == "Hi \u2615" and msgs[-1]["direction"] == "outgoing"
    assert json.loads(c.get("/v1/calls/AC90000001")[1])["data"] == calls[0]
    assert json.loads(c.get("/v1/messages/AC90000002")[1])["data"] == msgs[-1]
    assert got[a["id"]]["lastActivityId"] == "AC90000001" and got[a["id"]]["lastActivityAt"] == calls[0]["createdAt"]
    assert ts(got[a["id"]]["updatedAt"]) > ts(by_id[a["id"]]["updatedAt"])
    n = got["CN90000001"]
    assert n["participants"] == [new] and n["phoneNumberId"] == "PNsupport02" and n["deletedAt"] is None, n
    n_calls = c.pages("/v1/calls", conv_params(n))
    n_msgs = c.pages("/v1/messages", conv_params(n))
    assert [r["id"] for r in n_calls] == ["AC90000003"] and [r["id"] for r in n_msgs] == ["AC90000004"]
    assert n_calls[0]["answeredAt"] is not None and n_calls[0]["duration"] == 60, n_calls[0]
    assert n_msgs[0]["direction"] == "incoming" and n_msgs[0]["from"] == new, n_msgs[0]
    assert n["lastActivityId"] == "AC90000004" and n["lastActivityAt"] == n_msgs[0]["createdAt"], n
    assert ts(n_calls[0]["createdAt"]) < ts(n_msgs[0]["createdAt"]) - timedelta(seconds=110)
    # updates change the row, not its conversation
    for k in ("lastActivityAt", "lastActivityId", "updatedAt"):
        assert got[b["id"]][k] == by_id[b["id"]][k], k
    call = json.loads(c.get("/v1/calls/" + b_call["id"])[1])["data"]
    assert call["status"] == "completed" and call["duration"] == 42 and call["updatedAt"] != b_call["updatedAt"]
    assert ts(call["answeredAt"]) == ts(call["createdAt"]) + timedelta(seconds=8), call
    assert ts(call["completedAt"]) == ts(call["answeredAt"]) + timedelta(seconds=42), call
    assert call in c.pages("/v1/calls", conv_params(b))
    msg = json.loads(c.get("/v1/messages/" + b_msg["id"])[1])["data"]
    assert msg["status"] == "undelivered" and msg["updatedAt"] != b_msg["updatedAt"], msg
    # the unlisted conversation's rows stay listable and gettable, but out of the truth
    assert c.pages("/v1/calls", conv_params(d1)) == d1_calls and c.pages("/v1/messages", conv_params(d1)) == d1_msgs
    assert c.get("/v1/calls/" + d1_calls[0]["id"])[0] == 200
    for kind, d1_rows in (("calls", d1_calls), ("messages", d1_msgs)):
        want, _, _ = check(c, kind, "kind=" + kind, check_order=True)
        assert int(want["count"]) == int(truth0[kind]["count"]) + 2 - len(d1_rows), (kind, want, truth0[kind])
    # a new conversation of the unlisted one's participants lists its rows again
    change(c, {"op": "conversation", "phone": d1["phoneNumberId"], "participants": d1["participants"],
               "user": "UScarol0003"})
    for kind in ("calls", "messages"):
        want, _, _ = check(c, kind, "kind=" + kind, check_order=True)
        assert int(want["count"]) == int(truth0[kind]["count"]) + 2, (kind, want)

    # clearfaults drops the faults only: the log and the changes stay
    c.post("/_mock/faults", json.dumps({"match": "/v1/users", "action": "status", "status": 500, "times": -1}))
    assert c.get("/v1/users?maxResults=5")[0] == 500
    assert c.post("/_mock/faults", json.dumps({"action": "clear"}))[0] == 200
    assert c.get("/v1/users?maxResults=5")[0] == 200
    log = c.get("/_mock/log")[1].decode()
    assert "GET /v1/users?maxResults=5 -> 500\n" in log, log[-300:]
    assert c.get("/v1/calls/AC90000001")[0] == 200
    # changes beside the extras: the extras' conversations stay listed
    st, _ = c.post("/_mock/workspace", json.dumps({"bulk_conversations": 5, "bulk_messages": 2}))
    assert st == 200
    assert change(c, {"op": "call", "conversation": a["id"], "status": "missed"}) == ["call AC90000005 " + a["id"]]
    assert len(c.pages("/v1/conversations", [])) == len(convs) + 1 + 5

    # reset: the pristine workspace, byte for byte, and the ids start again
    c.post("/_mock/reset", "")
    for p, body in before.items():
        assert c.get(p)[1] == body, p
    assert c.get("/v1/calls/AC90000001")[0] == 404
    assert change(c, {"op": "conversation", "phone": "PNsales0001", "participants": [new]}) == [
        "conversation CN90000001"]
    c.post("/_mock/reset", "")
    assert c.get("/v1/conversations?maxResults=100")[1] == before["/v1/conversations?maxResults=100"]
    print("ok  changes: rows added, updated, conversations deleted; reset restores  %.1fs"
          % (time.perf_counter() - t))


def percall_get(c, route, cid):
    st, body = c.get("/v1/%s/%s" % (route, cid))
    return st, json.loads(body)


KINDS = ("summaries", "transcripts", "recordings", "voicemails")
ROUTE = {kind: route for route, (_, kind) in PER_CALL.items()}


def check_percall_changes(c):
    """POST /_mock/change op percall: per-call objects that arrive late (a 404
    summary appears, a transcript completes, a recording and a voicemail are
    added, a summary goes), all or none, through the API and /_mock/percall,
    under a 403 fault, for added and extras' calls; reset undoes it."""
    t = time.perf_counter()
    calls = all_calls(c)
    ids = sorted(calls)
    truth0 = {k: c.percall(k) for k in KINDS}
    answers0 = {}

    def first(route, pred):
        for cid in ids:
            st, d = percall_get(c, route, cid)
            answers0[(route, cid)] = (st, d)
            if pred(calls[cid], st, d):
                return cid
        raise AssertionError("no call for " + route)
    no_summary = first("call-summaries", lambda r, st, d: r["status"] == "completed" and st == 404)
    has_summary = first("call-summaries", lambda r, st, d: st == 200)
    pending = first("call-transcripts", lambda r, st, d: st == 200 and d["data"]["status"] == "in-progress")
    no_recs = first("call-recordings", lambda r, st, d: r["status"] == "completed" and d["data"] == [])
    no_vm = first("call-voicemails", lambda r, st, d: r["status"] in ("missed", "no-answer") and st == 404)
    fixed = [(ROUTE[k], cid) for k in KINDS for cid in (no_summary, has_summary, pending, no_recs, no_vm)]
    before = {p: c.get("/v1/%s/%s" % p)[1] for p in fixed}
    old = answers0[("call-transcripts", pending)][1]["data"]

    summary = {"nextSteps": ["Send the refund."], "status": "completed",
               "summary": ["The customer asked for a refund."], "jobs": None}
    done = dict(old, status="completed", dialogue=[
        {"content": "Hello \u2615", "start": 0.5, "end": 2.25, "identifier": "+15550100001", "userId": None},
        {"content": "Hi!", "start": 2.5, "end": 3, "identifier": None, "userId": "USalice0001"}])
    rec = {"duration": 42, "id": "CRlate0001", "startTime": "2024-03-01T10:00:00.000Z", "status": "completed",
           "type": "audio/mpeg", "url": "https://storage.example.com/recordings/CRlate0001.mp3"}
    vm = {"duration": 17, "id": "VMlate0001", "transcript": "Call me back.",
          "recordingUrl": "https://storage.example.com/voicemails/VMlate0001.mp3", "status": "completed"}
    ops = [{"op": "percall", "kind": "summaries", "call": no_summary, "value": summary},
           {"op": "percall", "kind": "transcripts", "call": pending, "value": done},
           {"op": "percall", "kind": "recordings", "call": no_recs, "value": [rec]},
           {"op": "percall", "kind": "voicemails", "call": no_vm, "value": vm},
           {"op": "percall", "kind": "summaries", "call": has_summary, "value": None}]

    # refused: nothing of the change is applied
    good = ops[0]
    for bad, reason in (
            ({"op": "percall", "kind": "summary", "call": no_summary, "value": None}, "percall: kind is one of"),
            ({"op": "percall", "kind": "summaries", "call": "AC99999999", "value": None}, "percall: unknown call"),
            ({"op": "percall", "kind": "summaries", "call": no_summary}, "percall: value is"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": None, "when": 1},
             "percall takes call, kind, value"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": dict(summary, status="done")},
             "percall: summaries: value/status is \"done\", not one of absent, in-progress, completed, failed"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": dict(summary, callId=has_summary)},
             "percall: value/callId is"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": {"status": "completed"}},
             "percall: summaries: value has no nextSteps"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": dict(summary, mood="good")},
             "percall: summaries: value has mood, not a key of the document's"),
            ({"op": "percall", "kind": "summaries", "call": no_summary, "value": dict(summary, summary="refund")},
             "percall: summaries: value/summary is \"refund\", not an array or null"),
            ({"op": "percall", "kind": "transcripts", "call": pending, "value": dict(done, status="finished")},
             "percall: transcripts: value/status"),
            ({"op": "percall", "kind": "transcripts", "call": pending,
              "value": dict(done, dialogue=[dict(done["dialogue"][0], start="0.5")])},
             "percall: transcripts: value/dialogue/0/start is \"0.5\", not a number"),
            ({"op": "percall", "kind": "transcripts", "call": pending, "value": dict(done, createdAt="soon")},
             "percall: transcripts: value/createdAt"),
            ({"op": "percall", "kind": "recordings", "call": no_recs, "value": rec},
             "percall: recordings: value is not an array"),
            ({"op": "percall", "kind": "recordings", "call": no_recs, "value": [dict(rec, status="done")]},
             "percall: recordings: value/0/status"),
            ({"op": "percall", "kind": "recordings", "call": no_recs, "value": [dict(rec, duration=4.5)]},
             "percall: recordings: value/0/duration"),
            ({"op": "percall", "kind": "voicemails", "call": no_vm, "value": dict(vm, id="V1")},
             "percall: voicemails: value/id"),
            ({"op": "percall", "kind": "voicemails", "call": no_vm, "value": dict(vm, status="absent")},
             "percall: voicemails: value/status")):
        text = change(c, [good, bad], 400)
        assert text[0].startswith("change: op 2: " + reason), (bad, text)
    for p, body in before.items():
        assert c.get("/v1/%s/%s" % p)[1] == body, p
    assert {k: c.percall(k) for k in KINDS} == truth0

    assert change(c, ops) == ["percall summaries " + no_summary, "percall transcripts " + pending,
                              "percall recordings " + no_recs, "percall voicemails " + no_vm,
                              "percall summaries " + has_summary]
    st, d = percall_get(c, "call-summaries", no_summary)
    assert st == 200 and d == {"data": dict({"callId": no_summary}, **summary)}, d
    assert list(d["data"])[0] == "callId"
    st, d = percall_get(c, "call-transcripts", pending)
    assert st == 200 and d == {"data": done} and d["data"]["status"] == "completed", d
    st, d = percall_get(c, "call-recordings", no_recs)
    assert st == 200 and d == {"data": [rec]}, d
    st, d = percall_get(c, "call-voicemails", no_vm)
    assert st == 200 and d == {"data": vm}, d
    err(c, "/v1/call-summaries/" + has_summary, 404, "0500404")
    # the other kinds of these calls are as they were
    for k in KINDS:
        for cid in (no_summary, has_summary, pending, no_recs, no_vm):
            if (k, cid) not in (("summaries", no_summary), ("transcripts", pending), ("recordings", no_recs),
                                ("voicemails", no_vm), ("summaries", has_summary)):
                assert c.get("/v1/%s/%s" % (ROUTE[k], cid))[1] == before[(ROUTE[k], cid)], (k, cid)
    # the truth follows, and equals a crawl of every call
    assert c.percall("transcripts") == truth0["transcripts"]        # still one transcript for that call
    assert int(c.percall("summaries")["count"]) == int(truth0["summaries"]["count"])   # one in, one out
    assert int(c.percall("recordings")["rows"]) == int(truth0["recordings"]["rows"]) + 1
    assert int(c.percall("recordings")["count"]) == int(truth0["recordings"]["count"]) + 1
    assert int(c.percall("voicemails")["count"]) == int(truth0["voicemails"]["count"]) + 1
    want = {k: c.percall(k) for k in KINDS}
    for k in KINDS:
        assert crawl_per_call(c, ids, ROUTE[k]) == want[k], k
    # a later value wins; [] empties a call's recordings; an update_call keeps the values
    change(c, [{"op": "percall", "kind": "transcripts", "call": pending, "value": dict(old, duration=1.5)},
               {"op": "percall", "kind": "recordings", "call": no_recs, "value": [rec, dict(rec, id="CRlate0002")]}])
    assert percall_get(c, "call-transcripts", pending)[1]["data"] == dict(old, duration=1.5)
    assert len(percall_get(c, "call-recordings", no_recs)[1]["data"]) == 2
    assert c.percall("recordings")["rows"] == str(int(want["recordings"]["rows"]) + 1)
    assert c.percall("transcripts") == want["transcripts"]
    change(c, {"op": "update_call", "id": no_summary, "status": "missed"})
    assert percall_get(c, "call-summaries", no_summary)[1] == {"data": dict({"callId": no_summary}, **summary)}
    assert c.percall("summaries") == want["summaries"]
    recs = c.percall("recordings")
    change(c, {"op": "percall", "kind": "recordings", "call": no_recs, "value": []})
    assert percall_get(c, "call-recordings", no_recs)[1] == {"data": []}
    assert c.percall("recordings")["count"] == str(int(recs["count"]) - 1)
    assert c.percall("recordings")["rows"] == str(int(recs["rows"]) - 2)

    # a plan without the feature: 403 for a call with a value, with a null
    # value, and one without; the truth does not change
    truth1 = {k: c.percall(k) for k in KINDS}
    c.post("/_mock/faults", json.dumps({"match": "/v1/call-summaries/", "action": "status", "status": 403,
                                        "times": 3}))
    for cid in (no_summary, has_summary, ids[0]):
        d = err(c, "/v1/call-summaries/" + cid, 403, "0500403")
        assert d["title"] == "Forbidden", d
    assert {k: c.percall(k) for k in KINDS} == truth1
    assert percall_get(c, "call-summaries", no_summary)[0] == 200
    # a fault that changes an answer changes that answer, not the value
    c.post("/_mock/faults", json.dumps({"match": "/v1/call-voicemails/" + no_vm, "action": "wrong_type",
                                        "field": "duration"}))
    assert percall_get(c, "call-voicemails", no_vm)[1]["data"]["duration"] == "abc"
    assert percall_get(c, "call-voicemails", no_vm)[1] == {"data": vm}

    # calls the change op makes: values in the same change; delete_call drops them
    a = next(v for v in c.pages("/v1/conversations", []) if len(v["participants"]) == 1)
    lines = change(c, [{"op": "call", "conversation": a["id"], "status": "completed", "duration": 30},
                       {"op": "percall", "kind": "summaries", "call": "AC90000001", "value": None},
                       {"op": "percall", "kind": "voicemails", "call": "AC90000001", "value": vm}])
    assert lines == ["call AC90000001 " + a["id"], "percall summaries AC90000001", "percall voicemails AC90000001"]
    err(c, "/v1/call-summaries/AC90000001", 404, "0500404")
    assert percall_get(c, "call-voicemails", "AC90000001")[1] == {"data": vm}
    assert c.percall("voicemails")["count"] == str(int(truth1["voicemails"]["count"]) + 1)
    assert change(c, {"op": "delete_call", "id": "AC90000001"}) == ["deleted AC90000001"]
    assert c.percall("voicemails") == truth1["voicemails"]
    d = err(c, "/v1/call-voicemails/AC90000001", 404, "1200404")
    assert d["message"].startswith("Call not found"), d
    change(c, {"op": "percall", "kind": "voicemails", "call": "AC90000001", "value": None}, 400)

    # the extras' calls: a value answers while the extras have the call
    st, _ = c.post("/_mock/workspace", json.dumps({"bulk_conversations": 10, "bulk_messages": 2}))
    assert st == 200
    bulk_call = next(r["id"] for r in c.pages("/v1/calls", [("phoneNumberId", "PNbulk00003"),
                                                            ("participants", "+15552000001")]))
    err(c, "/v1/call-recordings/" + bulk_call, 404, "0900404")
    change(c, {"op": "percall", "kind": "recordings", "call": bulk_call, "value": [rec]})
    assert percall_get(c, "call-recordings", bulk_call)[1] == {"data": [rec]}
    assert c.percall("recordings")["count"] == str(int(truth1["recordings"]["count"]) + 1)
    assert c.post("/_mock/workspace", "{}")[0] == 200
    err(c, "/v1/call-recordings/" + bulk_call, 404, "0900404")
    assert c.percall("recordings") == truth1["recordings"]
    change(c, {"op": "percall", "kind": "recordings", "call": bulk_call, "value": []}, 400)

    # reset: every answer as before, the truth too
    c.post("/_mock/reset", "")
    for p, body in before.items():
        assert c.get("/v1/%s/%s" % p)[1] == body, p
    assert {k: c.percall(k) for k in KINDS} == truth0
    print("ok  changes: per-call objects arrive late, go, refused ones change nothing; reset restores  %.1fs"
          % (time.perf_counter() - t))


TASK_FIELDS = {"taskId", "phoneNumberId", "conversationId", "activityId", "phoneNumberGroupId", "orgId", "title",
               "description", "dueDate", "assignedTo", "assignedBy", "createdAt", "createdBy", "completed",
               "isDeleted", "revision"}


def ids_truth(ids):
    ids = sorted(ids)
    return {"count": str(len(ids)), "ids_md5": hashlib.md5(",".join(ids).encode()).hexdigest()}


def check_directory_changes(c):
    """POST /_mock/change ops contact, update_contact, delete_contact, task,
    update_task, delete_task: list and get follow, and /_mock/truth?kind=
    contacts|tasks; a refused change leaves nothing; reset undoes them."""
    t = time.perf_counter()
    contacts0 = c.pages("/v1/contacts", [], size=50)
    tasks0 = c.pages("/v1/tasks", [], size=100)
    assert len(contacts0) == 120 and len(tasks0) == 130
    truth0 = {k: c.truth("kind=" + k) for k in ("contacts", "tasks")}
    assert truth0["contacts"] == ids_truth(v["id"] for v in contacts0), truth0
    assert truth0["tasks"] == ids_truth(v["taskId"] for v in tasks0), truth0
    for q in ("kind=contacts&after=2024-01-01T00:00:00Z", "kind=tasks&user=USbob000002", "kind=contact"):
        assert c.get("/_mock/truth?" + q)[0] == 400, q
    upd, gone = contacts0[3], contacts0[7]
    t_upd, t_gone = tasks0[0], tasks0[4]
    assert t_upd["completed"] is False and t_upd["taskId"] == "TK00000001"
    fixed = ["/v1/contacts?maxResults=50", "/v1/contacts?maxResults=50&sources=csv", "/v1/tasks?maxResults=100",
             "/v1/contacts/" + upd["id"], "/v1/contacts/" + gone["id"], "/v1/tasks/" + t_upd["taskId"],
             "/v1/tasks/" + t_gone["taskId"], "/_mock/truth?kind=contacts", "/_mock/truth?kind=tasks"]
    tok = json.loads(c.get("/v1/contacts?maxResults=50")[1])["nextPageToken"]
    fixed.append("/v1/contacts?" + urllib.parse.urlencode({"maxResults": "50", "pageToken": tok}))
    tok = json.loads(c.get("/v1/tasks?maxResults=100")[1])["nextPageToken"]
    fixed.append("/v1/tasks?" + urllib.parse.urlencode({"maxResults": "100", "pageToken": tok}))
    before = {p: c.get(p)[1] for p in fixed}

    new_contact = {"op": "contact", "first_name": "Zoë", "last_name": "Late", "company": "Refunds & Co",
                   "role": "Buyer", "emails": ["zoe@refunds.example.com"],
                   "phone_numbers": ["+15550100007", "+15559990007"], "external_id": "ext-late-1",
                   "source": "csv"}
    # refused: nothing of the change stays, not even the ids it took
    for bad, reason in (
            ({"op": "contact", "id": upd["id"]}, "contact: %s is a contact already" % upd["id"]),
            ({"op": "contact", "id": "a/b"}, "contact: id is"),
            ({"op": "contact", "first_name": 5}, "contact: first_name is a string or null"),
            ({"op": "contact", "name": "Zoë"}, "contact takes company, emails"),
            ({"op": "contact", "emails": "zoe@example.com"}, "contact: emails is a list of strings"),
            ({"op": "contact", "phone_numbers": ["555 0100"]}, "contact: phone_numbers are E.164"),
            ({"op": "contact", "external_id": ""}, "contact: external_id is a string of 1 to 75"),
            ({"op": "contact", "source": "s" * 76}, "contact: source is a string of 1 to 75"),
            ({"op": "update_contact", "id": "nobody", "company": None}, "update_contact: unknown contact"),
            ({"op": "update_contact", "id": upd["id"]}, "update_contact: give one of"),
            ({"op": "delete_contact", "id": "nobody"}, "delete_contact: unknown contact"),
            ({"op": "task", "id": "XX1"}, "task: id is TK"),
            ({"op": "task", "id": "TK00000002"}, "task: TK00000002 is a task already"),
            ({"op": "task", "completed": "yes"}, "task: completed is true or false"),
            ({"op": "task", "assigned_to": "bob"}, "task: assigned_to is"),
            ({"op": "task", "due_date": "tomorrow"}, "task: due_date is"),
            ({"op": "task", "conversation": "CN99999999"}, "task: unknown conversation"),
            ({"op": "task", "assignedTo": "USbob000002"}, "task takes assigned_to"),
            ({"op": "update_task", "id": "TK99999999", "completed": True}, "update_task: unknown task"),
            ({"op": "update_task", "id": "TK00000001"}, "update_task: give one of"),
            ({"op": "delete_task", "id": "TK99999999"}, "delete_task: unknown task")):
        text = change(c, [new_contact, {"op": "task"}, {"op": "delete_contact", "id": gone["id"]},
                          {"op": "update_task", "id": "TK00000001", "completed": True}, bad], 400)
        assert text[0].startswith("change: op 5: " + reason), (bad, text)
    for p, body in before.items():
        assert c.get(p)[1] == body, p

    lines = change(c, [new_contact,
                       {"op": "contact", "id": "late-contact-2", "first_name": "Ann"},
                       {"op": "update_contact", "id": upd["id"], "company": "Initech", "role": None,
                        "emails": ["a@x.example.com", "b@x.example.com", "c@x.example.com"]},
                       {"op": "delete_contact", "id": gone["id"]},
                       {"op": "contact", "id": "short-lived"},
                       {"op": "update_contact", "id": "short-lived", "last_name": "Gone"},
                       {"op": "delete_contact", "id": "short-lived"},
                       {"op": "update_task", "id": t_upd["taskId"], "completed": True, "title": "Done it",
                        "assigned_to": "USbob000002"},
                       {"op": "task", "title": "Call back about the refund", "conversation": "CN00000003",
                        "due_date": "2025-01-02T03:04:05+02:00", "assigned_to": "UScarol0003"},
                       {"op": "task", "id": "TKlate0002", "completed": True},
                       {"op": "delete_task", "id": t_gone["taskId"]}])
    new_id = "664d0db69fcac7cf2e6f0001"
    assert lines == ["contact " + new_id, "contact late-contact-2", "updated " + upd["id"], "deleted " + gone["id"],
                     "contact short-lived", "updated short-lived", "deleted short-lived",
                     "updated TK00000001", "task TK90000001", "task TKlate0002", "deleted " + t_gone["taskId"]], lines

    contacts = c.pages("/v1/contacts", [], size=50)
    assert [v["id"] for v in contacts] == [v["id"] for v in contacts0 if v is not gone] + [new_id, "late-contact-2"]
    assert len(c.pages("/v1/contacts", [], size=7)) == 121
    assert c.truth("kind=contacts") == ids_truth(v["id"] for v in contacts)
    by = {v["id"]: v for v in contacts}
    for v in contacts:
        st, body = c.get("/v1/contacts/" + urllib.parse.quote(v["id"]))
        assert st == 200 and json.loads(body) == {"data": v}, v["id"]
    n = by[new_id]
    assert set(n) == CONTACT_FIELDS and set(n["defaultFields"]) == DEFAULT_FIELDS, n
    assert n["createdAt"] == n["updatedAt"] and ts(n["createdAt"]) > ts(contacts0[-1]["createdAt"]), n
    assert (n["externalId"], n["source"], n["sourceUrl"], n["customFields"]) == ("ext-late-1", "csv", None, []), n
    assert n["createdByUserId"] == "USalice0001"
    f = n["defaultFields"]
    assert (f["firstName"], f["lastName"], f["company"], f["role"]) == ("Zoë", "Late", "Refunds & Co", "Buyer"), f
    assert [(e["name"], e["value"]) for e in f["emails"]] == [("work email", "zoe@refunds.example.com")], f
    assert [(p["name"], p["value"]) for p in f["phoneNumbers"]] == [("mobile", "+15550100007"),
                                                                    ("work", "+15559990007")], f
    assert len({p["id"] for p in f["emails"] + f["phoneNumbers"]}) == 3
    a = by["late-contact-2"]
    assert a["defaultFields"] == {"company": None, "emails": [], "firstName": "Ann", "lastName": None,
                                  "phoneNumbers": [], "role": None}, a
    assert (a["externalId"], a["source"]) == (None, None)
    u = by[upd["id"]]
    assert ts(u["updatedAt"]) > ts(upd["updatedAt"]) and u["createdAt"] == upd["createdAt"], u
    assert u["defaultFields"]["company"] == "Initech" and u["defaultFields"]["role"] is None, u
    assert [e["name"] for e in u["defaultFields"]["emails"]] == ["work email", "personal email", "email 3"], u
    for k in ("firstName", "lastName", "phoneNumbers"):
        assert u["defaultFields"][k] == upd["defaultFields"][k], k
    for k in ("id", "externalId", "source", "sourceUrl", "customFields", "createdByUserId"):
        assert u[k] == upd[k], k
    err(c, "/v1/contacts/" + gone["id"], 404, "0800404")
    err(c, "/v1/contacts/short-lived", 404, "0800404")
    # the filters see them too
    assert [v["id"] for v in c.pages("/v1/contacts", [("externalIds", "ext-late-1"),
                                                      ("externalIds", gone["externalId"] or "none")], size=50)
            ] == [new_id]
    csv = [v["id"] for v in c.pages("/v1/contacts", [("sources", "csv")], size=50)]
    assert csv == [v["id"] for v in contacts if v["source"] == "csv"] and csv[-1] == new_id

    tasks = c.pages("/v1/tasks", [], size=100)
    assert [v["taskId"] for v in tasks] == [v["taskId"] for v in tasks0 if v is not t_gone] + [
        "TK90000001", "TKlate0002"]
    assert c.truth("kind=tasks") == ids_truth(v["taskId"] for v in tasks)
    st, body = c.get("/v1/tasks?" + urllib.parse.urlencode({"maxResults": "100", "pageToken": json.loads(
        c.get("/v1/tasks?maxResults=100")[1])["nextPageToken"]}))
    d = json.loads(body)
    assert len(d["data"]) == 31 and "nextPageToken" not in d, d.keys()
    tb = {v["taskId"]: v for v in tasks}
    for v in tasks:
        assert set(v) == TASK_FIELDS, v
        st, body = c.get("/v1/tasks/" + v["taskId"])
        assert st == 200 and json.loads(body) == {"data": v}, v["taskId"]
    u = tb[t_upd["taskId"]]
    assert u == dict(t_upd, completed=True, title="Done it", assignedTo="USbob000002", assignedBy="USalice0001",
                     revision=str(int(t_upd["revision"]) + 1)), u
    n = tb["TK90000001"]
    assert n == {"taskId": "TK90000001", "phoneNumberId": n["phoneNumberId"], "conversationId": "CN00000003",
                 "activityId": None, "phoneNumberGroupId": n["phoneNumberGroupId"], "orgId": "ORmock00001",
                 "title": "Call back about the refund", "description": None, "dueDate": "2025-01-02T01:04:05.000Z",
                 "assignedTo": "UScarol0003", "assignedBy": "USalice0001", "createdAt": n["createdAt"],
                 "createdBy": "USalice0001", "completed": False, "isDeleted": False, "revision": "1"}, n
    conv = json.loads(c.get("/v1/conversations?maxResults=100")[1])["data"]
    pn = next(v["phoneNumberId"] for v in conv if v["id"] == "CN00000003")
    pg = next(v["groupId"] for v in json.loads(c.get("/v1/phone-numbers")[1])["data"] if v["id"] == pn)
    assert (n["phoneNumberId"], n["phoneNumberGroupId"]) == (pn, pg), n
    assert ts(n["createdAt"]) > ts(tasks0[-1]["createdAt"])
    m = tb["TKlate0002"]
    assert m["completed"] is True and m["conversationId"] is None and m["phoneNumberId"] is None, m
    assert m["phoneNumberGroupId"] is None and m["title"] is None and m["assignedBy"] is None, m
    err(c, "/v1/tasks/" + t_gone["taskId"], 404, "0600404")
    # reopen and unassign
    change(c, {"op": "update_task", "id": t_upd["taskId"], "completed": False, "assigned_to": None})
    u2 = json.loads(c.get("/v1/tasks/" + t_upd["taskId"])[1])["data"]
    assert u2 == dict(u, completed=False, assignedTo=None, assignedBy=None, revision=str(int(u["revision"]) + 1))
    # a change elsewhere copies them, and a status fault still answers
    change(c, {"op": "call", "conversation": "CN00000003", "status": "missed"})
    assert c.pages("/v1/contacts", [], size=50) == contacts
    c.post("/_mock/faults", json.dumps({"match": "/v1/tasks", "action": "status", "status": 403}))
    err(c, "/v1/tasks?maxResults=100", 403, "0600403")

    # reset: the workspace's contacts and tasks again, byte for byte; the ids start again
    c.post("/_mock/reset", "")
    for p, body in before.items():
        assert c.get(p)[1] == body, p
    assert {k: c.truth("kind=" + k) for k in ("contacts", "tasks")} == truth0
    assert change(c, [{"op": "contact"}, {"op": "task"}]) == ["contact " + new_id, "task TK90000001"]
    c.post("/_mock/reset", "")
    assert c.get("/v1/contacts/" + new_id)[0] == 404 and c.get("/v1/tasks/TK90000001")[0] == 404
    print("ok  changes: contacts and tasks added, updated, deleted; refused ones change nothing; reset restores  %.1fs"
          % (time.perf_counter() - t))


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
        # by participants: each held, one of them held, exactly these in order
        for kind in ("calls", "messages"):
            check(c, kind, "kind=%s&participant=%%2B15550100002" % kind, keep=lambda p: "+15550100002" in p)
            check(c, kind, "kind=%s&participant=%%2B15550100001&participant=%%2B15550100003" % kind,
                  keep=lambda p: "+15550100001" in p and "+15550100003" in p)
            check(c, kind, "kind=%s&any_participant=%%2B15550100002&any_participant=%%2B15550100005"
                  "&after=2024-03-05T00:00:00Z" % kind, after=ts("2024-03-05T00:00:00Z"),
                  keep=lambda p: "+15550100002" in p or "+15550100005" in p)
        check(c, "messages", "kind=messages&participants=%2B15550100001,%2B15550100002,%2B15550100003",
              keep=lambda p: p == ["+15550100001", "+15550100002", "+15550100003"])
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

        # phone numbers, contacts, contact custom fields, and per call a
        # summary, a transcript, recordings and a voicemail: as documented
        t = time.perf_counter()
        check_phone_numbers(c, bulk=False)
        check_contacts(c)
        print("ok  phone numbers, contacts, contact custom fields  %.1fs" % (time.perf_counter() - t))
        check_per_call(c)

        # reset switches the extras off
        c.post("/_mock/reset", "")
        assert len(c.pages("/v1/conversations", [])) == 55
        assert len(c.pages("/v1/users", [], size=50)) == 4
        check_phone_numbers(c, bulk=False)
        assert c.truth("kind=messages")["count"] == "2634"
        check_changes(c)
        check_percall_changes(c)
        check_directory_changes(c)

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
