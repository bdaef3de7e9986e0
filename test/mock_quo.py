#!/usr/bin/env python3
"""A mock of the Quo (formerly OpenPhone) public API v1, for quo_fdw's tests and demo.

Python 3 standard library only; listens on 127.0.0.1 only.

Strict to the OpenAPI documents in ../shared/quo-api: the Authorization header
must be the bare key; required parameters, maxResults 1..100 (users and
contacts 1..50), E.164 and id patterns and string lengths are validated and
answered with the documented 400 bodies of the operation's error family; query
strings are decoded as form-urlencoded (an unencoded '+' becomes a space and
fails E.164); arrays are repeated keys; createdAfter/createdBefore/
updatedAfter/updatedBefore are exclusive; page tokens are opaque and bound to
their query; totalItems is wrong on purpose.  Unknown query parameters are
rejected, so a client bug cannot hide.  A path that is not an API route gets a
generic web framework's 404 body, not Quo's documented error, as a base_url
with a wrong path would.

Control endpoints (no auth, never logged), used by test/mockctl.py:
  POST /_mock/reset            forget faults, the request log, the extras
                               and the changes (the pristine workspace again)
  POST /_mock/faults           add a fault (JSON object, see Fault below);
                               {"action": "enforce_rate", "rps": 10} makes
                               the mock answer 429 past 10 requests a second;
                               {"action": "clear"} drops the faults added
                               (nothing else)
  POST /_mock/clearlog         forget the request log only (faults and changes stay)
  POST /_mock/change           change the default workspace (calls, messages,
                               conversations, contacts, tasks, per-call
                               objects): a JSON op or an
                               array of them, applied in order, all or none
                               (400 "change: reason"); answers one line per op.
                               See change_workspace() below.
  GET  /_mock/log              the requests seen, one per line
  GET  /_mock/flight           the most API requests answered at once
  GET  /_mock/stats            API connections opened, and the distinct
                               User-Agent / gzip accepted / key forms seen
                               (enforcing a rate: the most requests in one
                               second, all keys and any one key)
  POST /_mock/workspace        extra conversations beside the default workspace
                               (off by default, off again after reset):
                               {"bulk_conversations": 1000, "bulk_messages": 100,
                                "big_group": true, "bulk_users": 120}; {} switches them off.
                               Answers what it made, as "name value" lines.
  GET  /_mock/truth?kind=calls|messages[&phone=PN..|+1..]...[&after=ISO]
                  [&before=ISO][&user=US..][&participant=+1..]...
                  [&any_participant=+1..]...[&participants=+1..,+1..]
                               the exact answer over the whole workspace, as
                               lines "count N", "ids_md5 X", "conversations N",
                               "unlistable_count N", "unlistable_conversations N"
                               (see truth() below)
  GET  /_mock/truth?kind=contacts|tasks
                               what list contacts / list tasks answer, as
                               lines "count N", "ids_md5 X" (directory_truth())
  GET  /_mock/percall?kind=summaries|transcripts|recordings|voicemails
                               the default workspace's calls with that object,
                               as lines "count N", "ids_md5 X", "rows R" (R: one
                               per call, the recordings for recordings; see
                               percall() and the rules above call_summary());
                               the values of the change op percall included

Besides calls, messages, conversations, users and tasks: phone numbers (a list
without pages), contacts (pages of 1..50, externalIds/sources filters), the
contact custom fields, and per call a summary, a transcript, recordings and a
voicemail.  A "status" fault on a per-call route answers even for a call
without the object (403: a plan without the feature).
"""
import argparse
import base64
import copy
import gzip
import hashlib
import json
import random
import re
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
DOCS = "https://quo.com/docs"

# Documented error codes and titles, per operation family.
ERRORS = {
    "calls": {400: ("0101400", "Too Many Participants"), 401: ("0100401", "Unauthorized"),
              403: ("0101403", "Not Phone Number User"), 404: ("0100404", "Not Found"),
              500: ("0101500", "Unknown")},
    "conversations": {400: ("1000400", "Bad Request"), 401: ("1000401", "Unauthorized"),
                      403: ("1001403", "Not Phone Number User"), 404: ("1000404", "Not Found"),
                      500: ("1001500", "Unknown")},
    "messages": {400: ("0206400", "A2P Registration Not Approved"), 401: ("0200401", "Unauthorized"),
                 402: ("0201402", "Subscription Expired"), 403: ("0202403", "Not Phone Number User"),
                 404: ("0200404", "Not Found"), 500: ("0201500", "Unknown")},
    "tasks": {400: ("0600400", "Bad Request"), 401: ("0600401", "Unauthorized"),
              402: ("0600402", "Open Tasks Limit Reached"), 403: ("0600403", "Forbidden"),
              404: ("0600404", "Not Found"), 500: ("0601500", "Unknown")},
    "users": {400: ("1100400", "Bad Request"), 401: ("1100401", "Unauthorized"),
              403: ("1100403", "Forbidden"), 404: ("1100404", "Not Found"),
              500: ("1101500", "Unknown")},
    "phone_numbers": {400: ("0400400", "Bad Request"), 401: ("0400401", "Unauthorized"),
                      403: ("0400403", "Forbidden"), 404: ("0400404", "Not Found"),
                      500: ("0401500", "Unknown")},
    # as documented: every 400 of list/get contacts is "Invalid Custom Field Item"
    "contacts": {400: ("0801400", "Invalid Custom Field Item"), 401: ("0800401", "Unauthorized"),
                 403: ("0801403", "Not Phone Number User"), 404: ("0800404", "Not Found"),
                 409: ("0800409", "Conflict"), 500: ("0801500", "Unknown")},
    "contact_custom_fields": {400: ("0700400", "Bad Request"), 401: ("0700401", "Unauthorized"),
                              403: ("0700403", "Forbidden"), 404: ("0700404", "Not Found"),
                              500: ("0701500", "Unknown")},
    "call_summaries": {400: ("0500400", "Bad Request"), 401: ("0500401", "Unauthorized"),
                       403: ("0500403", "Forbidden"), 404: ("0500404", "Not Found"),
                       500: ("0501500", "Unknown")},
    # as documented: the same codes as tasks
    "call_transcripts": {400: ("0600400", "Bad Request"), 401: ("0600401", "Unauthorized"),
                         403: ("0600403", "Forbidden"), 404: ("0600404", "Not Found"),
                         500: ("0601500", "Unknown")},
    "call_recordings": {400: ("0900400", "Bad Request"), 401: ("0900401", "Unauthorized"),
                        403: ("0900403", "Forbidden"), 404: ("0900404", "Not Found"),
                        500: ("0901500", "Unknown")},
    "call_voicemails": {400: ("1200400", "Bad Request"), 401: ("1200401", "Unauthorized"),
                        403: ("1200403", "Forbidden"), 404: ("1200404", "Not Found"),
                        500: ("1201500", "Unknown")},
}
# the families whose routes are per call: a "status" fault answers instead of
# their 404 too (a plan without the feature is refused before any lookup)
PER_CALL_FAMILIES = {"call_summaries", "call_transcripts", "call_recordings", "call_voicemails"}


