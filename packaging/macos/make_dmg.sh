#!/usr/bin/env bash
# Wrap "dist/Model Size Lab.app" (from build_app.sh) into dist/ModelSizeLab-<version>-macos-<arch>.dmg:
# a compressed disk image with the app and a link to /Applications to drag it onto.
#
# UNTESTED: written without a Mac to run it on; see packaging/README.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
APP="dist/Model Size Lab.app"
[ -d "$APP" ] || { echo "make_dmg.sh: no $APP; run packaging/macos/build_app.sh first" >&2; exit 1; }

VERSION=$("$PYTHON" -c "import sys; sys.path.insert(0, '.'); import core; print(core.__version__)")
ARCH=$(uname -m)
DMG="dist/ModelSizeLab-$VERSION-macos-$ARCH.dmg"
STAGE=build/macos/dmg

rm -rf "$STAGE" "$DMG"
mkdir -p "$STAGE"
# ditto keeps the symlinks, permissions and extended attributes of the signed bundle
ditto "$APP" "$STAGE/Model Size Lab.app"
ln -s /Applications "$STAGE/Applications"
# UDZO (zlib) opens on every macOS; ULFO (lzfse) is smaller but needs 10.11+, which 12+ has anyway
hdiutil create -volname "Model Size Lab $VERSION" -srcfolder "$STAGE" -fs HFS+ -format ULFO -ov "$DMG"
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
fi
hdiutil verify "$DMG"
rm -rf "$STAGE"
echo "built $DMG ($(du -h "$DMG" | cut -f1))"
