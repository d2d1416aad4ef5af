#!/usr/bin/env bash
# Vendor Swagger UI's prebuilt files from the npm registry tarball (swagger-ui-dist) into
# service/static, so /docs is served by us and works offline, never from a CDN.
# service/api/docs.py names the version: change SWAGGER_UI_VERSION there when re-vendoring.
set -euo pipefail
VERSION="${1:-5.35.0}"
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "swagger-ui-dist@$VERSION" --silent >/dev/null && tar xzf "swagger-ui-dist-$VERSION.tgz")
dest="service/static/vendor/swagger-ui-$VERSION"
rm -rf "$dest"; mkdir -p "$dest"
src="$work/package"
cp "$src/swagger-ui-bundle.js" "$src/swagger-ui.css" "$src/favicon-32x32.png" "$src/LICENSE" "$dest/"
[ -f "$src/NOTICE" ] && cp "$src/NOTICE" "$dest/"
echo "swagger-ui-dist $VERSION vendored into $dest"