class ApiError(Exception):
    def __init__(self, status, message, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


def iso(dt, style=0):
    """Render a UTC datetime the ways the API has been seen to: with
    milliseconds and Z (most), without milliseconds, or with an offset."""
    if style == 1:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 2:
        local = dt.astimezone(timezone(timedelta(hours=2)))
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+02:00" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def parse_ts(s):
    """Parse an ISO 8601 date-time query value, as the API does."""
    s2 = s.replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(s2)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


# ---------------------------------------------------------------------------
# The workspace: deterministic, realistic enough for the demo and exact tests.
# ---------------------------------------------------------------------------

PHONES = [("PNsales0001", "+15550001000", "Sales"), ("PNsupport02", "+15550002000", "Support")]
USERS = ["USalice0001", "USbob000002", "UScarol0003"]
BIG = "+15550109999"          # a 1:1 conversation with thousands of calls and messages
BIG_COUNT = 2345
HUGE = "+15550177777"         # a generated conversation of HUGE_COUNT messages (memory tests)
HUGE_COUNT = 100000
GROUP = ["+15550100001", "+15550100002", "+15550100003"]
TEXTS = [
    "Hi, is the invoice ready?", "Yes, sent it this morning.", "Caf\u00e9 cr\u00e8me at 10? \u2615",
    "Price is $5 + tax & shipping", "\U0001F600 thanks!", "\u4f60\u597d\uff0c\u6536\u5230\u4e86",
    "Line one\nLine two", "Quote: \"ok\" and back\\slash", "Call me back please",
    "See you tomorrow", "\U0001F4DE\U0001F44D", "Ol\u00e1, tudo bem?",
]
STATUSES = ["completed", "completed", "completed", "missed", "no-answer", "busy", "canceled", "forwarded"]


def call_object(call_id, pn, parts, user, t, j, st, incoming, dur, style, ai):
    """A call as the API returns it (j, the call's index, varies the details)."""
    answered = st in ("completed", "forwarded")
    return {
        "answeredAt": iso(t + timedelta(seconds=8), style) if answered else None,
        "answeredBy": user if answered and incoming else None,
        "initiatedBy": None if incoming else user,
        "direction": "incoming" if incoming else "outgoing",
        "status": st,
        "completedAt": iso(t + timedelta(seconds=8 + dur), style) if answered else None,
        "createdAt": iso(t, style),
        "callRoute": ("phone-menu" if j % 4 == 1 else "phone-number") if incoming else None,
        "duration": dur,
        "forwardedFrom": None,
        "forwardedTo": "+15550003000" if st == "forwarded" else None,
        "aiHandled": "ai-agent" if ai else None,
        "id": call_id,
        "phoneNumberId": pn,
        "participants": list(parts),
        "updatedAt": iso(t + timedelta(seconds=9 + dur), style) if j % 5 else None,
        "userId": user,
    }


def message_object(msg_id, pn, cid, t, style, incoming, to, frm, text, user, status):
    """A message as the API returns it."""
    return {
        "id": msg_id,
        "to": to,
        "from": frm,
        "text": text,
        "phoneNumberId": pn,
        "conversationId": cid,
        "direction": "incoming" if incoming else "outgoing",
        "userId": user,
        "status": status,
        "createdAt": iso(t, style),
        "updatedAt": iso(t + timedelta(seconds=2), style),
    }


class Workspace:
    def __init__(self, seed=42):
        rnd = random.Random(seed)
        base = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
        self.calls, self.messages, self.conversations = [], [], []
        n = 0
        contacts = ["+155501%05d" % i for i in range(1, 41)]
        convs = []
        for pi, (pn, _, _) in enumerate(PHONES):
            for ci, c in enumerate(contacts):
                if (ci + pi) % 3 == 0:
                    continue
                convs.append((pn, [c]))
        convs.append(("PNsales0001", list(GROUP)))
        convs.append(("PNsales0001", [BIG]))
        for k, (pn, parts) in enumerate(convs):
            cid = "CN%08d" % (k + 1)
            user = USERS[k % len(USERS)]
            big = parts == [BIG]
            ncalls = BIG_COUNT if big else (0 if len(parts) > 1 else rnd.randint(0, 6))
            nmsgs = BIG_COUNT if big else rnd.randint(1, 9)
            t0 = base + timedelta(hours=k * 7, minutes=rnd.randint(0, 59))
            last_t, last_id = None, None
            for j in range(ncalls):
                n += 1
                t = t0 + timedelta(minutes=37 * j, seconds=rnd.randint(0, 59), milliseconds=rnd.randint(0, 999))
                st = STATUSES[(j + k) % len(STATUSES)]
                incoming = (j + k) % 2 == 0
                answered = st in ("completed", "forwarded")
                dur = rnd.randint(5, 1800) if answered else 0
                style = 1 if j % 11 == 5 else (2 if j % 13 == 7 else 0)
                call = call_object("AC%08d" % n, pn, parts, user, t, j, st, incoming, dur, style,
                                   j % 9 == 4)
                call["_t"] = t
                self.calls.append(call)
                if last_t is None or t > last_t:
                    last_t, last_id = t, call["id"]
            for j in range(nmsgs):
                n += 1
                t = t0 + timedelta(minutes=23 * j + 3, seconds=rnd.randint(0, 59), milliseconds=rnd.randint(0, 999))
                incoming = (j + k) % 3 != 0
                style = 1 if j % 7 == 3 else (2 if j % 17 == 9 else 0)
                own = PHONES[0][1] if pn == "PNsales0001" else PHONES[1][1]
                msg = message_object("AC%08d" % n, pn, cid, t, style, incoming,
                                     [own] if incoming else list(parts),
                                     parts[j % len(parts)] if incoming else own,
                                     TEXTS[(j + k) % len(TEXTS)], None if incoming else user,
                                     "received" if incoming else ("delivered" if j % 4 else "sent"))
                msg["_t"] = t
                msg["_parts"] = list(parts)
                self.messages.append(msg)
                if last_t is None or t > last_t:
                    last_t, last_id = t, msg["id"]
            ct = t0 - timedelta(minutes=5)
            conv = {
                "assignedTo": user if k % 4 else None,
                "createdAt": iso(ct) if k % 10 != 9 else None,
                "deletedAt": None,
                "id": cid,
                "lastActivityAt": iso(last_t) if last_t else None,
                "lastActivityId": last_id,
                "mutedUntil": iso(ct + timedelta(days=30)) if k % 12 == 3 else None,
                "name": ("Group: " + ", ".join(parts)) if len(parts) > 1 else (None if k % 3 else "Customer %d" % k),
                "participants": list(parts),
                "phoneNumberId": convs[k][0],
                "snoozedUntil": None,
                "updatedAt": iso((last_t or ct) + timedelta(minutes=1)),
                "_t": ct,
                "_u": (last_t or ct) + timedelta(minutes=1),
                "_user": user,
                "_active": k % 5 != 4,
            }
            self.conversations.append(conv)
        # the directory: listed in the order kept here (oldest first, as made)
        self.contacts = [contact_object(k) for k in range(CONTACT_COUNT)]
        self.tasks = [task_object(k) for k in range(TASK_COUNT)]
        # per call and kind, what POST /_mock/change's percall op set instead
        # of the makers' objects: {kind: {call id: value}}
        self.percall = {kind: {} for kind in PERCALL_KINDS}
        self.index()

    def index(self):
        """The lists in the API's orders, and the rows by id.  Contacts and
        tasks keep the order of their lists (POST /_mock/change appends)."""
        self.conversations.sort(key=lambda c: (c["_u"], c["id"]), reverse=True)
        self.calls.sort(key=lambda c: (c["_t"], c["id"]), reverse=True)
        self.messages.sort(key=lambda m: (m["_t"], m["id"]))
        self.call_by_id = {c["id"]: c for c in self.calls}
        self.msg_by_id = {m["id"]: m for m in self.messages}
        self.contact_by_id = {c["id"]: c for c in self.contacts}
        self.task_by_id = {t["taskId"]: t for t in self.tasks}


class HugeConversation:
    """The messages of the HUGE conversation, made on demand: len() and slices."""

    def __init__(self, count):
        self.count = count
        self.base = datetime(2024, 6, 1, tzinfo=timezone.utc)

    def __len__(self):
        return self.count

    def __getitem__(self, sl):
        return [self.row(i) for i in range(*sl.indices(self.count))]

    def row(self, i):
        t = self.base + timedelta(seconds=37 * i)
        return {"id": "AC9%09d" % i, "to": [PHONES[0][1]], "from": HUGE,
                "text": TEXTS[i % len(TEXTS)] + " #%d" % i, "phoneNumberId": "PNsales0001",
                "conversationId": "CN99999999", "direction": "incoming", "userId": None,
                "status": "received", "createdAt": iso(t), "updatedAt": iso(t)}


# ---------------------------------------------------------------------------
# Workspace extras: off by default and after reset, switched on by
# POST /_mock/workspace.  They only add conversations (and their rows) beside
# the default workspace, which is never touched, so every default answer stays
# the same.  Bulk rows are made on demand from their indexes.
# ---------------------------------------------------------------------------

BULK_PHONE = ("PNbulk00003", "+15550004000", "Bulk")
BULK_START = datetime(2025, 1, 1, tzinfo=timezone.utc)
BULK_SPREAD_DAYS = 300          # conversation k starts k/N of the way through these days
BULK_MAX_CONVERSATIONS = 20000
BULK_MAX_ROWS = 1000000         # bulk_conversations * bulk_messages
BIG_GROUP = ["+155503%05d" % i for i in range(1, 13)]   # 12: more than list messages accepts
BIG_GROUP_MESSAGES = 6
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


def us_of(dt):
    return (dt - EPOCH) // US


def dt_of(us):
    return EPOCH + timedelta(microseconds=us)


def first_index(n, pred):
    """The least i in 0..n with pred(i), for pred monotone false..true; n if none."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


class LazyRows:
    """Rows made on demand: len() and slices, what page() uses."""

    def __init__(self, indexes, make):
        self.indexes, self.make = indexes, make

    def __len__(self):
        return len(self.indexes)

    def __getitem__(self, sl):
        return [self.make(i) for i in self.indexes[sl]]


def conversation_dict(k, cid, pn, parts, user, ct, last_t, last_id, name):
    """A conversation as the default workspace makes them (same fields, same rules)."""
    u = (last_t or ct) + timedelta(minutes=1)
    return {
        "assignedTo": user if k % 4 else None,
        "createdAt": iso(ct) if k % 10 != 9 else None,
        "deletedAt": None,
        "id": cid,
        "lastActivityAt": iso(last_t) if last_t else None,
        "lastActivityId": last_id,
        "mutedUntil": iso(ct + timedelta(days=30)) if k % 12 == 3 else None,
        "name": name,
        "participants": list(parts),
        "phoneNumberId": pn,
        "snoozedUntil": None,
        "updatedAt": iso(u),
        "_t": ct,
        "_u": u,
        "_user": user,
        "_active": k % 5 != 4,
    }


class BulkConversation:
    """Bulk conversation k of n: PNbulk00003 with one contact, m messages and
    0..4 calls.  Its activity window (1..60 days) starts k/n of the way through
    BULK_SPREAD_DAYS from BULK_START.  Times are whole milliseconds, strictly
    increasing with the message index, and every createdAt renders its time
    exactly (the no-milliseconds style only where the milliseconds are 0)."""

    def __init__(self, k, n, m):
        self.k, self.nmsgs = k, m
        self.pn, self.own = BULK_PHONE[0], BULK_PHONE[1]
        self.contact = "+1555%07d" % (2000000 + k)
        self.parts = [self.contact]
        self.cid = "CNB%06d" % k
        self.user = USERS[k % len(USERS)]
        window = (1 + (k * 37) % 60) * 86400000                      # ms
        self.start = us_of(BULK_START) + (k * BULK_SPREAD_DAYS * 86400000 // n) * 1000
        self.step = max(1000, window // max(m, 1)) * 1000            # us, at least 1 s
        ncalls = (k * 7) % 5
        self.call_ts = [self.start + (window * (2 * j + 1) // (2 * ncalls) + 777) * 1000 for j in range(ncalls)]
        if ncalls and m and k % 6 == 0:
            # here the latest activity is a call
            self.call_ts[-1] = max(self.call_ts[-1], self.msg_t(m - 1) + 90000000)
        last = None
        if m:
            last = (self.msg_t(m - 1), self.msg_id(m - 1))
        if ncalls and (last is None or self.call_ts[-1] > last[0]):
            last = (self.call_ts[-1], self.call_id(ncalls - 1))
        ct = dt_of(self.start) - timedelta(minutes=5)
        self.conv = conversation_dict(k, self.cid, self.pn, self.parts, self.user, ct,
                                      dt_of(last[0]) if last else None, last[1] if last else None,
                                      None if k % 3 else "Bulk customer %d" % k)

    # messages: chronological, index j
    def msg_t(self, j):
        jitter = 0 if j % 11 == 5 else (j * 7919 + self.k * 104729) % 1000
        return self.start + j * self.step + jitter * 1000

    def msg_id(self, j):
        return "ACB%06dM%06d" % (self.k, j)

    def msg_user(self, j):
        return None if (j + self.k) % 3 else self.user

    def msg(self, j):
        k = self.k
        t = dt_of(self.msg_t(j))
        incoming = (j + k) % 3 != 0
        style = 1 if j % 11 == 5 else (2 if j % 13 == 7 else 0)
        return message_object(self.msg_id(j), self.pn, self.cid, t, style, incoming,
                              [self.own] if incoming else [self.contact],
                              self.contact if incoming else self.own,
                              TEXTS[(j + k) % len(TEXTS)], self.msg_user(j),
                              "received" if incoming else ("delivered" if j % 4 else "sent"))

    def msg_range(self, after, before, inclusive):
        """Indexes [lo, hi) of the messages between after and before (us or None)."""
        n = self.nmsgs
        if inclusive:
            lo = 0 if after is None else first_index(n, lambda j: self.msg_t(j) >= after)
            hi = n if before is None else first_index(n, lambda j: self.msg_t(j) > before)
        else:
            lo = 0 if after is None else first_index(n, lambda j: self.msg_t(j) > after)
            hi = n if before is None else first_index(n, lambda j: self.msg_t(j) >= before)
        return range(lo, max(lo, hi))

    # calls: index j, listed newest first
    def call_id(self, j):
        return "ACB%06dC%02d" % (self.k, j)

    def call(self, j):
        k = self.k
        t = dt_of(self.call_ts[j])
        st = STATUSES[(j + k) % len(STATUSES)]
        incoming = (j + k) % 2 == 0
        answered = st in ("completed", "forwarded")
        dur = (k * 31 + j * 17) % 1800 + 5 if answered else 0
        style = 2 if j == 1 else 0
        return call_object(self.call_id(j), self.pn, self.parts, self.user, t, j, st, incoming, dur,
                           style, j % 3 == 2)

    def list_calls(self, user, after, before):
        if user is not None and user != self.user:
            return []
        a = None if after is None else us_of(after)
        b = None if before is None else us_of(before)
        return [self.call(j) for j in reversed(range(len(self.call_ts)))
                if (a is None or self.call_ts[j] > a) and (b is None or self.call_ts[j] < b)]

    def list_messages(self, user, after, before):
        r = self.msg_range(None if after is None else us_of(after), None if before is None else us_of(before), False)
        if user is not None:
            r = [j for j in r if self.msg_user(j) == user]
        return LazyRows(r, self.msg)

    def truth_rows(self, kind, after, before):
        """(id, created_at us, userId) of the rows within [after, before]."""
        if kind == "calls":
            for j, t in enumerate(self.call_ts):
                if (after is None or t >= after) and (before is None or t <= before):
                    yield self.call_id(j), t, self.user
        else:
            for j in self.msg_range(after, before, True):
                yield self.msg_id(j), self.msg_t(j), self.msg_user(j)


class BigGroup:
    """One conversation on PNsales0001 with 12 participants: the API lists it,
    but list messages refuses more than 10 participants, and list calls more
    than one, so none of its rows can be listed."""

    def __init__(self):
        self.pn, self.own = PHONES[0][0], PHONES[0][1]
        self.parts = list(BIG_GROUP)
        self.cid = "CNG0000001"
        self.user = USERS[0]
        base = datetime(2025, 6, 15, 14, 0, 0, tzinfo=timezone.utc)
        self.messages = []
        for j in range(BIG_GROUP_MESSAGES):
            t = base + timedelta(minutes=41 * j, milliseconds=123 * j + 45)
            incoming = j % 3 != 0
            m = message_object("ACG%07d" % j, self.pn, self.cid, t, 0, incoming,
                               [self.own] if incoming else list(self.parts),
                               self.parts[(5 * j) % len(self.parts)] if incoming else self.own,
                               TEXTS[(j + 4) % len(TEXTS)], None if incoming else self.user,
                               "received" if incoming else "delivered")
            m["_t"] = t
            self.messages.append(m)
        last = self.messages[-1]
        self.conv = conversation_dict(1, self.cid, self.pn, self.parts, self.user, base - timedelta(minutes=5),
                                      last["_t"], last["id"], "Group: all hands")
        self.by_id = {m["id"]: m for m in self.messages}

    def list_calls(self, user, after, before):
        return []

    def list_messages(self, user, after, before):
        return [m for m in self.messages
                if (user is None or m["userId"] == user) and in_range(m["_t"], after, before)]

    def truth_rows(self, kind, after, before):
        if kind == "messages":
            for m in self.messages:
                t = us_of(m["_t"])
                if (after is None or t >= after) and (before is None or t <= before):
                    yield m["id"], t, m["userId"]


BULK_MSG_ID = re.compile(r"^ACB(\d{6})M(\d{6})$")
BULK_CALL_ID = re.compile(r"^ACB(\d{6})C(\d{2})$")


class Extras:
    """The extra conversations of one POST /_mock/workspace; read-only once built."""

    KEYS = {"bulk_conversations", "bulk_messages", "big_group", "bulk_users"}

    def __init__(self, ws, spec):
        if not isinstance(spec, dict) or set(spec) - self.KEYS:
            raise ValueError("workspace takes a JSON object with keys %s" % ", ".join(sorted(self.KEYS)))
        n, m = spec.get("bulk_conversations", 0), spec.get("bulk_messages", 0)
        big = spec.get("big_group", False)
        if type(n) is not int or type(m) is not int or not isinstance(big, bool):
            raise ValueError("bulk_conversations and bulk_messages are integers, big_group a boolean")
        if not 0 <= n <= BULK_MAX_CONVERSATIONS or m < 0 or n * m > BULK_MAX_ROWS:
            raise ValueError("at most %d bulk conversations and %d bulk messages in all"
                             % (BULK_MAX_CONVERSATIONS, BULK_MAX_ROWS))
        nu = spec.get("bulk_users", 0)
        if type(nu) is not int or not 0 <= nu <= 1000:
            raise ValueError("bulk_users is an integer from 0 to 1000")
        self.users = [user_object(10 + k, "USbulk%05d" % k, "user%05d@example.com" % k, "User", "%05d" % k,
                                  None, "member") for k in range(nu)]
        self.spec = {"bulk_conversations": n, "bulk_messages": m, "big_group": big, "bulk_users": nu}
        self.bulk = [BulkConversation(k, n, m) for k in range(n)]
        self.group = BigGroup() if big else None
        convs = self.bulk + ([self.group] if self.group else [])
        self.by_key = {(c.pn, tuple(sorted(c.parts))): c for c in convs}
        self.phones = PHONES + ([BULK_PHONE] if n else [])
        self.conversations = sorted(ws.conversations + [c.conv for c in convs],
                                    key=lambda c: (c["_u"], c["id"]), reverse=True)

    def rebased(self, ws):
        """These extras beside ws, a changed default workspace (POST /_mock/change)."""
        ex = copy.copy(self)
        ex.conversations = sorted(ws.conversations + [c.conv for c in self.by_key.values()],
                                  key=lambda c: (c["_u"], c["id"]), reverse=True)
        return ex

    def conversation(self, pn, parts):
        return self.by_key.get((pn, tuple(sorted(set(parts)))))

    def call_by_id(self, item_id):
        mt = BULK_CALL_ID.match(item_id)
        if mt:
            k, j = int(mt.group(1)), int(mt.group(2))
            if k < len(self.bulk) and j < len(self.bulk[k].call_ts):
                return self.bulk[k].call(j)
        return None

    def msg_by_id(self, item_id):
        mt = BULK_MSG_ID.match(item_id)
        if mt:
            k, j = int(mt.group(1)), int(mt.group(2))
            if k < len(self.bulk) and j < self.bulk[k].nmsgs:
                return self.bulk[k].msg(j)
        if self.group:
            return self.group.by_id.get(item_id)
        return None

    def summary(self):
        s = self.spec
        lines = ["bulk_conversations %d" % s["bulk_conversations"]]
        if self.bulk:
            ts = [b.msg_t(0) for b in self.bulk if b.nmsgs] + [t for b in self.bulk for t in b.call_ts[:1]]
            te = [b.msg_t(b.nmsgs - 1) for b in self.bulk if b.nmsgs] + [t for b in self.bulk for t in b.call_ts[-1:]]
            lines += ["bulk_phone %s %s" % BULK_PHONE[:2],
                      "bulk_messages %d" % sum(b.nmsgs for b in self.bulk),
                      "bulk_calls %d" % sum(len(b.call_ts) for b in self.bulk)]
            if ts:
                lines += ["bulk_first %s" % iso(dt_of(min(ts))), "bulk_last %s" % iso(dt_of(max(te)))]
        lines.append("big_group_messages %d" % (len(self.group.messages) if self.group else 0))
        if self.users:
            lines.append("bulk_users %d" % len(self.users))
        return "".join(l + "\n" for l in lines)


# ---------------------------------------------------------------------------
# Changes: POST /_mock/change alters the default workspace between requests,
# for tests of incremental reads.  Each change works on a deep copy of the
# current workspace and swaps it in whole (readers never see half a change);
# the pristine workspace is kept, and reset puts it back.
# ---------------------------------------------------------------------------

CALL_STATUSES = {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled", "missed", "answered", "forwarded", "abandoned"}
MESSAGE_STATUSES = {"queued", "sent", "delivered", "undelivered", "received"}
CHANGE_KEYS = {"call": {"conversation", "status", "duration", "ago"},
               "message": {"conversation", "status", "ago", "text"},
               "conversation": {"phone", "participants", "user"},
               "update_call": {"id", "status", "duration"},
               "update_message": {"id", "status"},
               "delete_conversation": {"id", "listed"},
               "delete_call": {"id"},
               "delete_message": {"id"},
               "percall": {"kind", "call", "value"}}
# contact ops' fields: the key in defaultFields, or None for a top-level one
CONTACT_OP_FIELDS = {"first_name": "firstName", "last_name": "lastName", "company": "company", "role": "role",
                     "emails": "emails", "phone_numbers": "phoneNumbers", "external_id": None, "source": None}
TASK_OP_FIELDS = {"title", "description", "completed", "assigned_to", "due_date"}
CHANGE_KEYS.update({"contact": {"id"} | set(CONTACT_OP_FIELDS),
                    "update_contact": {"id"} | set(CONTACT_OP_FIELDS),
                    "delete_contact": {"id"},
                    "task": {"id", "conversation"} | TASK_OP_FIELDS,
                    "update_task": {"id"} | TASK_OP_FIELDS,
                    "delete_task": {"id"}})
# the next numbers of the ids the changes make: calls and messages AC9nnnnnnn,
# conversations CN9nnnnnnn, contacts 664d0db69fcac7cf2e6fnnnn, tasks TK9nnnnnnn
FIRST_IDS = {"AC": 1, "CN": 1, "CT": 1, "TK": 1}


class ChangeError(Exception):
    pass


def copy_workspace(ws):
    new = Workspace.__new__(Workspace)
    (new.calls, new.messages, new.conversations, new.contacts, new.tasks, new.percall) = copy.deepcopy(
        (ws.calls, ws.messages, ws.conversations, ws.contacts, ws.tasks, ws.percall))
    new.index()
    return new


def change_workspace(ws, ops, ids, extras, now):
    """Apply ops, in order, to ws (a copy: the caller drops it on ChangeError);
    ids: the next numbers of new ids (FIRST_IDS after reset); now: the time of the
    request, whole milliseconds.  Returns the answer's lines.  The ops:

      {"op": "call", "conversation": CN, "status": S, "duration": 0, "ago": 0}
        an incoming call of a 1:1 conversation created ago seconds before now,
        made by call_object() (answered: answeredAt 8 s after createdAt,
        completedAt duration after that; updatedAt null)
        -> "call AC9nnnnnnn CN"
      {"op": "message", "conversation": CN, "status": S, "ago": 0,
       "text": "New message"}
        outgoing unless S is received; updatedAt = createdAt
        -> "message AC9nnnnnnn CN"
        (a call or a message: not in a deleted conversation; the conversation's
        lastActivityAt/Id move to the new row unless it is earlier, and its
        updatedAt becomes now)
      {"op": "conversation", "phone": PNsales0001|PNsupport02,
       "participants": [E164, ...], "user": "USalice0001"}
        no activity yet; not the participants of a listed conversation of
        that phone -> "conversation CN9nnnnnnn"
      {"op": "update_call", "id": AC, "status": S, "duration": N}  (both optional)
      {"op": "update_message", "id": AC, "status": S}
        updatedAt now; the conversation is not touched -> "updated AC"
      {"op": "delete_conversation", "id": CN, "listed": true|false}
        deletedAt and updatedAt now; listed false: list conversations no
        longer has it (its calls and messages stay, and list calls and list
        messages still find them) -> "deleted CN"
      {"op": "delete_call", "id": AC}, {"op": "delete_message", "id": AC}
        the row is gone: the lists no longer have it and its get by id is
        the documented 404; the conversation is not touched -> "deleted AC"
        (a deleted call's percall values go with it)
      {"op": "percall", "kind": summaries|transcripts|recordings|voicemails,
       "call": AC, "value": OBJECT|null|[RECORDING, ...]}
        from now on GET /v1/call-summaries|call-transcripts|call-recordings|
        call-voicemails/AC, and /_mock/percall, answer value instead of the
        maker's object (call_summary() and the others): an object is the
        answer's "data" (summaries and transcripts: callId is filled in when
        missing, and must be AC when given); for recordings a list of
        recording objects, [] allowed; null: the route's documented 404, as
        for a call without one.  value has the document's shape
        (PERCALL_SCHEMAS: every required key, no other, the types, status
        one of the document's values for that kind).  call: a call of the
        workspace, the "call" op's too (an earlier op of the same change
        counts), or a call of the extras (answered while the extras have
        it).  The last value set for a call and kind holds; update_call
        does not undo it (the makers follow a call's status, a value does
        not) -> "percall KIND AC"
      {"op": "contact", "id": ID, "first_name": S, "last_name": S,
       "company": S, "role": S, "emails": [S, ...], "phone_numbers": [E164, ...],
       "external_id": S, "source": S}  (all optional)
        a contact in contact_object()'s shape: the names, company and role
        go to defaultFields (a string or null), emails and phone_numbers
        are its lists (named "work email", "personal email", "email 3"...
        and "mobile", "work", "phone 3"...; item ids made from the
        contact's), external_id and source are externalId and source (1 to
        75 characters, or null); what is not given is null or []; sourceUrl
        null, customFields [], createdByUserId USalice0001, createdAt and
        updatedAt now.  id: 1 to 75 letters, digits, _ or -, not a
        contact's; by default 664d0db69fcac7cf2e6fnnnn -> "contact ID"
      {"op": "update_contact", "id": ID, <the same fields>}  (one or more)
        sets them (a list replaces the list); updatedAt now -> "updated ID"
      {"op": "delete_contact", "id": ID}
        list contacts no longer has it, get by id is the documented 404
        -> "deleted ID"
      {"op": "task", "id": TK, "title": S, "description": S, "completed": B,
       "assigned_to": US|SYU|null, "due_date": ISO|null, "conversation": CN}
       (all optional)
        a task in task_object()'s shape: linked to the conversation (its
        phoneNumberId and phoneNumberGroupId too) or to nothing, activityId
        null; title and description a string or null; assignedBy USalice0001
        when assigned; createdBy USalice0001, createdAt now, completed
        false unless given, isDeleted false, revision "1".  id: TK and 1 to
        73 letters, digits, _ or -, not a task's; by default TK9nnnnnnn
        -> "task TK"
      {"op": "update_task", "id": TK, "completed": B, "title": S,
       "description": S, "assigned_to": ..., "due_date": ...}  (one or more)
        sets them; revision goes up by one (tasks have no updatedAt)
        -> "updated TK"
      {"op": "delete_task", "id": TK}
        list tasks no longer has it, get by id is the documented 404
        -> "deleted TK"
    Contacts and tasks are listed in the order of their lists (Workspace):
    the default ones oldest first, the added ones after them in the order
    added; an update does not move one, a deletion takes it out.  A page
    token is an offset: a client paging across a deletion misses the row
    after it, and one across an addition finds it on the last page.
    Calls and messages share the AC9nnnnnnn numbers (call_number() reads them).
    """
    convs = {c["id"]: c for c in ws.conversations}
    out = []
    for i, op in enumerate(ops, 1):
        try:
            out.append(change_one(ws, convs, op, ids, extras, now))
        except ChangeError as e:
            raise ChangeError("op %d: %s" % (i, e))
    ws.index()
    return out


def change_one(ws, convs, op, ids, extras, now):
    kind = op.get("op") if isinstance(op, dict) else None
    if kind not in CHANGE_KEYS:
        raise ChangeError("an op is an object with \"op\" one of %s" % ", ".join(sorted(CHANGE_KEYS)))
    bad = set(op) - CHANGE_KEYS[kind] - {"op"}
    if bad:
        raise ChangeError("%s takes %s, not %s" % (kind, ", ".join(sorted(CHANGE_KEYS[kind])), ", ".join(sorted(bad))))
    if kind == "percall":
        return change_percall(ws, op, extras)
    if kind in ("contact", "update_contact", "delete_contact"):
        return change_contact(ws, kind, op, ids, now)
    if kind in ("task", "update_task", "delete_task"):
        return change_task(ws, convs, kind, op, ids, now)
    statuses = CALL_STATUSES if kind in ("call", "update_call") else MESSAGE_STATUSES
    if "status" in op or kind in ("call", "message", "update_message"):
        if op.get("status") not in statuses:
            raise ChangeError("%s: status must be one of %s" % (kind, ", ".join(sorted(statuses))))
    dur = op.get("duration", 0)
    if type(dur) is not int or dur < 0:
        raise ChangeError("%s: duration is a whole number of seconds" % kind)
    if kind in ("call", "message"):
        conv = convs.get(op.get("conversation"))
        if conv is None:
            raise ChangeError("%s: unknown conversation %r" % (kind, op.get("conversation")))
        if conv["deletedAt"] is not None:
            raise ChangeError("%s: conversation %s is deleted" % (kind, conv["id"]))
        ago = op.get("ago", 0)
        if type(ago) not in (int, float) or not 0 <= ago < 1e9:
            raise ChangeError("%s: ago is a number of seconds, not negative" % kind)
        t = now - timedelta(seconds=ago)
        t -= timedelta(microseconds=t.microsecond % 1000)
        pn, parts, user = conv["phoneNumberId"], conv["participants"], conv["_user"]
        row_id = "AC9%07d" % ids["AC"]
        if kind == "call":
            if len(parts) != 1:
                raise ChangeError("call: a call has one participant, conversation %s has %d"
                                  % (conv["id"], len(parts)))
            row = call_object(row_id, pn, parts, user, t, 0, op["status"], True, dur, 0, False)
            ws.calls.append(row)
            ws.call_by_id[row_id] = row
        else:
            text = op.get("text", "New message")
            if not isinstance(text, str):
                raise ChangeError("message: text is a string")
            incoming = op["status"] == "received"
            own = own_number(pn)
            row = message_object(row_id, pn, conv["id"], t, 0, incoming, [own] if incoming else list(parts),
                                 parts[0] if incoming else own, text, None if incoming else user, op["status"])
            row["updatedAt"] = row["createdAt"]
            row["_parts"] = list(parts)
            ws.messages.append(row)
            ws.msg_by_id[row_id] = row
        row["_t"] = t
        ids["AC"] += 1
        if conv["lastActivityAt"] is None or t >= parse_ts(conv["lastActivityAt"]):
            conv["lastActivityAt"], conv["lastActivityId"] = iso(t), row_id
        conv["updatedAt"], conv["_u"] = iso(now), now
        return "%s %s %s" % (kind, row_id, conv["id"])
    if kind == "conversation":
        pn, parts, user = op.get("phone"), op.get("participants"), op.get("user", USERS[0])
        if pn not in [p for p, _, _ in PHONES]:
            raise ChangeError("conversation: phone is one of %s" % ", ".join(p for p, _, _ in PHONES))
        if (not isinstance(parts, list) or not parts or len(set(parts)) != len(parts)
                or not all(isinstance(v, str) and E164.match(v) for v in parts)):
            raise ChangeError("conversation: participants is a list of distinct E.164 numbers")
        if user not in USER_BY_ID:
            raise ChangeError("conversation: unknown user %r" % (user,))
        key = sorted(parts)
        if (any(c["phoneNumberId"] == pn and sorted(c["participants"]) == key and c.get("_listed", True)
                for c in ws.conversations)
                or (pn == PHONES[0][0] and key == [HUGE])
                or (extras is not None and extras.conversation(pn, parts) is not None)):
            raise ChangeError("conversation: %s already has a conversation with %s" % (pn, ", ".join(parts)))
        cid = "CN9%07d" % ids["CN"]
        ids["CN"] += 1
        conv = {"assignedTo": user, "createdAt": iso(now), "deletedAt": None, "id": cid,
                "lastActivityAt": None, "lastActivityId": None, "mutedUntil": None, "name": None,
                "participants": list(parts), "phoneNumberId": pn, "snoozedUntil": None,
                "updatedAt": iso(now), "_t": now, "_u": now, "_user": user, "_active": True}
        ws.conversations.append(conv)
        convs[cid] = conv
        return "conversation " + cid
    if kind == "delete_conversation":
        conv = convs.get(op.get("id"))
        if conv is None:
            raise ChangeError("delete_conversation: unknown conversation %r" % (op.get("id"),))
        if not conv.get("_listed", True):
            raise ChangeError("delete_conversation: conversation %s is deleted and not listed" % conv["id"])
        if not isinstance(op.get("listed"), bool):
            raise ChangeError("delete_conversation: listed is true or false")
        conv["deletedAt"] = conv["updatedAt"] = iso(now)
        conv["_u"], conv["_listed"] = now, op["listed"]
        return "deleted " + conv["id"]
    if kind in ("delete_call", "delete_message"):
        by_id, rows = (ws.call_by_id, ws.calls) if kind == "delete_call" else (ws.msg_by_id, ws.messages)
        row = by_id.get(op.get("id"))
        if row is None:
            raise ChangeError("%s: unknown %s %r" % (kind, kind[7:], op.get("id")))
        del by_id[row["id"]]
        rows[:] = [r for r in rows if r is not row]
        if kind == "delete_call":
            for values in ws.percall.values():
                values.pop(row["id"], None)
        return "deleted " + row["id"]
    row = (ws.call_by_id if kind == "update_call" else ws.msg_by_id).get(op.get("id"))
    if row is None:
        raise ChangeError("%s: unknown %s %r" % (kind, kind[7:], op.get("id")))
    if kind == "update_call":
        st = row["status"] = op.get("status", row["status"])
        row["duration"] = op.get("duration", row["duration"])
        if st in ("completed", "forwarded") and row["answeredAt"] is None:
            at = row["_t"] + timedelta(seconds=8)
            row["answeredAt"], row["completedAt"] = iso(at), iso(at + timedelta(seconds=row["duration"]))
            row["answeredBy"] = row["userId"] if row["direction"] == "incoming" else None
        if st == "forwarded" and row["forwardedTo"] is None:
            row["forwardedTo"] = "+15550003000"
    else:
        row["status"] = op["status"]
    row["updatedAt"] = iso(now)
    return "updated " + row["id"]


def change_percall(ws, op, extras):
    what, cid = op.get("kind"), op.get("call")
    if what not in PERCALL_KINDS:
        raise ChangeError("percall: kind is one of %s" % ", ".join(sorted(PERCALL_KINDS)))
    call = ws.call_by_id.get(cid) if isinstance(cid, str) else None
    if call is None and isinstance(cid, str) and extras is not None:
        call = extras.call_by_id(cid)
    if call is None:
        raise ChangeError("percall: unknown call %r" % (cid,))
    if "value" not in op:
        raise ChangeError("percall: value is an object, a list for recordings, or null")
    value = op["value"]
    if value is not None:
        if what in ("summaries", "transcripts") and isinstance(value, dict):
            if value.get("callId", cid) != cid:
                raise ChangeError("percall: value/callId is %r, not the call %s" % (value["callId"], cid))
            value = dict({"callId": cid}, **value)
        wrong = shape_error(PERCALL_SCHEMAS[what], value, "value")
        if wrong:
            raise ChangeError("percall: %s: %s" % (what, wrong))
    ws.percall[what][cid] = value
    return "percall %s %s" % (what, cid)


def op_string(kind, op, name, nullable=True, lo=0, hi=None):
    v = op[name]
    if v is None and nullable:
        return None
    if not isinstance(v, str) or len(v) < lo or (hi is not None and len(v) > hi):
        raise ChangeError("%s: %s is a string%s%s" % (
            kind, name, " of %d to %d characters" % (lo, hi) if hi else (" of 1 character or more" if lo else ""),
            " or null" if nullable else ""))
    return v


def item_id(prefix, owner, i):
    """The id of item i of an email or phone number list of the contact owner."""
    return "%s%s%s" % (prefix, hashlib.md5(owner.encode()).hexdigest()[:8], "abcdefghijklmnopqrstuvwxyz"[i % 26])


def contact_fields(kind, op, row):
    """Set the contact fields op gives (CONTACT_OP_FIELDS) on the contact row."""
    fields = row["defaultFields"]
    for name, key in CONTACT_OP_FIELDS.items():
        if name not in op:
            continue
        if name in ("emails", "phone_numbers"):
            vals = op[name]
            if not isinstance(vals, list) or not all(isinstance(v, str) and v for v in vals):
                raise ChangeError("%s: %s is a list of strings" % (kind, name))
            if name == "phone_numbers" and not all(E164.match(v) for v in vals):
                raise ChangeError("%s: phone_numbers are E.164 numbers" % kind)
            names = ["work email", "personal email"] if name == "emails" else ["mobile", "work"]
            prefix, other = ("em", "email") if name == "emails" else ("ph", "phone")
            fields[key] = [{"name": names[i] if i < 2 else "%s %d" % (other, i + 1), "value": v,
                            "id": item_id(prefix, row["id"], i)} for i, v in enumerate(vals)]
        elif key is None:
            row["externalId" if name == "external_id" else "source"] = op_string(kind, op, name, lo=1, hi=75)
        else:
            fields[key] = op_string(kind, op, name)


def change_contact(ws, kind, op, ids, now):
    if kind == "contact":
        cid = op.get("id")
        if cid is None:
            while True:
                cid = "664d0db69fcac7cf2e6f%04d" % ids["CT"]
                ids["CT"] += 1
                if cid not in ws.contact_by_id:
                    break
        elif not isinstance(cid, str) or not re.match(r"^[A-Za-z0-9_-]{1,75}$", cid):
            raise ChangeError("contact: id is 1 to 75 letters, digits, _ or -")
        elif cid in ws.contact_by_id:
            raise ChangeError("contact: %s is a contact already" % cid)
        row = {"id": cid, "externalId": None, "source": None, "sourceUrl": None,
               "defaultFields": {"company": None, "emails": [], "firstName": None, "lastName": None,
                                 "phoneNumbers": [], "role": None},
               "customFields": [], "createdAt": iso(now), "updatedAt": iso(now), "createdByUserId": USERS[0]}
        contact_fields(kind, op, row)
        ws.contacts.append(row)
        ws.contact_by_id[cid] = row
        return "contact " + cid
    row = ws.contact_by_id.get(op.get("id"))
    if row is None:
        raise ChangeError("%s: unknown contact %r" % (kind, op.get("id")))
    if kind == "delete_contact":
        del ws.contact_by_id[row["id"]]
        ws.contacts[:] = [c for c in ws.contacts if c is not row]
        return "deleted " + row["id"]
    if set(op) <= {"op", "id"}:
        raise ChangeError("update_contact: give one of %s or more" % ", ".join(sorted(CONTACT_OP_FIELDS)))
    contact_fields(kind, op, row)
    row["updatedAt"] = iso(now)
    return "updated " + row["id"]


def task_fields(kind, op, row):
    """Set the task fields op gives (TASK_OP_FIELDS) on the task row."""
    for name in ("title", "description"):
        if name in op:
            row[name] = op_string(kind, op, name)
    if "completed" in op:
        if not isinstance(op["completed"], bool):
            raise ChangeError("%s: completed is true or false" % kind)
        row["completed"] = op["completed"]
    if "assigned_to" in op:
        who = op["assigned_to"]
        if who is not None and who not in USER_BY_ID and not (isinstance(who, str) and re.match(r"^SYU.", who)):
            raise ChangeError("%s: assigned_to is a user of the workspace, an SYU id or null" % kind)
        row["assignedTo"], row["assignedBy"] = who, None if who is None else USERS[0]
    if "due_date" in op:
        due = op["due_date"]
        if due is not None and (not isinstance(due, str) or parse_ts(due) is None):
            raise ChangeError("%s: due_date is an ISO 8601 date-time or null" % kind)
        row["dueDate"] = None if due is None else iso(parse_ts(due).astimezone(timezone.utc))


def change_task(ws, convs, kind, op, ids, now):
    if kind == "task":
        tid = op.get("id")
        if tid is None:
            while True:
                tid = "TK9%07d" % ids["TK"]
                ids["TK"] += 1
                if tid not in ws.task_by_id:
                    break
        elif not isinstance(tid, str) or not re.match(r"^TK[A-Za-z0-9_-]{1,73}$", tid):
            raise ChangeError("task: id is TK and 1 to 73 letters, digits, _ or -")
        elif tid in ws.task_by_id:
            raise ChangeError("task: %s is a task already" % tid)
        conv = None
        if op.get("conversation") is not None:
            conv = convs.get(op["conversation"])
            if conv is None:
                raise ChangeError("task: unknown conversation %r" % (op["conversation"],))
        pn = conv["phoneNumberId"] if conv else None
        row = {"taskId": tid, "phoneNumberId": pn, "conversationId": conv["id"] if conv else None,
               "activityId": None,
               "phoneNumberGroupId": next((n["groupId"] for n in PHONE_NUMBERS if n["id"] == pn), None),
               "orgId": "ORmock00001", "title": None, "description": None, "dueDate": None,
               "assignedTo": None, "assignedBy": None, "createdAt": iso(now), "createdBy": USERS[0],
               "completed": False, "isDeleted": False, "revision": "1"}
        task_fields(kind, op, row)
        ws.tasks.append(row)
        ws.task_by_id[tid] = row
        return "task " + tid
    row = ws.task_by_id.get(op.get("id"))
    if row is None:
        raise ChangeError("%s: unknown task %r" % (kind, op.get("id")))
    if kind == "delete_task":
        del ws.task_by_id[row["taskId"]]
        ws.tasks[:] = [t for t in ws.tasks if t is not row]
        return "deleted " + row["taskId"]
    if set(op) <= {"op", "id"}:
        raise ChangeError("update_task: give one of %s or more" % ", ".join(sorted(TASK_OP_FIELDS)))
    task_fields(kind, op, row)
    row["revision"] = str(int(row["revision"]) + 1)
    return "updated " + row["taskId"]


def nullable(schema):
    return ("any", [schema, "null"])


# The documented shapes of the per-call answers' "data", for the percall op:
# a leaf type (string, number, integer, boolean, null, date-time),
# ("enum", values), ("pattern", regex), ("array", item),
# ("object", required keys, optional keys) (no other key), ("any", schemas).
AI_STATUS = ("enum", ("absent", "in-progress", "completed", "failed"))
RECORDING_STATUS = ("enum", ("absent", "completed", "deleted", "failed", "in-progress", "paused", "processing",
                             "stopped", "stopping"))
PERCALL_SCHEMAS = {
    "summaries": ("object", {"callId": "string", "nextSteps": nullable(("array", "string")), "status": AI_STATUS,
                             "summary": nullable(("array", "string"))},
                  {"jobs": nullable(("array", ("object", {
                      "icon": "string", "name": "string",
                      "result": ("object", {"data": ("array", ("object", {
                          "name": "string", "value": ("any", ["string", "number", "boolean"])}, {}))}, {})},
                      {})))}),
    "transcripts": ("object", {"callId": "string", "createdAt": "date-time",
                               "dialogue": nullable(("array", ("object", {
                                   "content": "string", "start": "number", "end": "number",
                                   "identifier": nullable("string"), "userId": nullable(("pattern", r"^US(.*)$"))},
                                   {}))),
                               "duration": "number", "status": AI_STATUS}, {}),
    "recordings": ("array", ("object", {"duration": nullable("integer"), "id": "string",
                                        "startTime": nullable("date-time"), "status": nullable(RECORDING_STATUS),
                                        "type": nullable("string"), "url": nullable("string")}, {})),
    "voicemails": ("object", {"duration": nullable("integer"), "id": ("pattern", r"^VM(.*)$"),
                              "transcript": nullable("string"), "recordingUrl": nullable("string"),
                              "status": ("enum", ("completed", "in-progress"))}, {}),
}
LEAF_TYPES = {"string": ("a string", lambda v: isinstance(v, str)),
              "number": ("a number", lambda v: type(v) in (int, float)),
              "integer": ("an integer", lambda v: type(v) is int),
              "boolean": ("true or false", lambda v: type(v) is bool),
              "null": ("null", lambda v: v is None),
              "date-time": ("an ISO 8601 date-time", lambda v: isinstance(v, str) and parse_ts(v) is not None)}


def describe(schema):
    if isinstance(schema, str):
        return LEAF_TYPES[schema][0]
    if schema[0] == "enum":
        return "one of " + ", ".join(schema[1])
    if schema[0] == "pattern":
        return "a string matching " + schema[1]
    if schema[0] == "any":
        return " or ".join(describe(s) for s in schema[1])
    return "an " + schema[0]


def shape_error(schema, v, where):
    """None if v has the shape schema says, else what is wrong, at where
    (a path: value/dialogue/0/start)."""
    if isinstance(schema, str):
        ok = LEAF_TYPES[schema][1](v)
    elif schema[0] == "enum":
        ok = v in schema[1] and isinstance(v, str)
    elif schema[0] == "pattern":
        ok = isinstance(v, str) and re.match(schema[1], v) is not None
    elif schema[0] == "any":
        alts = [s for s in schema[1] if not (s == "null" and v is not None)]
        if v is None and "null" in alts:
            return None
        deep = [s for s in alts if isinstance(s, tuple) and (s[0], type(v)) in (("array", list), ("object", dict))]
        if deep:
            return shape_error(deep[0], v, where)       # the alternative of v's kind says what is wrong inside
        ok = any(shape_error(s, v, where) is None for s in alts)
    elif schema[0] == "array":
        if not isinstance(v, list):
            return "%s is not an array" % where
        for i, item in enumerate(v):
            wrong = shape_error(schema[1], item, "%s/%d" % (where, i))
            if wrong:
                return wrong
        return None
    else:
        _, required, optional = schema
        if not isinstance(v, dict):
            return "%s is not an object" % where
        for k in required:
            if k not in v:
                return "%s has no %s (required: %s)" % (where, k, ", ".join(required))
        for k in v:
            if k not in required and k not in optional:
                return "%s has %s, not a key of the document's (%s)" % (
                    where, k, ", ".join(list(required) + list(optional)))
        for k, sub in list(required.items()) + list(optional.items()):
            if k in v:
                wrong = shape_error(sub, v[k], "%s/%s" % (where, k))
                if wrong:
                    return wrong
        return None
    return None if ok else "%s is %s, not %s" % (where, json.dumps(v)[:60], describe(schema))


# ---------------------------------------------------------------------------
# Ground truth: GET /_mock/truth, the exact answer over the whole workspace.
# ---------------------------------------------------------------------------

class TruthError(Exception):
    pass


def truth_ts(q, name):
    vals = q.get(name)
    if not vals:
        return None
    if len(vals) > 1:
        raise TruthError("%s given twice" % name)
    dt = parse_ts(vals[0])
    if dt is None:
        raise TruthError("%s is not an ISO 8601 date-time: %r" % (name, vals[0]))
    return us_of(dt)


def default_truth_rows(ws, kind):
    """(id, created_at us as rendered, phoneNumberId, userId, conversation id,
    listable) of the default workspace; made once.  created_at is the time the
    row's createdAt says (what SQL compares), which may have lost the
    milliseconds the API filters on.  A row is found through the listed
    conversation of its number and participants (as list calls and list
    messages find it); a row without one (its conversation deleted and
    unlisted by POST /_mock/change) is not here."""
    cache = ws.__dict__.setdefault("_truth", {})
    if kind not in cache:
        by_key = {(c["phoneNumberId"], tuple(sorted(c["participants"]))): c["id"] for c in ws.conversations
                  if c.get("_listed", True)}
        rows = []
        if kind == "calls":
            for c in ws.calls:
                cid = by_key.get((c["phoneNumberId"], tuple(sorted(c["participants"]))))
                if cid is not None:
                    rows.append((c["id"], us_of(parse_ts(c["createdAt"])), c["phoneNumberId"], c["userId"], cid,
                                 len(c["participants"]) == 1, tuple(c["participants"])))
        else:
            for m in ws.messages:
                cid = by_key.get((m["phoneNumberId"], tuple(sorted(m["_parts"]))))
                if cid is not None:
                    rows.append((m["id"], us_of(parse_ts(m["createdAt"])), m["phoneNumberId"], m["userId"],
                                 cid, len(m["_parts"]) <= 10, tuple(m["_parts"])))
        cache[kind] = rows
    return cache[kind]


def directory_truth(ws, kind, q):
    """kind=contacts|tasks (no other parameter): "count N", "ids_md5 X" (of
    the ids sorted and joined by commas) of what list contacts or list
    tasks answers, page by page, with no filter."""
    for k in q:
        if k != "kind":
            raise TruthError("unknown parameter %s (kind=%s takes no other)" % (k, kind))
    ids = sorted(c["id"] for c in ws.contacts) if kind == "contacts" else sorted(t["taskId"] for t in ws.tasks)
    return "count %d\nids_md5 %s\n" % (len(ids), hashlib.md5(",".join(ids).encode()).hexdigest())


def participants_match(q, parts):
    """Whether a row's participants (a call's own, a message's conversation's,
    in order) satisfy the truth query's participant conditions: participant
    (each one held, as v = ANY (participants) and @>), any_participant (one
    of them held, as &&) and participants (this comma-separated list, in
    order, as participants = ARRAY[...])."""
    if any(v not in parts for v in q.get("participant", [])):
        return False
    anyof = q.get("any_participant", [])
    if anyof and not any(v in parts for v in anyof):
        return False
    exact = q.get("participants", [])
    if len(exact) > 1:
        raise TruthError("participants given twice")
    return not exact or list(parts) == exact[0].split(",")


def truth(ws, ex, q):
    kind = q.get("kind", [None])
    if kind in (["contacts"], ["tasks"]):
        return directory_truth(ws, kind[0], q)
    check = {"kind", "phone", "after", "before", "user", "participant", "any_participant", "participants"}
    for k in q:
        if k not in check:
            raise TruthError("unknown parameter %s (known: %s)" % (k, ", ".join(sorted(check))))
    if len(kind) != 1 or kind[0] not in ("calls", "messages"):
        raise TruthError("kind must be calls, messages, contacts or tasks")
    kind = kind[0]
    phones = None
    if q.get("phone"):
        phones = set()
        for v in q["phone"]:
            for pn, num, _ in PHONES + [BULK_PHONE]:
                if v == num:
                    v = pn
            if not v.startswith("PN"):
                raise TruthError("phone must be a PN id or a Quo number: %r" % v)
            phones.add(v)
    after, before = truth_ts(q, "after"), truth_ts(q, "before")
    users = q.get("user", [])
    if len(users) > 1:
        raise TruthError("user given twice")
    user = users[0] if users else None

    ids, convs, lost, lost_convs = [], set(), 0, set()
    participants_match(q, ())          # its errors before any row
    for rid, t, pn, uid, cid, ok, parts in default_truth_rows(ws, kind):
        if ((phones is None or pn in phones) and (user is None or uid == user)
                and (after is None or t >= after) and (before is None or t <= before)
                and participants_match(q, parts)):
            if ok:
                ids.append(rid)
                convs.add(cid)
            else:
                lost += 1
                lost_convs.add(cid)
    if ex is not None:
        for c in ex.bulk + ([ex.group] if ex.group else []):
            if (phones is not None and c.pn not in phones) or not participants_match(q, c.parts):
                continue
            ok = len(c.parts) == 1 if kind == "calls" else len(c.parts) <= 10
            for rid, t, uid in c.truth_rows(kind, after, before):
                if user is not None and uid != user:
                    continue
                if ok:
                    ids.append(rid)
                    convs.add(c.cid)
                else:
                    lost += 1
                    lost_convs.add(c.cid)
    ids.sort()
    return ("count %d\nids_md5 %s\nconversations %d\nunlistable_count %d\nunlistable_conversations %d\n"
            % (len(ids), hashlib.md5(",".join(ids).encode()).hexdigest(), len(convs), lost, len(lost_convs)))


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------
# Faults, injected by the tests through /_mock/faults.
# ---------------------------------------------------------------------------

class Fault:
    """One injected fault.

    match: substring of "METHOD path?query" the fault applies to ("" = all);
    skip: let this many matching requests through first;
    times: apply to this many matching requests (-1 = forever);
    action: status | hang | drop | latency | badjson | truncate | alt_error |
            wrong_type | html | raw | short_pages | same_token | cycle | deep |
            huge | many | echo_key
    status, retry_after, seconds, field, value: parameters of the action;
    body and latin1 of raw, count, prefix and element of many.
    A status fault's body is the error family's of the path (its code for
    that status); on the per-call routes it also replaces a 404.  A raw
    fault replaces any answer, an error too.
    """

    def __init__(self, spec):
        self.match = spec.get("match", "")
        self.skip = int(spec.get("skip", 0))
        self.times = int(spec.get("times", 1))
        self.action = spec["action"]
        self.spec = spec


class State:
    def __init__(self, key, ws):
        self.key = key
        self.ws = ws
        self.base_ws = ws     # the pristine workspace; ws is a changed copy after POST /_mock/change
        self.ids = dict(FIRST_IDS)   # the next numbers of the ids the changes make
        self.lock = threading.Lock()
        self.change_lock = threading.Lock()   # one change (or reset, or extras) at a time
        self.faults = []
        self.log = []
        self.connections = 0
        self.generation = 0   # bumped by reset: late finishers of older requests are not logged
        self.rate_rps = 0     # when set, more than this many requests in a second get 429
        self.arrivals = []    # arrival times of API requests since reset
        self.key_arrivals = {}  # the same, per Authorization header value
        self.in_flight = 0    # API requests being answered now
        self.max_in_flight = 0
        self.headers = []     # (User-Agent, Accept-Encoding, auth ok) per request
        self.extras = None    # Extras of POST /_mock/workspace; None: the default workspace only

    def take_fault(self, line):
        with self.lock:
            for f in self.faults:
                if f.match and f.match not in line:
                    continue
                if f.times == 0:
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.times > 0:
                    f.times -= 1
                return f
        return None


# ---------------------------------------------------------------------------
# Request validation helpers
# ---------------------------------------------------------------------------

def one(q, name, required=False, pattern=None, family=None):
    vals = q.get(name)
    if not vals:
        if required:
            raise ApiError(400, "%s is required" % name,
                           [{"path": "/" + name, "message": "Expected required property", "schema": {"type": "string"}}])
        return None
    if len(vals) > 1:
        raise ApiError(400, "%s must be a single value" % name,
                       [{"path": "/" + name, "message": "Expected string", "value": vals, "schema": {"type": "string"}}])
    v = vals[0]
    if pattern and not re.match(pattern, v):
        raise ApiError(400, "%s does not match %s" % (name, pattern),
                       [{"path": "/" + name, "message": "Expected string to match '%s'" % pattern,
                         "value": v, "schema": {"type": "string"}}])
    return v


def ts_param(q, name):
    v = one(q, name)
    if v is None:
        return None
    dt = parse_ts(v)
    if dt is None:
        raise ApiError(400, "%s is not a valid date-time" % name,
                       [{"path": "/" + name, "message": "Expected string to match 'date-time' format",
                         "value": v, "schema": {"type": "string"}}])
    return dt


def max_results(q, hi=100):
    v = one(q, "maxResults", required=True)
    if not re.match(r"^\d+$", v) or not 1 <= int(v) <= hi:
        raise ApiError(400, "maxResults must be an integer from 1 to %d" % hi,
                       [{"path": "/maxResults", "message": "Expected integer between 1 and %d" % hi,
                         "value": v, "schema": {"type": "integer"}}])
    return int(v)


def phone_list(q, name, required, max_items):
    vals = q.get(name, [])
    if required and not vals:
        raise ApiError(400, "%s is required" % name,
                       [{"path": "/" + name, "message": "Expected required property", "schema": {"type": "array"}}])
    if len(vals) > max_items:
        raise ApiError(400, "Too many participants: at most %d allowed" % max_items,
                       [{"path": "/" + name, "message": "Expected array to have at most %d items" % max_items,
                         "value": vals, "schema": {"type": "array"}}])
    for v in vals:
        if not E164.match(v):
            raise ApiError(400, "%s must be E.164 phone numbers" % name,
                           [{"path": "/" + name, "message": "Expected string to match '^\\+[1-9]\\d{1,14}$'",
                             "value": v, "schema": {"type": "string"}}])
    return vals


def check_known(q, allowed):
    for k in q:
        if k not in allowed:
            raise ApiError(400, "Unknown query parameter %s" % k,
                           [{"path": "/" + k, "message": "Unexpected property", "value": q[k],
                             "schema": {"type": "object"}}])


def token_for(query_sig, offset):
    raw = json.dumps({"h": query_sig, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def offset_from(q, query_sig):
    tok = one(q, "pageToken")
    if tok is None:
        return 0
    try:
        pad = "=" * (-len(tok) % 4)
        d = json.loads(base64.urlsafe_b64decode(tok + pad))
        if d["h"] != query_sig:
            raise ValueError("token bound to another query")
        return int(d["o"])
    except Exception:
        raise ApiError(400, "Invalid page token",
                       [{"path": "/pageToken", "message": "Invalid page token", "value": tok,
                         "schema": {"type": "string"}}])


def signature(q):
    items = sorted((k, tuple(v)) for k, v in q.items() if k not in ("pageToken",))
    return hashlib.sha1(repr(items).encode()).hexdigest()[:16]


def in_range(t, after, before):
    if t is None:
        return after is None and before is None
    if after is not None and not t > after:
        return False
    if before is not None and not t < before:
        return False
    return True


# ---------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------

def page(q, rows, fault, hi=100, omit_last_token=False):
    limit = max_results(q, hi)
    if fault is not None and fault.action == "cycle":
        # page 1 -> token A, page (A) -> token B, page (B) -> token A again
        tok = one(q, "pageToken")
        return {"data": [public(r) for r in rows[:limit]], "totalItems": 0,
                "nextPageToken": "cycle-A" if tok in (None, "cycle-B") else "cycle-B"}
    sig = signature(q)
    off = offset_from(q, sig)
    take = limit
    if fault is not None and fault.action == "short_pages":
        take = max(1, limit // 3)
    chunk = rows[off:off + take]
    nxt = off + len(chunk)
    token = token_for(sig, nxt) if nxt < len(rows) else None
    if fault is not None and fault.action == "same_token":
        token = one(q, "pageToken") or token_for(sig, 0)
    # totalItems is documented as inaccurate: keep it wrong.
    body = {"data": [public(r) for r in chunk], "totalItems": len(rows) + 7, "nextPageToken": token}
    if token is None and omit_last_token:
        del body["nextPageToken"]        # tasks: optional, and not nullable
    return body


def list_calls(ws, q, fault, extras=None):
    check_known(q, {"phoneNumberId", "userId", "participants", "since", "createdAfter", "createdBefore",
                    "maxResults", "pageToken"})
    pn = one(q, "phoneNumberId", True, r"^PN(.*)$")
    user = one(q, "userId", False, r"^US(.*)$")
    parts = phone_list(q, "participants", True, 1)
    after, before = ts_param(q, "createdAfter"), ts_param(q, "createdBefore")
    max_results(q)
    conv = extras.conversation(pn, parts) if extras is not None else None
    if conv is not None:
        return page(q, conv.list_calls(user, after, before), fault)
    rows = [c for c in ws.calls if c["phoneNumberId"] == pn and c["participants"] == parts
            and (user is None or c["userId"] == user) and in_range(c["_t"], after, before)]
    return page(q, rows, fault)


def list_messages(ws, q, fault, extras=None):
    check_known(q, {"phoneNumberId", "userId", "participants", "since", "createdAfter", "createdBefore",
                    "maxResults", "pageToken"})
    pn = one(q, "phoneNumberId", True, r"^PN(.*)$")
    user = one(q, "userId", False, r"^US(.*)$")
    parts = phone_list(q, "participants", True, 10)
    after, before = ts_param(q, "createdAfter"), ts_param(q, "createdBefore")
    max_results(q)
    want = sorted(set(parts))
    if want == [HUGE] and pn == "PNsales0001" and user is None and after is None and before is None:
        return page(q, HugeConversation(HUGE_COUNT), fault)
    conv = extras.conversation(pn, parts) if extras is not None else None
    if conv is not None:
        return page(q, conv.list_messages(user, after, before), fault)
    rows = [m for m in ws.messages if m["phoneNumberId"] == pn and sorted(m["_parts"]) == want
            and (user is None or m["userId"] == user) and in_range(m["_t"], after, before)]
    return page(q, rows, fault)


def list_conversations(ws, q, fault, extras=None):
    check_known(q, {"phoneNumber", "phoneNumbers", "userId", "createdAfter", "createdBefore", "excludeInactive",
                    "updatedAfter", "updatedBefore", "maxResults", "pageToken"})
    nums = q.get("phoneNumbers") or q.get("phoneNumber") or []
    if len(nums) > 100:
        raise ApiError(400, "phoneNumbers accepts at most 100 items",
                       [{"path": "/phoneNumbers", "message": "Expected array to have at most 100 items",
                         "value": nums, "schema": {"type": "array"}}])
    for v in nums:
        if not (E164.match(v) or v.startswith("PN")):
            raise ApiError(400, "phoneNumbers items must be E.164 numbers or PN ids",
                           [{"path": "/phoneNumbers", "message": "Expected E.164 or PN id", "value": v,
                             "schema": {"type": "string"}}])
    user = one(q, "userId", False, r"^US(.*)$")
    ex = one(q, "excludeInactive")
    if ex not in (None, "true", "false"):
        raise ApiError(400, "excludeInactive must be true or false",
                       [{"path": "/excludeInactive", "message": "Expected boolean", "value": ex,
                         "schema": {"type": "boolean"}}])
    ca, cb = ts_param(q, "createdAfter"), ts_param(q, "createdBefore")
    ua, ub = ts_param(q, "updatedAfter"), ts_param(q, "updatedBefore")
    max_results(q)
    ids = set()
    for v in nums:
        for pn, num, _ in (extras.phones if extras is not None else PHONES):
            if v in (pn, num):
                ids.add(pn)
    rows = [c for c in (extras.conversations if extras is not None else ws.conversations)
            if c.get("_listed", True)
            and (not nums or c["phoneNumberId"] in ids)
            and (user is None or c["_user"] == user)
            and (ex != "true" or c["_active"])
            and ((ca is None and cb is None) or in_range(c["_t"] if c["createdAt"] else None, ca, cb))
            and in_range(c["_u"], ua, ub)]
    return page(q, rows, fault)


def user_object(k, uid, email, first, last, picture, role):
    t = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc) + timedelta(days=3 * k, minutes=7 * k)
    return {"id": uid, "email": email, "firstName": first, "lastName": last, "pictureUrl": picture,
            "role": role, "createdAt": iso(t), "updatedAt": iso(t + timedelta(days=40, seconds=k))}


# the workspace's users (USERS own its calls and messages), and a member
# with no name or picture yet
BASE_USERS = [
    user_object(0, "USalice0001", "alice@example.com", "Alice", "Nguyen", "https://example.com/alice.jpg", "owner"),
    user_object(1, "USbob000002", "bob@example.com", "Bob", "Okafor", None, "admin"),
    user_object(2, "UScarol0003", "carol@example.com", "Carol", "Jiménez", "https://example.com/carol.jpg",
                "member"),
    user_object(3, "USdave00004", "dave@example.com", None, None, None, "member"),
]


def all_users(extras):
    return BASE_USERS + (extras.users if extras is not None else [])


def list_users(q, fault, extras):
    check_known(q, {"maxResults", "pageToken"})
    return page(q, all_users(extras), fault, hi=50)


def task_object(k):
    """Task k of the workspace: every nullable field null on some tasks."""
    t = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc) + timedelta(hours=5 * k, seconds=k)
    linked = k % 4 != 3
    return {"taskId": "TK%08d" % (k + 1),
            "phoneNumberId": PHONES[k % 2][0] if linked else None,
            "conversationId": "CN%08d" % (k % 40 + 1) if linked else None,
            "activityId": "AC%08d" % (k + 1) if k % 2 == 0 else None,
            "phoneNumberGroupId": "PG%08d" % (k % 2 + 1) if linked else None,
            "orgId": "ORmock00001",
            "title": "Follow up %d" % (k + 1) if k % 9 else None,
            "description": "Call back about invoice %d" % (1000 + k) if k % 3 == 0 else None,
            "dueDate": iso(t + timedelta(days=2)) if k % 5 else None,
            "assignedTo": (USERS[k % 3] if k % 7 else "SYUassistant1") if k % 11 else None,
            "assignedBy": USERS[(k + 1) % 3] if k % 6 else None,
            "createdAt": iso(t),
            "createdBy": USERS[k % 3],
            "completed": k % 3 == 1,
            "isDeleted": k % 13 == 12,
            "revision": str(1 + k % 4)}


TASK_COUNT = 130     # the default workspace's tasks (Workspace.tasks)


def list_tasks(ws, q, fault):
    check_known(q, {"maxResults", "pageToken"})
    return page(q, ws.tasks, fault, hi=100, omit_last_token=True)


def get_item(table, item_id, prefix, extra=None):
    if not item_id.startswith(prefix):
        raise ApiError(400, "id does not match ^%s(.*)$" % prefix,
                       [{"path": "/id", "message": "Expected string to match '^%s(.*)$'" % prefix,
                         "value": item_id, "schema": {"type": "string"}}])
    row = table.get(item_id)
    if row is None and extra is not None:
        row = extra(item_id)
    if row is None:
        raise ApiError(404, "Not found: %s" % item_id)
    return {"data": public(row)}


# ---------------------------------------------------------------------------
# Phone numbers: GET /v1/phone-numbers (not paginated), /v1/phone-numbers/{id}
# ---------------------------------------------------------------------------

USER_BY_ID = {u["id"]: u for u in BASE_USERS}
UNRESTRICTED = {"CA": "unrestricted", "Intl": "unrestricted", "US": "unrestricted"}


def phone_number_object(k, pn, number, name, user_ids, formatted, forward, port_request, porting, symbol,
                        calling=None, messaging=None, style=0):
    """Phone number k: groupId PG0000000<k+1> (the tasks' phoneNumberGroupId),
    its users with groupId GR0000000<k+1>, in the document's key order."""
    t = datetime(2023, 1, 5, 10, 0, tzinfo=timezone.utc) + timedelta(days=11 * k, minutes=13 * k)
    users = [{"email": u["email"], "firstName": u["firstName"], "lastName": u["lastName"], "id": u["id"],
              "role": u["role"], "groupId": "GR%08d" % (k + 1)} for u in (USER_BY_ID[i] for i in user_ids)]
    return {"id": pn, "groupId": "PG%08d" % (k + 1), "portRequestId": port_request,
            "formattedNumber": formatted, "forward": forward, "name": name, "number": number,
            "portingStatus": porting, "symbol": symbol, "users": users,
            "createdAt": iso(t, style), "updatedAt": iso(t + timedelta(days=90, seconds=17 * k), style),
            "restrictions": {"calling": dict(calling or UNRESTRICTED), "messaging": dict(messaging or UNRESTRICTED)}}


# PHONES' two numbers, a spare number nobody uses, and a number whose every
# nullable field is null (its one user has no name)
PHONE_NUMBERS = [
    phone_number_object(0, "PNsales0001", "+15550001000", "Sales", ["USalice0001", "USbob000002"],
                        "(555) 000-1000", "+15550003000", None, None, "\U0001F4BC"),
    phone_number_object(1, "PNsupport02", "+15550002000", "Support", ["USbob000002", "UScarol0003"],
                        "(555) 000-2000", None, "PR00000002", "completed", "\U0001F6E0\ufe0f",
                        calling={"CA": "unrestricted", "Intl": "restricted", "US": "unrestricted"}),
    phone_number_object(2, "PNspare0003", "+15550005000", "Spare line", [],
                        "(555) 000-5000", None, None, None, None,
                        calling={"CA": "restricted", "Intl": "restricted", "US": "unrestricted"},
                        messaging={"CA": "restricted", "Intl": "restricted", "US": "restricted"}),
    phone_number_object(3, "PNnull00004", "+15550006000", "Front desk", ["USdave00004"],
                        None, None, None, None, None, style=1),
]
# the bulk conversations' number, listed while POST /_mock/workspace has them
BULK_PHONE_NUMBER = phone_number_object(4, BULK_PHONE[0], BULK_PHONE[1], BULK_PHONE[2], USERS,
                                        "(555) 000-4000", None, None, None, "\U0001F4E6")


def all_phone_numbers(extras):
    return PHONE_NUMBERS + ([BULK_PHONE_NUMBER] if extras is not None and extras.bulk else [])


def list_phone_numbers(q, extras):
    check_known(q, {"userId"})
    user = one(q, "userId", False, r"^US(.*)$")
    return {"data": [public(n) for n in all_phone_numbers(extras)
                     if user is None or any(u["id"] == user for u in n["users"])]}


# ---------------------------------------------------------------------------
# Contacts: GET /v1/contacts (pages of 1..50), /v1/contacts/{id},
# GET /v1/contact-custom-fields
# ---------------------------------------------------------------------------

# the workspace's custom contact fields: (name, key, type, id)
CUSTOM_FIELDS = [
    ("Inbound Lead", "inbound-lead", "boolean", "66d0d87d534de8fd1c433c01"),
    ("Lead Score", "lead-score", "number", "66d0d87d534de8fd1c433c02"),
    ("Renewal Date", "renewal-date", "date", "66d0d87d534de8fd1c433c03"),
    ("Products", "products", "multi-select", "66d0d87d534de8fd1c433c04"),
    ("Billing Address", "billing-address", "address", "66d0d87d534de8fd1c433c05"),
    ("Website", "website", "url", "66d0d87d534de8fd1c433c06"),
]
CONTACT_COUNT = 120
CONTACT_SOURCES = ["public-api", "csv", "public-api", "google", None, "csv"]    # by k % 6
FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Mo"]
LAST = ["Smith", "O'Brien", "García", "Li", "Kowalski", "Nakamura", "Dubois", "Adeyemi", "Quinn", "Berg", "Rossi"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella & Sons", "Stark \"Industries\"", "Wayne Enterprises"]
ROLES = ["Buyer", "CEO", "Office manager", "CTO", "Accountant"]


def custom_value(key, k):
    """Contact k's value of a custom field, or None for no entry."""
    if key == "inbound-lead" and k % 10 == 0:
        return k % 20 == 0
    if key == "lead-score" and k % 10 == 0:
        if k == 30:
            return None
        return k * 7 % 100 + 0.5 if k % 3 == 0 else k * 7 % 100
    if key == "renewal-date" and k % 10 == 5:
        return iso(datetime(2025, 1, 1, 4, 0, tzinfo=timezone.utc) + timedelta(days=k * 3))
    if key == "products" and k % 10 == 5:
        return [["Basic"], ["Pro", "Add-on"], []][k // 10 % 3]
    if key in ("billing-address", "website") and k % 30 == 0:
        if key == "website":
            return "https://customer%d.example.com/" % k
        return "%d Main St, Springfield" % (100 + k)
    return "absent"


def contact_object(k):
    """Contact k (0-based) of CONTACT_COUNT, id 664d0db69fcac7cf2e6e<k+1:04>.

    Contacts 0..39 have the number +155501<k+1:05> (the default workspace's
    1:1 contacts are +15550100001..40), contact 40 has the BIG number, and
    contact 119 has +15550100001 as its second number (so one number belongs to two
    contacts); the others have numbers that are in no call."""
    cid = "664d0db69fcac7cf2e6e%04d" % (k + 1)
    t = datetime(2023, 6, 1, 12, 0, tzinfo=timezone.utc) + timedelta(days=2 * k, minutes=17 * k, milliseconds=k)
    ext = None if k % 5 == 4 else "ext-%04d" % (k + 1)
    source = CONTACT_SOURCES[k % 6]
    if source == "google":
        url = "https://contacts.google.com/person/c%d" % (1000 + k)
    elif source == "public-api" and ext and k % 4:
        url = "https://crm.example.com/contacts/%s" % ext
    else:
        url = None
    first = None if k % 17 == 16 else FIRST[k % len(FIRST)]
    last = None if k % 17 in (15, 16) else LAST[k % len(LAST)]
    emails = []
    ne = [0, 1, 1, 2][k % 4]
    for i in range(ne):
        emails.append({"name": ["work email", "personal email"][i],
                       "value": None if k == 23 and i == 1 else "%s.%d@%s.example.com" % (
                           (first or "contact").lower().replace("é", "e"), k + 1, ["work", "home"][i]),
                       "id": "em%04d%s" % (k + 1, "ab"[i])})
    phones = []
    if k < 40:
        nums = ["+155501%05d" % (k + 1)]
    elif k == 40:
        nums = [BIG]
    elif k % 9 == 8:
        nums = []
    else:
        nums = ["+1555020%04d" % k]
    if k % 5 == 2 or k == 119:
        nums.append("+15550100001" if k == 119 else "+1555030%04d" % k)
    for i, v in enumerate(nums):
        phones.append({"name": ["mobile", "work"][i], "value": v, "id": "ph%04d%s" % (k + 1, "ab"[i])})
    if k == 57:
        phones.append({"name": "fax", "value": None, "id": "ph%04dz" % (k + 1)})
    custom = []
    for name, key, typ, fid in CUSTOM_FIELDS:
        v = custom_value(key, k)
        if v != "absent":
            custom.append({"name": name, "key": key, "id": fid, "type": typ, "value": v})
    return {"id": cid, "externalId": ext, "source": source, "sourceUrl": url,
            "defaultFields": {"company": None if k % 3 == 2 else COMPANIES[k % len(COMPANIES)],
                              "emails": emails, "firstName": first, "lastName": last,
                              "phoneNumbers": phones, "role": ROLES[k % len(ROLES)] if k % 4 else None},
            "customFields": custom,
            "createdAt": iso(t), "updatedAt": iso(t + timedelta(days=k % 7, hours=k % 5)),
            "createdByUserId": (USERS + ["USdave00004"])[k % 4]}



def string_items(q, name):
    """An array of strings sent as repeated keys, each 1..75 characters."""
    vals = q.get(name, [])
    for v in vals:
        if not 1 <= len(v) <= 75:
            raise ApiError(400, "%s items must be 1 to 75 characters" % name,
                           [{"path": "/" + name, "message": "Expected string length between 1 and 75",
                             "value": v, "schema": {"type": "string"}}])
    return vals


def list_contacts(ws, q, fault):
    check_known(q, {"externalIds", "sources", "maxResults", "pageToken"})
    ext = string_items(q, "externalIds")
    src = string_items(q, "sources")
    rows = [c for c in ws.contacts if (not ext or c["externalId"] in ext) and (not src or c["source"] in src)]
    return page(q, rows, fault, hi=50)


def get_contact(ws, item_id):
    row = ws.contact_by_id.get(item_id)
    if row is None:
        raise ApiError(404, "Contact not found: %s" % item_id)
    return {"data": public(row)}      # a copy: a wrong_type fault changes this answer only


def list_contact_custom_fields(q):
    check_known(q, set())
    return {"data": [{"name": n, "key": k, "type": t} for n, k, t, _ in CUSTOM_FIELDS]}


# ---------------------------------------------------------------------------
# Per-call objects of the default workspace's calls (AC%08d, n = the number):
#   summary     completed calls with n % 4 != 0
#   transcript  completed calls with n % 3 != 0
#   recordings  completed or forwarded calls: n % 3 recordings (0, 1 or 2);
#               every other call, and these with n % 3 == 0: an empty list
#   voicemail   missed or no-answer calls with n % 3 != 0
# A call that is not in the default workspace (the extras' ACB ids too) is 404
# on all four; a call without the object is 404, but recordings answer [].
# POST /_mock/change's percall op sets what a call answers instead, from then
# on (per_call_object()), for the extras' calls too.
# ---------------------------------------------------------------------------

NEXT_STEPS = ["Send the updated quote.", "Schedule a demo for next week.", "Email the invoice again.",
              "Call back on Friday \u2615"]
SUMMARY_LINES = ["The customer asked about the invoice.", "You agreed on a price of $5 + tax & shipping.",
                 "They want a callback \"after lunch\".", "Line one\nLine two of the summary."]


def call_number(call):
    return int(call["id"][2:])


def own_number(pn):
    for p, num, _ in PHONES + [BULK_PHONE]:
        if p == pn:
            return num
    return None


def call_summary(call):
    n = call_number(call)
    if call["status"] != "completed" or n % 4 == 0:
        return None
    if n % 13 == 1:
        status = "in-progress"
    elif n % 17 == 2:
        status = "failed"
    elif n % 19 == 3:
        status = "absent"
    else:
        status = "completed"
    done = status == "completed"
    body = {"callId": call["id"],
            "nextSteps": [NEXT_STEPS[(n + i) % len(NEXT_STEPS)] for i in range(n % 3)] if done else None,
            "status": status,
            "summary": [SUMMARY_LINES[(n + i) % len(SUMMARY_LINES)] for i in range(1 + n % 3)] if done else None}
    if n % 3 == 0:
        body["jobs"] = [{"icon": "\U0001F4CB", "name": "Lead qualification",
                         "result": {"data": [{"name": "Budget", "value": 5000 + n},
                                             {"name": "Qualified", "value": n % 2 == 0},
                                             {"name": "Next contact", "value": "Friday"}]}}] if done else None
    elif n % 3 == 1:
        body["jobs"] = None
    # n % 3 == 2: no jobs key (it is optional)
    return body


def call_transcript(call):
    n = call_number(call)
    if call["status"] != "completed" or n % 3 == 0:
        return None
    t = parse_ts(call["completedAt"]) + timedelta(seconds=30 + n % 50)
    duration = call["duration"] - 1 + ((n * 37) % 999 + 1) / 1000.0
    status = "in-progress" if n % 11 == 1 else "completed"
    dialogue = None
    if status == "completed":
        dialogue = []
        segs = 0 if n % 29 == 2 else 2 + n % 5
        own = own_number(call["phoneNumberId"])
        user = call["answeredBy"] or call["initiatedBy"] or call["userId"]
        step = duration / max(segs, 1)
        for i in range(segs):
            ours = (i % 2 == 0) == (call["direction"] == "incoming")    # who answered speaks first
            unknown = i == segs - 1 and n % 7 == 0
            dialogue.append({"content": TEXTS[(n + i) % len(TEXTS)],
                             "start": round(i * step, 6), "end": round((i + 0.9) * step, 6),
                             "identifier": None if unknown else (own if ours else call["participants"][0]),
                             "userId": user if ours and not unknown else None})
    return {"callId": call["id"], "createdAt": iso(t), "dialogue": dialogue, "duration": duration,
            "status": status}


def call_recordings(call):
    n = call_number(call)
    if call["status"] not in ("completed", "forwarded"):
        return []
    count = n % 3
    start = parse_ts(call["answeredAt"])
    out = []
    for r in range(count):
        rid = "CR%08d%d" % (n, r + 1)
        part = call["duration"] // count
        rec = {"duration": part if r < count - 1 else call["duration"] - part * (count - 1),
               "id": rid,
               "startTime": iso(start + timedelta(seconds=part * r)),
               "status": "completed",
               "type": "audio/mpeg",
               "url": "https://storage.example.com/recordings/%s.mp3" % rid}
        if r == count - 1 and n % 7 == 0:
            rec.update(duration=None, status="processing", type=None, url=None)
        elif r == count - 1 and n % 11 == 0:
            rec.update(duration=None, startTime=None, status="failed", type=None, url=None)
        out.append(rec)
    return out


def call_voicemail(call):
    n = call_number(call)
    if call["status"] not in ("missed", "no-answer") or n % 3 == 0:
        return None
    vid = "VM%08d" % n
    if n % 5 == 0:           # still processing: null data fields, as documented
        return {"duration": None, "id": vid, "transcript": None, "recordingUrl": None, "status": "in-progress"}
    return {"duration": 3 + n % 90, "id": vid,
            "transcript": None if n % 7 == 3 else "Hi, it's about the invoice %d, call me back. %s"
            % (n, TEXTS[n % len(TEXTS)]),
            "recordingUrl": "https://storage.example.com/voicemails/%s.mp3" % vid, "status": "completed"}


# route: (error family, path parameter, object, kind of /_mock/percall)
PER_CALL = {"call-summaries": ("call_summaries", "callId", "summary", "summaries"),
            "call-transcripts": ("call_transcripts", "id", "transcript", "transcripts"),
            "call-recordings": ("call_recordings", "callId", "recordings", "recordings"),
            "call-voicemails": ("call_voicemails", "callId", "voicemail", "voicemails")}
PERCALL_KINDS = {"summaries": call_summary, "transcripts": call_transcript,
                 "recordings": call_recordings, "voicemails": call_voicemail}


def per_call_object(ws, kind, call):
    """What the route of kind answers for a call of the workspace (None: its
    404): the value of a percall op (POST /_mock/change), else the maker's."""
    values = ws.percall[kind]
    if call["id"] in values:
        return copy.deepcopy(values[call["id"]])     # a fault may change the answer, not the value
    return PERCALL_KINDS[kind](call)


def get_per_call(ws, route, item_id, extras=None):
    _, param, what, kind = PER_CALL[route]
    if not item_id.startswith("AC"):
        raise ApiError(400, "%s does not match ^AC(.*)$" % param,
                       [{"path": "/" + param, "message": "Expected string to match '^AC(.*)$'",
                         "value": item_id, "schema": {"type": "string"}}])
    call = ws.call_by_id.get(item_id)
    if call is not None:
        obj = per_call_object(ws, kind, call)
    elif item_id in ws.percall[kind] and extras is not None and extras.call_by_id(item_id) is not None:
        obj = copy.deepcopy(ws.percall[kind][item_id])     # an extras' call with a percall value
    else:
        raise ApiError(404, "Call not found: %s" % item_id)
    if obj is None:
        raise ApiError(404, "No %s for call %s" % (what, item_id))
    return {"data": obj}


def percall(ws, q, extras=None):
    """GET /_mock/percall?kind=...: the calls of the default workspace that have
    the object ("count", "ids_md5" of their ids sorted and joined by commas),
    and "rows": one per call, the number of recordings for recordings.  The
    percall op's values count (POST /_mock/change), on the extras' calls too
    while the extras have the call."""
    for k in q:
        if k != "kind":
            raise TruthError("unknown parameter %s (known: kind)" % k)
    kind = q.get("kind", [None])
    if len(kind) != 1 or kind[0] not in PERCALL_KINDS:
        raise TruthError("kind must be one of %s" % ", ".join(sorted(PERCALL_KINDS)))
    objs = [(c["id"], per_call_object(ws, kind[0], c)) for c in ws.calls]
    if extras is not None:
        objs += [(cid, v) for cid, v in ws.percall[kind[0]].items()
                 if cid not in ws.call_by_id and extras.call_by_id(cid) is not None]
    ids, rows = [], 0
    for cid, obj in objs:
        if kind[0] == "recordings":
            if obj:
                ids.append(cid)
                rows += len(obj)
        elif obj is not None:
            ids.append(cid)
            rows += 1
    ids.sort()
    return "count %d\nids_md5 %s\nrows %d\n" % (len(ids), hashlib.md5(",".join(ids).encode()).hexdigest(), rows)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QuoMock/1.0"
    sys_version = ""          # keep headers the same size whatever the Python

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's
        # algorithm and the client's delayed ACK add 40 ms to every response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("mock: " + fmt % args + "\n")

    def send_body(self, status, body, ctype="application/json", headers=None, raw=None):
        data = raw if raw is not None else body.encode("utf-8")
        enc = self.headers.get("Accept-Encoding", "")
        extra = dict(headers or {})
        if "gzip" in enc and data:
            data = gzip.compress(data, compresslevel=1, mtime=0)
            extra["Content-Encoding"] = "gzip"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error_body(self, family, status, message, errors=None, title=None):
        code, dtitle = ERRORS[family].get(status, ("0000%03d" % status, HTTPStatus(status).phrase))
        body = {"message": message, "code": code, "status": status, "docs": DOCS,
                "title": title or dtitle, "trace": "trace-%s-%d" % (family, status)}
        if errors:
            body["errors"] = errors
        if status in (400, 402, 403):
            body["description"] = title or dtitle
        return json.dumps(body)

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(n) if n else b""
        if self.path == "/_mock/reset":
            with st.change_lock, st.lock:
                st.ws, st.ids = st.base_ws, dict(FIRST_IDS)
                st.faults, st.log, st.headers, st.connections = [], [], [], 0
                st.generation += 1
                st.rate_rps, st.arrivals = 0, []
                st.key_arrivals = {}
                st.max_in_flight = st.in_flight
                st.extras = None
            return self.send_body(200, "{}", raw=b"{}")
        if self.path == "/_mock/clearlog":
            with st.lock:
                st.log = []
                st.generation += 1
            return self.send_body(200, "{}", raw=b"{}")
        if self.path == "/_mock/workspace":
            with st.change_lock:
                try:
                    ex = Extras(st.ws, json.loads(payload or b"{}"))
                except ValueError as e:     # bad JSON too
                    return self.send_text(400, "workspace: %s\n" % e)
                with st.lock:
                    st.extras = ex if ex.bulk or ex.group or ex.users else None
            return self.send_text(200, ex.summary())
        if self.path == "/_mock/change":
            try:
                ops = json.loads(payload or b"null")
            except ValueError as e:
                return self.send_text(400, "change: %s\n" % e)
            now = datetime.now(timezone.utc)
            now -= timedelta(microseconds=now.microsecond % 1000)
            with st.change_lock:
                with st.lock:
                    ws, ids = st.ws, dict(st.ids)
                ws = copy_workspace(ws)
                try:
                    lines = change_workspace(ws, ops if isinstance(ops, list) else [ops], ids, st.extras, now)
                except ChangeError as e:
                    return self.send_text(400, "change: %s\n" % e)
                with st.lock:
                    st.ws, st.ids = ws, ids
                    if st.extras is not None:
                        st.extras = st.extras.rebased(ws)
            return self.send_text(200, "".join(l + "\n" for l in lines))
        if self.path == "/_mock/faults":
            spec = json.loads(payload)
            with st.lock:
                if spec["action"] == "clear":
                    st.faults = []
                elif spec["action"] == "enforce_rate":
                    st.rate_rps = int(spec.get("rps", 10))   # like the real API: 429 past N per second
                else:
                    st.faults.append(Fault(spec))
            return self.send_body(200, "{}", raw=b"{}")
        self.send_body(404, "{}")

    def do_GET(self):
        st = self.server.state
        if self.path.startswith("/v1/"):
            with st.lock:
                st.in_flight += 1
                st.max_in_flight = max(st.max_in_flight, st.in_flight)
            try:
                return self.api_get()
            finally:
                with st.lock:
                    st.in_flight -= 1
        return self.api_get()

    def send_text(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def api_get(self):
        st = self.server.state
        if self.path.startswith("/_mock/truth"):
            path, _, query = self.path.partition("?")
            if path == "/_mock/truth":
                try:
                    return self.send_text(200, truth(st.ws, st.extras, parse_qs(query, keep_blank_values=True)))
                except TruthError as e:
                    return self.send_text(400, "truth: %s\n" % e)
        if self.path.startswith("/_mock/percall"):
            path, _, query = self.path.partition("?")
            if path == "/_mock/percall":
                try:
                    return self.send_text(200, percall(st.ws, parse_qs(query, keep_blank_values=True), st.extras))
                except TruthError as e:
                    return self.send_text(400, "percall: %s\n" % e)
        if self.path == "/_mock/flight":
            with st.lock:
                text = "max in flight %d\n" % st.max_in_flight
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())
            return
        if self.path in ("/_mock/log", "/_mock/stats"):
            with st.lock:
                if self.path == "/_mock/log":
                    text = "".join(l + "\n" for l in st.log)
                else:
                    kinds = sorted(set(st.headers))
                    peak, j = 0, 0
                    for i, t in enumerate(st.arrivals):
                        while st.arrivals[j] <= t - 1.0:
                            j += 1
                        peak = max(peak, i - j + 1)
                    text = "connections %d\n" % st.connections
                    if self.path == "/_mock/stats" and st.rate_rps:
                        text += "max requests in one second %d\n" % peak
                        key_peak = 0
                        for times in st.key_arrivals.values():
                            j = 0
                            for i, t in enumerate(times):
                                while times[j] <= t - 1.0:
                                    j += 1
                                key_peak = max(key_peak, i - j + 1)
                        text += "max requests in one second for one key %d\n" % key_peak
                    text += "".join(
                        "user-agent=%s gzip=%s authorization=%s\n" % k for k in kinds)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())
            return
        line = "GET " + self.path
        with st.lock:
            self._generation = st.generation
        path, _, query = self.path.partition("?")
        family = "calls"
        if path.startswith("/v1/messages"):
            family = "messages"
        elif path.startswith("/v1/conversations"):
            family = "conversations"
        elif path.startswith("/v1/users"):
            family = "users"
        elif path.startswith("/v1/tasks"):
            family = "tasks"
        elif path == "/v1/phone-numbers" or path.startswith("/v1/phone-numbers/"):
            family = "phone_numbers"
        elif path == "/v1/contacts" or path.startswith("/v1/contacts/"):
            family = "contacts"
        elif path == "/v1/contact-custom-fields":
            family = "contact_custom_fields"
        elif path.startswith("/v1/call-") and path.split("/")[2] in PER_CALL:
            family = PER_CALL[path.split("/")[2]][0]
        fault = st.take_fault(line)
        status = 200
        limited = False
        with st.lock:
            now = time.monotonic()
            st.arrivals.append(now)
            st.key_arrivals.setdefault(self.headers.get("Authorization"), []).append(now)
            if st.rate_rps:
                recent = [t for t in st.arrivals[-(st.rate_rps + 1):] if t > now - 1.0]
                limited = len(recent) > st.rate_rps
            if not getattr(self, "_counted", False):
                self._counted = True          # one handler per TCP connection
                st.connections += 1
            auth = self.headers.get("Authorization")
            st.headers.append((self.headers.get("User-Agent"),
                               "yes" if "gzip" in (self.headers.get("Accept-Encoding") or "") else "no",
                               "bare-key" if auth == st.key else "wrong"))
        try:
            if fault is not None:
                self.pre_fault(fault)
            if self.headers.get("Authorization") != st.key:
                raise ApiError(401, "Invalid API key")
            if limited:
                self.record(line, 429)
                return self.send_body(429, self.error_body(family, 429, "Rate limit exceeded",
                                                           title="Too Many Requests"),
                                      headers={"Retry-After": "1"})
            # form-urlencoded: '+' is a space, arrays are repeated keys
            q = parse_qs(query, keep_blank_values=True)
            pf = fault if fault is not None and fault.action in ("short_pages", "same_token", "cycle") else None
            ex = st.extras
            if path == "/v1/calls":
                body = list_calls(st.ws, q, pf, ex)
            elif path == "/v1/messages":
                body = list_messages(st.ws, q, pf, ex)
            elif path == "/v1/conversations":
                body = list_conversations(st.ws, q, pf, ex)
            elif path == "/v1/tasks":
                body = list_tasks(st.ws, q, pf)
            elif path.startswith("/v1/tasks/"):
                body = get_item(st.ws.task_by_id, unquote(path[len("/v1/tasks/"):]), "TK")
            elif path == "/v1/users":
                body = list_users(q, pf, ex)
            elif path.startswith("/v1/users/"):
                body = get_item({u["id"]: u for u in all_users(ex)}, unquote(path[len("/v1/users/"):]), "US")
            elif path.startswith("/v1/calls/"):
                body = get_item(st.ws.call_by_id, unquote(path[len("/v1/calls/"):]), "AC",
                                ex.call_by_id if ex is not None else None)
            elif path.startswith("/v1/messages/"):
                body = get_item(st.ws.msg_by_id, unquote(path[len("/v1/messages/"):]), "AC",
                                ex.msg_by_id if ex is not None else None)
            elif path == "/v1/phone-numbers":
                body = list_phone_numbers(q, ex)
            elif path.startswith("/v1/phone-numbers/"):
                body = get_item({n["id"]: n for n in all_phone_numbers(ex)},
                                unquote(path[len("/v1/phone-numbers/"):]), "PN")
            elif path == "/v1/contacts":
                body = list_contacts(st.ws, q, pf)
            elif path.startswith("/v1/contacts/"):
                body = get_contact(st.ws, unquote(path[len("/v1/contacts/"):]))
            elif path == "/v1/contact-custom-fields":
                body = list_contact_custom_fields(q)
            elif family in PER_CALL_FAMILIES and path.count("/") == 3:
                route = path.split("/")[2]
                body = get_per_call(st.ws, route, unquote(path[len("/v1/%s/" % route):]), ex)
            else:
                # not the API: a generic web framework's 404, not Quo's documented body
                self.record(line, 404)
                return self.send_body(404, json.dumps({
                    "message": "Route GET:%s not found" % path, "error": "Not Found", "statusCode": 404}))
        except ApiError as e:
            status = e.status
            if fault is not None and (fault.action == "raw" or (
                    status == 404 and family in PER_CALL_FAMILIES and fault.action == "status")):
                sent = self.post_fault(fault, family, None)
                self.record(line, sent)
                return
            self.record(line, status)
            return self.send_body(status, self.error_body(family, status, e.message, e.errors))
        except _Dropped:
            self.record(line, "dropped")
            return
        sent = self.post_fault(fault, family, body) if fault is not None else None
        self.record(line, sent if sent is not None else status)
        if sent is None:
            self.send_body(200, json.dumps(body))

    def record(self, line, status):
        st = self.server.state
        with st.lock:
            if self._generation == st.generation:
                st.log.append("%s -> %s" % (line, status))

    def pre_fault(self, f):
        a = f.action
        if a == "hang":
            time.sleep(float(f.spec.get("seconds", 30)))
        elif a == "latency":
            time.sleep(float(f.spec.get("seconds", 0.2)))
        elif a == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise _Dropped()

    def post_fault(self, f, family, body):
        """Replace a good answer with a broken one; the status sent ("truncated": none), or None."""
        a = f.action
        s = f.spec
        if a == "status":
            code = int(s.get("status", 500))
            hdr = {"Retry-After": str(s["retry_after"])} if "retry_after" in s else None
            self.send_body(code, self.error_body(family, code, s.get("message", "Injected failure"),
                                                 title=s.get("title")), headers=hdr)
            return code
        elif a == "alt_error":
            code = int(s.get("status", 400))
            self.send_body(code, json.dumps({"error": {"message": s.get("message", "Something failed"),
                                                       "key": s.get("key", "bad_request"),
                                                       "trace": "alt-trace-1"}}))
            return code
        elif a == "badjson":
            self.send_body(200, '{"data": [{"id": "AC1", ')
        elif a == "truncate":
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return "truncated"      # logged as such: no client read an answer
        elif a == "html":
            self.send_body(200, "<html><body>Gateway</body></html>", ctype="text/html")
        elif a == "wrong_type":
            rows = body["data"] if isinstance(body["data"], list) else [body["data"]]
            if rows:
                rows[0][s.get("field", "duration")] = s.get("value", "abc")
            self.send_body(200, json.dumps(body))
        elif a == "raw":
            # "latin1": each character of the body is the byte it numbers
            # (U+00FF is 0xff), for bodies that are not UTF-8
            data = s["body"].encode("latin-1") if s.get("latin1") else None
            self.send_body(int(s.get("status", 200)), s["body"], raw=data)
            return int(s.get("status", 200))
        elif a == "deep":
            depth = int(s.get("depth", 10000))
            rows = body["data"] if isinstance(body["data"], list) else [body["data"]]
            if rows:
                rows[0]["nested"] = "@@"
            text = json.dumps(body).replace('"@@"', "[" * depth + "]" * depth)
            self.send_body(200, text)
        elif a == "many":
            # a page of N empty objects (or of "element"), after "prefix":
            # cheap to send, costly to parse
            n = int(s.get("count", 300000))
            self.send_body(200, s.get("prefix", "") + '{"data": [' + ",".join([s.get("element", "{}")] * n) +
                           '], "nextPageToken": null}')
        elif a == "huge":
            rows = body["data"] if isinstance(body["data"], list) else [body["data"]]
            if rows:
                rows[0][s.get("field", "text")] = "x" * int(s.get("bytes", 1000000))
            self.send_body(200, json.dumps(body))
        elif a == "echo_key":
            code = int(s.get("status", 401))
            self.send_body(code, json.dumps({
                "message": "Invalid key %s" % self.headers.get("Authorization"), "code": "0100401",
                "status": code, "docs": DOCS, "title": "Unauthorized %s" % self.headers.get("Authorization"),
                "trace": "t-%s" % self.headers.get("Authorization")}))
            return code
        else:
            return None
        return 200


class _Dropped(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key", default="test-key-123")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    # a listen backlog for many sessions connecting at once (the default, 5,
    # drops SYNs past it, and the client's retry comes a second later)
    ThreadingHTTPServer.request_queue_size = 128
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args.key, Workspace())
    srv.verbose = args.verbose
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    print("mock Quo API on http://127.0.0.1:%d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
