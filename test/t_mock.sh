#!/usr/bin/env bash
# The mock Quo API itself: its ground truth equals what a client listing
# workspace-wide gets (also after POST /_mock/change, which reset undoes), and
# its users endpoint pages and validates as the OpenAPI document says
# (test/mock_selfcheck.py).  Run by test/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 test/mock_selfcheck.py --conversations 300 --messages 50
