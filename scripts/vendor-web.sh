#!/usr/bin/env bash
# Copies the web page's libraries from npm (web/package-lock.json pins them) into the service's wwwroot/vendor, each with its
# license, so building and serving the page needs no npm and no network. Run after changing web/package.json; commit the result.
#   bash scripts/vendor-web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null 2>&1 || { echo "vendor-web: npm is required" >&2; exit 1; }
(cd web && npm ci --no-audit --no-fund --loglevel=error)
modules=web/node_modules
out=src/ConversationLedger.Server/wwwroot/vendor
rm -rf "$out"
mkdir -p "$out"

# name: strips the source-map comment (the maps are not shipped), so the browser asks for no missing file.
copy() { sed '/^\/\/# sourceMappingURL=/d' "$1" > "$out/$2"; }

# Chart.js as its UMD bundle (it includes @kurkle/color): one classic script that defines window.Chart.
copy "$modules/chart.js/dist/chart.umd.min.js" chart.umd.min.js
cp "$modules/chart.js/LICENSE.md" "$out/chart.js.LICENSE.md"
cp "$modules/@kurkle/color/LICENSE.md" "$out/kurkle-color.LICENSE.md"
# marked and DOMPurify as ES modules, named *.js (every server maps that to JavaScript) without a part that reads as a
# culture (".es." would make MSBuild embed the file as a Spanish satellite resource).
copy "$modules/marked/lib/marked.esm.js" marked.esm.js
cp "$modules/marked/LICENSE" "$out/marked.LICENSE"
copy "$modules/dompurify/dist/purify.es.mjs" purify.js
cp "$modules/dompurify/LICENSE" "$out/dompurify.LICENSE"
cp "$modules/dompurify/LICENSE-MPL" "$out/dompurify.LICENSE-MPL"

{
  echo "Vendored by scripts/vendor-web.sh from web/package-lock.json; do not edit by hand."
  for p in chart.js @kurkle/color marked dompurify; do
    node -e 'const p=require(process.argv[1]); console.log(`${p.name} ${p.version} (${p.license})`)' "$PWD/$modules/$p/package.json"
  done
} > "$out/VERSIONS.txt"
echo "vendored into $out:"
cat "$out/VERSIONS.txt"
