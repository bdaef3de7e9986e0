#!/usr/bin/env bash
# META.json is valid PGXN metadata (meta-spec 1.0.0) and agrees with the
# control file, the shipped SQL scripts and the library's version; every
# version after the first has an upgrade script from the one before it.
# Run by test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import json, re, os, sys
m = json.load(open("META.json"))
errors = []
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    if key not in m:
        errors.append("missing %s" % key)
semver = re.compile(r"^\d+\.\d+\.\d+$")
if not semver.match(m.get("version", "")):
    errors.append("version is not semantic: %r" % m.get("version"))
if m.get("meta-spec", {}).get("version") != "1.0.0":
    errors.append("meta-spec version is not 1.0.0")
licenses = {"postgresql", "bsd", "mit", "gpl_3", "apache_2_0"}
if m.get("license") not in licenses:
    errors.append("license %r is not a PGXN license string" % m.get("license"))
control = open("quo_fdw.control").read()
default = re.search(r"default_version\s*=\s*'([^']+)'", control).group(1)
header = open("src/quo_fdw.h").read()
library = re.search(r'#define QUO_FDW_VERSION "([^"]+)"', header).group(1)
ext = m["provides"].get("quo_fdw", {})
for what, v in (("control default_version", default), ("QUO_FDW_VERSION", library),
                ("provides.quo_fdw.version", ext.get("version"))):
    if v != m["version"]:
        errors.append("%s is %s, META.json version is %s" % (what, v, m["version"]))
if not os.path.exists(ext.get("file", "")):
    errors.append("provides.quo_fdw.file %s does not exist" % ext.get("file"))
req = m.get("prereqs", {}).get("runtime", {}).get("requires", {})
for need in ("PostgreSQL", "libcurl", "json-c"):
    if need not in req:
        errors.append("prereqs.runtime.requires lacks %s" % need)
# every shipped version is in the Makefile's DATA or DATA_built, with an upgrade path
make = open("Makefile").read()
extversion = re.search(r"^EXTVERSION\s*=\s*(\S+)", make, re.M).group(1)
if extversion != default:
    errors.append("Makefile's EXTVERSION is %s, the control file's default_version %s" % (extversion, default))
# DATA: the scripts as they shipped; DATA_built: this release's, which the
# build assembles from src/sql (they exist once make has run)
data = []
for var in ("DATA", "DATA_built"):
    data += re.search(r"^%s\s*=\s*(.*)$" % var, make, re.M).group(1).replace("$(EXTVERSION)", extversion).split()
versions = sorted({f[len("quo_fdw--"):-4] for f in data if "--" not in f[len("quo_fdw--"):]},
                  key=lambda v: [int(x) for x in v.split(".")])
steps = {}
for f in data:
    parts = f[len("quo_fdw--"):-4].split("--")
    if len(parts) == 2:
        steps.setdefault(parts[0], []).append(parts[1])
def reaches(a, b):
    todo, seen = [a], set()
    while todo:
        v = todo.pop()
        if v == b:
            return True
        if v not in seen:
            seen.add(v)
            todo += steps.get(v, [])
    return False
for a, b in zip(versions, versions[1:]):
    if not reaches(a, b):
        errors.append("no chain of upgrade scripts from %s to %s in DATA" % (a, b))
# the default version installs from the newest install script and the
# upgrade scripts after it (PostgreSQL runs them in turn)
path = versions[-1]
while path != default:
    nxt = [f[len("quo_fdw--%s--" % path):-4] for f in data if f.startswith("quo_fdw--%s--" % path)]
    if len(nxt) != 1:
        errors.append("no single upgrade path from the newest install script %s to the default %s" % (versions[-1], default))
        break
    path = nxt[0]
for f in data:
    if not os.path.exists(f):
        errors.append("DATA names %s, which does not exist" % f)
if errors:
    print("\n".join(errors)); sys.exit(1)
print("META.json valid: %s %s, install scripts %s, default %s" % (m["name"], m["version"], " -> ".join(versions), default))
PY
