#!/bin/sh
# llmsvc offline installer: run it from an extracted bundle (tar xf llmsvc-*.tar).
# Verifies the bundle, installs it under PREFIX/versions/<version> with PREFIX/current pointing at
# it, runs the database migrations, creates the data dir (0700) and the admin key (0600), imports
# the bundled models and installs the systemd unit. Idempotent; an upgrade keeps the data and the
# previous version (--rollback goes back to it).
set -eu

usage() {
  cat <<'USAGE'
Usage: install.sh [--prefix DIR] [--data-dir DIR] [--no-service] [--user] [--rollback] [--public-key FILE]
  --prefix DIR       where llmsvc is installed (default /opt/llmsvc; with --user ~/.local/opt/llmsvc)
  --data-dir DIR     database, keys and models (default /var/lib/llmsvc; with --user ~/.local/share/llmsvc)
  --no-service       do not install the systemd unit
  --user             a per-user install and a systemd --user unit (no root needed)
  --rollback         switch back to the previously installed version
  --public-key FILE  require the bundle's ed25519 signature by this key
USAGE
}

die() { echo "install.sh: $*" >&2; exit 1; }

BUNDLE=$(cd "$(dirname "$0")" && pwd)
PREFIX=""; DATA_DIR=""; SERVICE=1; USER_MODE=0; ROLLBACK=0; PUBKEY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --data-dir) [ $# -ge 2 ] || die "--data-dir needs a directory"; DATA_DIR=$2; shift 2 ;;
    --no-service) SERVICE=0; shift ;;
    --user) USER_MODE=1; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    --public-key) [ $# -ge 2 ] || die "--public-key needs a file"; PUBKEY=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
if [ "$USER_MODE" = 1 ]; then
  : "${PREFIX:=$HOME/.local/opt/llmsvc}"; : "${DATA_DIR:=${XDG_DATA_HOME:-$HOME/.local/share}/llmsvc}"
else
  : "${PREFIX:=/opt/llmsvc}"; : "${DATA_DIR:=/var/lib/llmsvc}"
fi
mkdir -p "$PREFIX/versions" "$PREFIX/bin"
PREFIX=$(cd "$PREFIX" && pwd)
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
chmod 700 "$DATA_DIR"

# llmsvc of one installed version, with its own Node.js (no system Node needed).
run_version() { v=$1; shift; "$PREFIX/versions/$v/node/bin/node" "$PREFIX/versions/$v/app/dist/apps/cli/main.js" "$@"; }

switch_link() { # name target: atomic symlink swap
  ln -sfn "$2" "$PREFIX/.$1.tmp" && mv -fT "$PREFIX/.$1.tmp" "$PREFIX/$1"
}

restart_service() {
  [ -f "$UNIT_FILE" ] || return 0
  if [ "$USER_MODE" = 1 ]; then systemctl --user restart llmsvc || true; else systemctl restart llmsvc || true; fi
}

if [ "$USER_MODE" = 1 ]; then UNIT_FILE="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/llmsvc.service"; else UNIT_FILE=/etc/systemd/system/llmsvc.service; fi

if [ "$ROLLBACK" = 1 ]; then
  [ -L "$PREFIX/previous" ] || die "no previous version in $PREFIX to roll back to."
  PREV=$(basename "$(readlink "$PREFIX/previous")"); CUR=$(basename "$(readlink "$PREFIX/current")")
  run_version "$PREV" migrate --check --data-dir "$DATA_DIR" >/dev/null \
    || die "cannot roll back to $PREV: the database was migrated to a newer schema by $CUR (see above). Restore the backup taken before the upgrade, or stay on $CUR."
  switch_link current "versions/$PREV"
  switch_link previous "versions/$CUR"
  restart_service
  echo "Rolled back from llmsvc $CUR to $PREV ($PREFIX/current). $CUR is kept: run install.sh --rollback again to return to it."
  exit 0
fi

# 1. Verify every file of the bundle before touching anything.
NODE="$BUNDLE/node/bin/node"
[ -x "$NODE" ] && [ -f "$BUNDLE/manifest.json" ] || die "$BUNDLE is not an llmsvc bundle (no node/bin/node or manifest.json)."
# First with coreutils, so a changed byte in the bundled Node.js or verifier cannot hide itself...
if command -v sha256sum >/dev/null 2>&1 && [ -f "$BUNDLE/SHA256SUMS" ]; then
  (cd "$BUNDLE" && sha256sum --quiet --strict -c SHA256SUMS) \
    || die "the bundle in $BUNDLE fails verification (the files named FAILED above changed): nothing was installed. Copy the bundle again and re-run."
fi
# ...then with llmsvc: the manifest, SHA256SUMS against it, files not in the manifest, the signature.
"$NODE" "$BUNDLE/app/dist/apps/cli/main.js" bundle verify "$BUNDLE" ${PUBKEY:+--public-key "$PUBKEY"} \
  || die "the bundle in $BUNDLE fails verification (see above): nothing was installed. Copy the bundle again and re-run."
VERSION=$("$NODE" -p 'require(process.argv[1]).version' "$BUNDLE/manifest.json")

# 2. Copy it into versions/<version> (under a temporary name, renamed when complete).
TARGET="$PREFIX/versions/$VERSION"
if [ -d "$TARGET" ] && cmp -s "$TARGET/manifest.json" "$BUNDLE/manifest.json"; then
  echo "llmsvc $VERSION is already in $TARGET."
else
  rm -rf "$PREFIX/versions/.$VERSION.tmp"
  mkdir -p "$PREFIX/versions/.$VERSION.tmp"
  for part in node app manifest.json SHA256SUMS install.sh; do cp -a "$BUNDLE/$part" "$PREFIX/versions/.$VERSION.tmp/"; done
  if [ -f "$BUNDLE/manifest.sig" ]; then cp -a "$BUNDLE/manifest.sig" "$PREFIX/versions/.$VERSION.tmp/"; fi
  rm -rf "$TARGET"
  mv "$PREFIX/versions/.$VERSION.tmp" "$TARGET"
fi

# 3. Refuse a downgrade across a schema change, then migrate (and create the admin key).
run_version "$VERSION" migrate --check --data-dir "$DATA_DIR" >/dev/null \
  || die "llmsvc $VERSION cannot use the data in $DATA_DIR (see above): the current version stays installed."
run_version "$VERSION" migrate --data-dir "$DATA_DIR"

# 4. Models shipped in the bundle (checked against their SHA-256 on the way in).
if [ -f "$BUNDLE/models/llmsvc-models.json" ]; then
  run_version "$VERSION" models import "$BUNDLE/models" --models-dir "$DATA_DIR/models"
fi

# 5. Switch current (keeping the version it pointed at as previous) and write bin/llmsvc.
if [ -L "$PREFIX/current" ]; then
  OLD=$(basename "$(readlink "$PREFIX/current")")
  if [ "$OLD" != "$VERSION" ]; then switch_link previous "versions/$OLD"; fi
fi
switch_link current "versions/$VERSION"
cat > "$PREFIX/bin/.llmsvc.tmp" <<WRAPPER
#!/bin/sh
# llmsvc with its bundled Node.js; follows $PREFIX/current across upgrades and rollbacks.
export LLMSVC_DATA_DIR="\${LLMSVC_DATA_DIR:-$DATA_DIR}"
exec "$PREFIX/current/node/bin/node" "$PREFIX/current/app/dist/apps/cli/main.js" "\$@"
WRAPPER
chmod 755 "$PREFIX/bin/.llmsvc.tmp"
mv -f "$PREFIX/bin/.llmsvc.tmp" "$PREFIX/bin/llmsvc"

# 6. The systemd unit (skipped, with a message, where systemd does not run).
SERVICE_NOTE="Start it: $PREFIX/bin/llmsvc serve"
if [ "$SERVICE" = 1 ]; then
  if ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
    SERVICE_NOTE="systemd is not running here, so no service was installed. Start it: $PREFIX/bin/llmsvc serve"
  else
    if [ "$USER_MODE" = 1 ]; then
      USER_LINES=""; WANTED_BY=default.target; SYSTEMCTL="systemctl --user"
    else
      id llmsvc >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --shell /usr/sbin/nologin llmsvc
      chown -R llmsvc:llmsvc "$DATA_DIR"
      USER_LINES="User=llmsvc
Group=llmsvc"; WANTED_BY=multi-user.target; SYSTEMCTL="systemctl"
    fi
    mkdir -p "$(dirname "$UNIT_FILE")"
    awk -v prefix="$PREFIX" -v data="$DATA_DIR" -v users="$USER_LINES" -v wanted="$WANTED_BY" '
      { gsub(/@PREFIX@/, prefix); gsub(/@DATA_DIR@/, data); gsub(/@WANTED_BY@/, wanted); gsub(/@OFFLINE@/, "true") }
      /^@USER_LINES@$/ { if (users != "") print users; next }
      { print }' "$TARGET/app/installers/llmsvc.service" > "$UNIT_FILE.tmp"
    mv -f "$UNIT_FILE.tmp" "$UNIT_FILE"
    $SYSTEMCTL daemon-reload
    $SYSTEMCTL enable llmsvc >/dev/null
    $SYSTEMCTL restart llmsvc
    if [ "$USER_MODE" = 1 ]; then
      SERVICE_NOTE="The service runs: $SYSTEMCTL status llmsvc; logs: journalctl --user -u llmsvc (run 'loginctl enable-linger $(id -un)' to keep it running after logout)"
    else
      SERVICE_NOTE="The service runs: $SYSTEMCTL status llmsvc; logs: journalctl -u llmsvc. Run admin commands as its user (sudo -u llmsvc $PREFIX/bin/llmsvc ...) so the files it writes stay its own"
    fi
  fi
fi

cat <<NEXT
Installed llmsvc $VERSION in $PREFIX (data in $DATA_DIR).
Next steps:
  1. $SERVICE_NOTE
  2. The admin key is in $DATA_DIR/admin.key (mode 600); create keys for your team:
       $PREFIX/bin/llmsvc keys create --name NAME
  3. Check the install: $PREFIX/bin/llmsvc doctor
  4. Back up regularly: $PREFIX/bin/llmsvc backup --out DIR
NEXT
