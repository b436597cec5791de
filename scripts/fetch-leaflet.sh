#!/bin/sh
# Re-fetch the vendored Leaflet (the console's map) from the npm registry, reproducibly: a pinned
# version whose tarball must match npm's published sha512, and only its dist files are kept.
# The console never loads assets from a CDN: call centres may run on a closed network.
set -eu
VERSION=1.9.4
INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
DEST="$(cd "$(dirname "$0")/.." && pwd)/dispatcher/web/console/static/vendor/leaflet"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack "leaflet@$VERSION" --silent >/dev/null
ACTUAL="sha512-$(openssl dgst -sha512 -binary "leaflet-$VERSION.tgz" | base64 -w0)"
if [ "$ACTUAL" != "$INTEGRITY" ]; then
    echo "leaflet-$VERSION.tgz does not match npm's integrity: $ACTUAL" >&2
    exit 1
fi
tar -xzf "leaflet-$VERSION.tgz"
rm -rf "$DEST"
mkdir -p "$DEST/images"
cp package/dist/leaflet.js package/dist/leaflet.css package/LICENSE "$DEST/"
cp package/dist/images/*.png "$DEST/images/"
echo "$VERSION" > "$DEST/VERSION"
echo "leaflet $VERSION vendored into $DEST"
