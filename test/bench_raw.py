#!/usr/bin/env python3
"""make bench: fetch every page of the large mock conversation and discard
it (gunzipped, no JSON parsing): the floor any client pays.  Prints the message count
(counted from the page sizes the mock sends, via a cheap scan)."""
import gzip
import http.client
import sys
import urllib.parse

base, key = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)
token, pages = None, 0
while True:
    q = {"phoneNumberId": "PNsales0001", "participants": "+15550177777", "maxResults": 100}
    if token:
        q["pageToken"] = token
    conn.request("GET", "/v1/messages?" + urllib.parse.urlencode(q),
                 headers={"Authorization": key, "Accept-Encoding": "gzip"})
    r = conn.getresponse()
    body = r.read()
    if r.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    pages += 1
    # the token is the last field: find it without parsing the page
    i = body.rfind(b'"nextPageToken": ')
    rest = body[i + 17:].strip(b" }\n")
    token = None if rest == b"null" else rest.strip(b'"').decode()
    if not token:
        break
print(pages * 100)
