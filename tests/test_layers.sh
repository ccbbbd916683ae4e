#!/usr/bin/env bash
# test_layers.sh — the layering rule of README "Layout": each folder includes headers only
# from itself and the folders below it (core/ from nothing above it), the core's objects
# reference no symbol defined above the core, and no weak symbol exists anywhere.
cd "$(dirname "$0")/.."
fail=0
check() { # name, condition-output (empty = pass)
    if [ -z "$2" ]; then echo "PASS: $1"; else echo "FAIL: $1: $(head -5 <<<"$2" | tr '\n' ';')"; fail=1; fi
}

# Folders a folder may include from (besides itself and core/).
declare -A MAY=([core]="" [baselines]="" [evals]="" [experiments]="" [results]="evals"
                [run]="evals" [cli]="baselines evals experiments results run")
for dir in "${!MAY[@]}"; do
    bad=""
    for f in "$dir"/*.c "$dir"/*.h; do
        [ -f "$f" ] || continue
        while IFS= read -r inc; do
            case "$inc" in
            */*) top=${inc%%/*}
                 if [ "$top" != "$dir" ] && ! [[ " ${MAY[$dir]} " == *" $top "* ]]; then bad+="$f: $inc"$'\n'; fi ;;
            *)   # a bare name must be in the same folder or core/ (the include path is -Icore -I.)
                 [ -f "$dir/$inc" ] || [ -f "core/$inc" ] || bad+="$f: $inc (not in $dir/ or core/)"$'\n' ;;
            esac
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
    check "layers: $dir/ includes only from ${MAY[$dir]:+${MAY[$dir]} and }core/" "$bad"
done

# The core's objects: every symbol they use is defined in the core or in a library
# (objects of the current sources only: a moved file leaves its old object behind).
objs() { for d in "$@"; do for c in "$d"/*.c; do [ -f "build/obj/${c%.c}.o" ] && echo "build/obj/${c%.c}.o"; done; done; }
core_objs=$(objs core)
if [ -n "$core_objs" ]; then
    above=$(nm --defined-only -g $(objs baselines evals experiments results run cli) | awk 'NF == 3 {print $3}' | sort -u)
    used=$(nm -u $core_objs | awk '{print $NF}' | sort -u)
    check "layers: core objects reference no symbol defined above the core" "$(comm -12 <(echo "$above") <(echo "$used"))"
else
    echo "FAIL: layers: build/obj/core/*.o missing (run make first)"; fail=1
fi

# A function is declared in its header, never by hand in another .c file: a top-level
# non-static declaration ending in ");" inside a .c file is a prototype outside a header.
protos=$(awk 'FNR == 1 { acc = "" }
    acc == "" && /^[A-Za-z_]/ && !/^(static|typedef|extern|struct|enum|union|return)[ ({]/ && /\(/ { acc = FILENAME ":" FNR ": " $0 }
    acc != "" && !/^[A-Za-z_]/ { acc = acc $0 }
    acc != "" && /[;{]/ { sub(/[ \t]*\/\/.*$/, "", acc); if (acc ~ /\)[ \t]*;[ \t]*$/) print acc; acc = "" }' \
    core/*.c baselines/*.c evals/*.c experiments/*.c results/*.c run/*.c cli/*.c)
check "no function prototypes in .c files" "$protos"

check "no __attribute__((weak)) anywhere" \
    "$(grep -rn --include='*.c' --include='*.h' -E '__attribute__ *\(\( *weak|#pragma +weak' core baselines evals experiments results run cli bench tests)"
exit $fail
