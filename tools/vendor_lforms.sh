#!/usr/bin/env bash
# Vendor LHC-Forms' prebuilt files from the npm registry tarball into service/static (served by
# us, never from a CDN). The npm package's dependency tree is not needed for its built bundle.
set -euo pipefail
VERSION="${1:-40.1.3}"
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "lforms@$VERSION" --silent >/dev/null && tar xzf "lforms-$VERSION.tgz")
dest="service/static/vendor/lforms-$VERSION"
rm -rf "$dest"; mkdir -p "$dest/fhir/R4"
src="$work/package/dist/lforms"
cp "$src/webcomponent/lhc-forms.js" "$src/webcomponent/styles.css" "$src/webcomponent/assets/lib/zone.min.js" \
   "$src/webcomponent/down_arrow_gray_10_10.png" "$src/webcomponent/magnifying_glass.png" "$dest/"
cp "$src/fhir/R4/lformsFHIR.min.js" "$dest/fhir/R4/"
cp "$work/package/LICENSE.md" "$dest/LICENSE.md"
echo "lforms $VERSION vendored into $dest"
