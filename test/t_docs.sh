#!/usr/bin/env bash
# The documentation's links hold: every relative link in README.md and
# docs/*.md names a file that exists, every #anchor names a heading of its
# target (GitHub's anchors: lowercase, spaces to '-', punctuation dropped,
# a repeated heading gets -1, -2, ...), every docs/*.md is linked from
# README.md, and README.md stays a front page (at most 250 lines).
# No network, no cluster.  Run by test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import glob, os, re, sys

MAX_README_LINES = 250
files = ["README.md"] + sorted(glob.glob("docs/*.md"))
errors = []

def strip_fences(text):
    """The lines outside fenced code blocks, with their line numbers."""
    out, fence = [], None
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            out.append((n, line))
    return out

def slug(heading):
    """GitHub's anchor for a heading's rendered text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = re.sub(r"<[^>]+>", "", text)                          # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)                          # punctuation (keeps _ and -)
    return text.replace(" ", "-")

anchors_cache = {}
def anchors(path):
    if path not in anchors_cache:
        seen, result = {}, set()
        for _, line in strip_fences(open(path, encoding="utf-8").read()):
            m = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            base = slug(m.group(1))
            k = seen.get(base, 0)
            result.add(base if k == 0 else "%s-%d" % (base, k))
            seen[base] = k + 1
        # explicit anchors: <a name="x"></a> or id="x"
        for m in re.finditer(r'<a\s+(?:name|id)="([^"]+)"', open(path, encoding="utf-8").read()):
            result.add(m.group(1))
        anchors_cache[path] = result
    return anchors_cache[path]

def links(path):
    """(line, target) of every inline and reference link outside code."""
    for n, line in strip_fences(open(path, encoding="utf-8").read()):
        m = re.match(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", line)
        if m:
            yield n, m.group(1)
            continue
        line = re.sub(r"(`+)(.+?)\1", "code", line)                 # inline code is not a link
        for m in re.finditer(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)", line):
            yield n, m.group(1)

linked_from_readme = set()
for path in files:
    for n, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):          # https:, mailto:
            continue
        where = "%s:%d" % (path, n)
        if not target:
            errors.append("%s: empty link" % where); continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(dest):
            errors.append("%s: link to %s: no such file" % (where, target)); continue
        if path == "README.md":
            linked_from_readme.add(dest)
        if anchor:
            if not dest.endswith(".md") or os.path.isdir(dest):
                errors.append("%s: link to %s: an anchor into a file that is not Markdown" % (where, target))
            elif anchor not in anchors(dest):
                errors.append("%s: link to %s: %s has no heading with the anchor #%s" % (where, target, dest, anchor))

for doc in files[1:]:
    if doc not in linked_from_readme:
        errors.append("%s is not linked from README.md" % doc)

n_readme = open("README.md", encoding="utf-8").read().count("\n")
if n_readme > MAX_README_LINES:
    errors.append("README.md has %d lines, more than %d: move reference text into docs/" % (n_readme, MAX_README_LINES))

if errors:
    print("\n".join(errors)); sys.exit(1)
total = sum(1 for p in files for _ in links(p))
print("docs: %d files, %d links, all resolve; README.md %d lines" % (len(files), total, n_readme))
PY
