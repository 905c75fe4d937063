#!/usr/bin/env bash
# Renders a report's index.html to a PNG as a person sees it in a browser:
# Debian's Chromium in headless mode (`apt-get install chromium`), no
# network, no script (the reports have none). The pictures of docs/ come
# from this script.
#
#   scripts/render-report.sh out/compare docs/img/compare.png [WIDTH,HEIGHT]
set -euo pipefail
dir=${1:?report directory}
png=${2:?output PNG}
size=${3:-1100,2400}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "render-report: no chromium on PATH (Debian: apt-get install chromium)" >&2
    exit 1
fi
[ -f "$dir/index.html" ] || { echo "render-report: $dir/index.html does not exist" >&2; exit 1; }
mkdir -p "$(dirname "$png")"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="$size" --screenshot="$(realpath -m "$png")" \
    "file://$(realpath "$dir")/index.html" 2>/dev/null
echo "wrote $png"
