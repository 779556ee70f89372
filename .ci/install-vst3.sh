#!/usr/bin/env bash
# Real VST3 plugins for the tests (tests/test_plugins_vst3.py): Dragonfly Reverb (stereo) and
# ZamComp / ZamDelay (mono) from Debian's packages. Debian 13 (trixie) ships them as VST3; on an
# older Debian the trixie .debs are unpacked into /usr/local/lib/vst3 (they need only libc 2.35
# and common X11/GL libraries, installed from the machine's own release). Needs root and
# apt-get; anything else, or any failure, is reported and skipped: the tests then skip.
set -u
DEST=/usr/local/lib/vst3
log() { echo "install-vst3: $*"; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "skipped (needs apt-get and root)"; exit 0
fi
have() { [ -e "/usr/lib/vst3/$1.vst3" ] || [ -e "$DEST/$1.vst3" ]; }
if have DragonflyRoomReverb && have ZamComp && have ZamDelay; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
# 1. the machine's own release has them (trixie and later)
if apt-get install -y -qq dragonfly-reverb-vst3 zam-plugins >/dev/null 2>&1 && have ZamComp; then
  log "installed from apt"; exit 0
fi
# 2. unpack trixie's packages
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
apt-get install -y -qq xz-utils curl libgl1 libx11-6 libxext6 libxrandr2 libsamplerate0 libzita-convolver4 >/dev/null 2>&1 \
  || { log "skipped (runtime libraries not installable)"; exit 0; }
curl -fsSL "$mirror/dists/trixie/main/binary-amd64/Packages.xz" -o "$tmp/P.xz" || { log "skipped (no trixie index)"; exit 0; }
for pkg in dragonfly-reverb-vst3 zam-plugins; do
  file=$(xz -dc "$tmp/P.xz" | awk -v p="$pkg" '$1=="Package:"{on=($2==p)} on && $1=="Filename:"{print $2; exit}')
  [ -n "$file" ] || { log "skipped ($pkg not in trixie)"; exit 0; }
  curl -fsSL "$mirror/$file" -o "$tmp/$pkg.deb" && dpkg-deb -x "$tmp/$pkg.deb" "$tmp/root" \
    || { log "skipped (could not fetch $pkg)"; exit 0; }
done
mkdir -p "$DEST"
for b in DragonflyRoomReverb ZamComp ZamDelay; do cp -r "$tmp/root/usr/lib/vst3/$b.vst3" "$DEST/"; done
log "unpacked trixie's VST3 bundles into $DEST"
