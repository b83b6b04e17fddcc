#!/usr/bin/env bash
# Install coalition-node and start a demo node on embedded SQLite at http://127.0.0.1:8000/graphql.
# The node lives in ./demo-node (config, data, key); run again to restart it with the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
mkdir -p demo-node
cd demo-node
if [ ! -f coalition.toml ]; then
  ../.venv/bin/coalition init --name "Demo Coalition" --region "East Africa"
fi
../.venv/bin/coalition demo
export COALITION_DEV_MODE=true  # GraphiQL at /graphql in a browser
exec ../.venv/bin/coalition serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
