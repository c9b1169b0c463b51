#!/usr/bin/env bash
# Installs the offline real datasets rnnkit's built-in loaders read (see README "Datasets").
# Usage: scripts/setup_data.sh PYTHON
set -euo pipefail
PY=${1:-python3}
# UCR/UEA .ts files ship inside the sktime wheel; --no-deps avoids ~430 MB of sktime's own needs.
"$PY" -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('sktime') else 1)" 2>/dev/null \
  || "$PY" -m pip install -q --no-deps "sktime==1.2.0"
# The King James Bible text (char-level LM corpus) comes from Debian's bible-kjv packages.
if ! command -v bible >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get install -y -qq bible-kjv bible-kjv-text >/dev/null 2>&1 \
      || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bible-kjv bible-kjv-text >/dev/null 2>&1)) \
      || echo "note: could not install bible-kjv (the 'kjv' dataset); run: apt-get install bible-kjv bible-kjv-text"
  else
    echo "note: the 'kjv' dataset needs: sudo apt-get install bible-kjv bible-kjv-text"
  fi
fi
