#!/usr/bin/env bash
# test_cli_help.sh — `l4q CMD --help` / `-h` / `l4q help CMD` for every command, checked
# against the flag tables in cli/cmd_*.c read from the source (an independent list):
# every parsed flag is described in the command's help and in the top-level usage, and
# nothing else is; an unknown flag names the valid ones and points at --help. The help
# text itself (cli/usage.c) is checked against the parse table at run time, so a flag
# added to one but not the other makes `--help` exit 1 here.
cd "$(dirname "$0")/.."
L4Q=build/l4q
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }
top=$($L4Q --help); rc=$?
[ $rc -eq 0 ] && pass "l4q --help exits 0" || fail "l4q --help exits 0" "rc=$rc"
$L4Q >/dev/null 2>&1; [ $? -eq 2 ] && pass "l4q without a command: usage on stderr, exit 2" || fail "l4q without a command" "rc"
cmds=$(grep -o '^  l4q [a-z]*' <<<"$top" | awk '{print $2}')
want="info generate ppl train eval sweep report export tokenize"
[ "$(echo $cmds)" = "$want" ] && pass "top-level usage lists every command" || fail "top-level usage lists every command" "$(echo $cmds)"
for c in $want; do
    src=cli/cmd_$c.c
    # Flags of the parse table: FLAGV("x") / FLAGB("x") / {.name = "x"
    flags=$(grep -oE 'FLAG[VB]\("[a-z0-9-]+"\)|\.name = "[a-z0-9-]+"' "$src" | grep -oE '"[a-z0-9-]+"' | tr -d '"' | sort -u)
    h=$($L4Q $c --help 2>&1); rc=$?
    if [ $rc -ne 0 ] || ! grep -q "^usage: l4q $c" <<<"$h"; then fail "$c --help" "rc=$rc: $h"; continue; fi
    pass "$c --help: usage, exit 0"
    [ "$($L4Q $c -h 2>&1)" = "$h" ] && [ "$($L4Q help $c 2>&1)" = "$h" ] && pass "$c -h and l4q help $c: the same text" \
        || fail "$c -h / help $c" "differs"
    described=$(grep -oE '^  --[a-z0-9-]+' <<<"$h" | sed 's/^  --//' | grep -v '^threads$' | sort -u)
    [ "$described" = "$flags" ] && pass "$c: --help describes exactly the flags $src parses ($(echo $flags | wc -w))" \
        || fail "$c: --help vs $src" "help: $(echo $described) | parsed: $(echo $flags)"
    line=$(grep "^  l4q $c " <<<"$top")
    miss=""; for f in $flags; do grep -q -- "--$f\b" <<<"$line" || miss="$miss $f"; done
    [ -z "$miss" ] && pass "$c: every flag in the top-level usage" || fail "$c: top-level usage lacks" "$miss"
    e=$($L4Q $c --no-such-flag 2>&1); rc=$?
    [ $rc -eq 2 ] && grep -q "unknown flag --no-such-flag (valid:" <<<"$e" && grep -q "l4q $c --help" <<<"$e" \
        && pass "$c: unknown flag → valid flags and --help named, exit 2" || fail "$c: unknown flag" "rc=$rc $e"
done
# A flag's value may be "-h" (not help): generate --prompt -h is a prompt.
e=$($L4Q tokenize --tokenizer "${L4Q_DATA:-../shared/data}/models/stories260K/tok512.bin" --text -h 2>&1); rc=$?
[ $rc -eq 0 ] && ! grep -q usage <<<"$e" && pass "--text -h: a value, not a help request" || fail "--text -h" "rc=$rc $e"
for f in stop-at force fallback outtype adapter merge log-samples raw-curves no-report; do
    grep -q -- "--$f" <<<"$top" || { fail "top-level usage names --$f" ""; continue; }
done
pass "top-level usage names --stop-at, --force and the export flags"
