#!/usr/bin/env bash
# The JIT kernel cache against a careless or hostile file system: every
# damaged, planted or untrusted entry is reported by name, never executed
# or waited on, and the run still prints the reference tokens; a bad entry
# is replaced, so the next run is quiet. `compile --emit llvm` writes no
# temporary file.
source "$(dirname "$0")/lib.sh" "$@"
model=$SHARED/tinyshakes-llama/tinyshakes-llama-q8_0.gguf
other=$SHARED/tinyshakes-llama/tinyshakes-llama-f32.gguf
cache=$WORK/cache
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"

# run CACHE-DIR NAME: greedy ids into $WORK/NAME.out, stderr into NAME.err;
# a hang (a FIFO opened for reading, /dev/zero read to its end) times out.
run() {
  local status=0
  KILN_CACHE_DIR=$1 timeout 300 "$KILN" run "$model" -p "ROMEO:" -n 12 --temp 0 \
    --ids -t 2 >"$WORK/$2.out" 2>"$WORK/$2.err" || status=$?
  if [ "$status" -ne 0 ]; then
    fail "$2: exit status $status"
    cat "$WORK/$2.err" >&2
    return 1
  fi
}

run "$cache" reference || { finish; exit 1; }
[ -s "$WORK/reference.out" ] || fail "reference: no tokens"
grep -q warning "$WORK/reference.err" && fail "reference: $(cat "$WORK/reference.err")"
entry=$(ls "$cache"/*.o)
record=$entry.sha256
[ -f "$entry" ] && [ -f "$record" ] || fail "no cache entry with its record in $cache"
[ "$(stat -c %a "$cache")" = 700 ] || fail "cache directory mode $(stat -c %a "$cache")"
[ "$(stat -c %a "$entry")" = 600 ] || fail "cache entry mode $(stat -c %a "$entry")"
run "$cache" hit && grep -q warning "$WORK/hit.err" && fail "hit: $(cat "$WORK/hit.err")"
cmp -s "$WORK/reference.out" "$WORK/hit.out" || fail "hit: tokens differ"

# Another model's kernels: a valid object, wrong for this key.
KILN_CACHE_DIR=$WORK/other-cache timeout 300 "$KILN" run "$other" -p "ROMEO:" -n 2 \
  --temp 0 --ids -t 2 >/dev/null 2>&1 || fail "run of the other model"
planted=$(ls -S "$WORK/other-cache"/*.o | head -1)

# case NAME BLAMED FRAGMENT DAMAGE...: damages the entry, expects the
# reference tokens and a warning naming BLAMED with FRAGMENT, then a quiet
# run from the rewritten entry.
case_() {
  local name=$1 blamed=$2 fragment=$3
  shift 3
  "$@" || { fail "$name: could not damage the entry"; return; }
  run "$cache" "$name" || return
  cmp -s "$WORK/reference.out" "$WORK/$name.out" || fail "$name: tokens differ"
  grep -qF "kiln: warning: $blamed: " "$WORK/$name.err" ||
    fail "$name: no warning naming $blamed: $(cat "$WORK/$name.err")"
  grep -qF "$fragment" "$WORK/$name.err" ||
    fail "$name: warning lacks '$fragment': $(cat "$WORK/$name.err")"
  grep -qF "recompiling" "$WORK/$name.err" || fail "$name: warning lacks 'recompiling'"
  [ -f "$entry" ] && [ ! -L "$entry" ] && [ -f "$record" ] || fail "$name: entry not rewritten"
  run "$cache" "$name-after" || return
  grep -q warning "$WORK/$name-after.err" &&
    fail "$name: the next run still warns: $(cat "$WORK/$name-after.err")"
  cmp -s "$WORK/reference.out" "$WORK/$name-after.out" || fail "$name-after: tokens differ"
}

flip_bytes() {
  python3 - "$entry" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
for at in range(len(data) // 3, len(data) // 3 + 16, 4):
    data[at] ^= 0xA5
open(sys.argv[1], "wb").write(data)
PY
}
truncate_half() { truncate -s $(($(stat -c %s "$entry") / 2)) "$entry"; }
plant_other() { cp "$planted" "$entry"; }
drop_record() { rm "$record"; }
make_fifo() { rm "$entry" && mkfifo "$entry"; }
link_dev_zero() { rm "$entry" && ln -s /dev/zero "$entry"; }
group_writable() { chmod g+w "$entry"; }
give_away() { chown 65534 "$entry"; }

case_ flipped "$entry" "does not match the SHA-256" flip_bytes
case_ truncated "$entry" "its record says" truncate_half
case_ planted "$entry" "its record" plant_other
case_ no-record "$entry" "has no integrity record" drop_record
case_ fifo "$entry" "is a FIFO" make_fifo
case_ symlink "$entry" "is a symbolic link" link_dev_zero
case_ group-writable "$entry" "writable by group or others" group_writable
if [ "$(id -u)" = 0 ]; then
  case_ other-owner "$entry" "is owned by uid 65534" give_away
fi

# A directory others can write is not used at all: nothing is written to
# it, and a planted entry that matches its record is not executed.
chmod 0777 "$cache"
rm -f "$entry" "$record"
run "$cache" open-dir
cmp -s "$WORK/reference.out" "$WORK/open-dir.out" || fail "open-dir: tokens differ"
grep -qF "kiln: warning: $cache: kernel cache directory is writable by group or others" \
  "$WORK/open-dir.err" || fail "open-dir: no warning naming $cache: $(cat "$WORK/open-dir.err")"
[ "$(grep -c warning "$WORK/open-dir.err")" = 1 ] || fail "open-dir: warned more than once"
[ -e "$entry" ] && fail "open-dir: wrote $entry into the untrusted directory"
cp "$planted" "$entry"
printf 'kiln-kernel-cache 1\nsize %s\nsha256 %s\n' "$(stat -c %s "$entry")" \
  "$(sha256sum "$entry" | cut -c1-64)" >"$record"
chmod 0600 "$entry" "$record"
run "$cache" open-dir-planted
cmp -s "$WORK/reference.out" "$WORK/open-dir-planted.out" ||
  fail "open-dir: ran the entry planted in the untrusted directory"

# compile --emit llvm keeps the IR in memory: TMPDIR stays empty, and a
# symlink planted where the IR used to go ($TMPDIR/kiln-kernels-<pid>.ll)
# is neither followed nor removed.
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
echo precious >"$WORK/victim"
bash -c 'ln -s "$1" "$TMPDIR/kiln-kernels-$$.ll" && exec timeout 300 "$2" compile "$3" --emit llvm -o "$4"' \
  _ "$WORK/victim" "$KILN" "$model" "$WORK/kernels.ll" 2>"$WORK/emit.err" ||
  fail "compile --emit llvm: $(cat "$WORK/emit.err")"
grep -q "^define void @kiln_0_embedding(" "$WORK/kernels.ll" || fail "emit llvm: no kernels"
[ "$(cat "$WORK/victim")" = precious ] || fail "emit llvm: wrote through the planted symlink"
leftover=$(ls -A "$TMPDIR")
case "$leftover" in
  kiln-kernels-*.ll) [ -L "$TMPDIR/$leftover" ] || fail "emit llvm: replaced the planted symlink" ;;
  *) fail "emit llvm: TMPDIR holds '$leftover', expected only the planted symlink" ;;
esac
finish
