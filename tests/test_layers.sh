#!/usr/bin/env bash
# test_layers.sh — the layering rule of README "Layout": each folder includes headers only
# from itself and the folders below it (core/ from nothing above it), the core's objects
# reference no symbol defined above the core, no weak symbol exists anywhere, no header is
# included by absolute path, each core header's functions live in its own .c (or a listed
# family), core's modules include each other without a cycle, and the tokenizer cannot reach
# a model reader.
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

# No source includes a header by absolute path (a system header is found through the
# compiler's search path, the Makefile's CPPFLAGS for the Debian layouts).
check "no #include by absolute path" \
    "$(grep -rnE --include='*.c' --include='*.h' --include='*.cu' '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]/' core baselines evals experiments results run cli bench tests fuzz)"

# Each core header's functions are defined in its own .c: every function core/X.h declares
# that a core object defines is defined in build/obj/core/X.o — or in one of the files a
# documented family lists for X (a header whose bodies are split by what they are about):
#   tokenizer   the tokenizer kinds: tok_bpe.c (BPE encoder/decoder), tok_files.c (tokenizer
#               files), tok_gguf.c (a GGUF's embedded vocabulary)
#   checkpoint  one reader per format: llama2c.c, gguf.c, hf_model.c (l4qz has l4qz.h)
#   gguf_write  gguf_export.c: the model export built on the generic writer
declare -A FAMILY=([tokenizer]="tok_bpe tok_files tok_gguf" [checkpoint]="llama2c gguf hf_model"
                   [gguf_write]="gguf_export")
if [ -n "$core_objs" ]; then
    defs=$(nm -A --defined-only -g $core_objs | awk '$2 == "T" { n = split($1, a, "[/:]"); sub(/\.o$/, "", a[n - 1]); print $3, a[n - 1] }')
    bad=""
    for h in core/*.h; do
        x=$(basename "$h" .h)
        # Declared functions: a top-level line (comments dropped) naming an identifier
        # followed by "(", not static/inline/typedef/extern/macro.
        for f in $(sed 's://.*$::' "$h" | grep -vE '^[[:space:]]|^(static|typedef|extern|#|struct [A-Za-z_]+;)' \
                   | grep -oE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]\**[a-z_][a-z0-9_]*\(' | grep -oE '[a-z_][a-z0-9_]*\($' | tr -d '(' | sort -u); do
            o=$(awk -v f="$f" '$1 == f { print $2 }' <<<"$defs")
            [ -z "$o" ] || [ "$o" = "$x" ] || [[ " ${FAMILY[$x]:-} " == *" $o "* ]] || bad+="$h: $f is defined in core/$o.c"$'\n'
        done
    done
    check "each core header's functions are defined in its own .c (or its documented family)" "$bad"

    # The tokenizer cannot reach a model reader: neither its objects' undefined symbols nor
    # its files' include closure lead into the readers (GGUF's container parser, gguf_file,
    # is shared and is not one).
    tok_objs=$(for o in tokenizer tok_bpe tok_files tok_gguf; do [ -f "build/obj/core/$o.o" ] && echo "build/obj/core/$o.o"; done)
    readers="checkpoint modelfile llama2c gguf hf_model l4qz safetensors model"
    rdefs=$(for r in $readers; do [ -f "build/obj/core/$r.o" ] && nm --defined-only -g "build/obj/core/$r.o"; done | awk 'NF == 3 {print $3}' | sort -u)
    used=$(nm -u $tok_objs | awk '{print $NF}' | sort -u)
    check "the tokenizer's objects call no model reader" "$(comm -12 <(echo "$rdefs") <(echo "$used"))"
fi
# Core's modules include each other without a cycle, so the core reads bottom-up (the order
# in docs/architecture.md "Layers"): a module is a header and its .c (X.h + X.c; a family
# member without a header, tok_bpe.c, is one of its own), with an edge A → B when core/A.h
# or core/A.c includes "B.h". A cycle is printed as A -> B -> ... -> A.
module_cycle() { # dir: the first include cycle among its modules, or nothing
    python3 - "$1" <<'PY'
import glob, os, re, sys
d = sys.argv[1]
inc = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
edges = {}
for f in sorted(glob.glob(d + "/*.[ch]")):
    a = os.path.splitext(os.path.basename(f))[0]
    for i in inc.findall(open(f, encoding="utf-8").read()):
        b = os.path.splitext(os.path.basename(i))[0]
        if b != a and os.path.isfile(f"{d}/{b}.h"):
            edges.setdefault(a, set()).add(b)
state, path = {}, []  # state: 1 on the DFS path, 2 done
def visit(a):
    state[a] = 1; path.append(a)
    for b in sorted(edges.get(a, ())):
        if state.get(b) == 1: return path[path.index(b):] + [b]
        if b not in state and (c := visit(b)): return c
    state[a] = 2; path.pop()
for a in sorted(edges):
    if a not in state and (c := visit(a)):
        print(" -> ".join(c)); break
PY
}
check "core's module include graph has no cycle" "$(module_cycle core)"

closure() { # the core headers a file reaches through #include "…", transitively
    local todo=("$@") seen=" " f inc
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}; todo=("${todo[@]:1}")
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            inc=core/$(basename "$inc")
            [ -f "$inc" ] && [[ "$seen" != *" $inc "* ]] && { seen+="$inc "; todo+=("$inc"); }
        done
    done
    echo $seen
}
reach=$(closure core/tokenizer.h core/tokenizer.c core/tok_bpe.c core/tok_files.c core/tok_gguf.c)
check "the tokenizer's files include no model reader's header" \
    "$(for h in checkpoint.h modelfile.h model.h l4qz.h safetensors.h; do [[ " $reach " == *" core/$h "* ]] && echo "reaches core/$h"; done)"

check "no __attribute__((weak)) anywhere" \
    "$(grep -rn --include='*.c' --include='*.h' -E '__attribute__ *\(\( *weak|#pragma +weak' core baselines evals experiments results run cli bench tests)"
exit $fail
