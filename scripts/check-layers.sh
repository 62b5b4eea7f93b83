#!/usr/bin/env bash
# check-layers.sh - fails when a module of auzdb_core calls a higher layer or
# when the calls between modules form a cycle.
#
# Usage:
#   scripts/check-layers.sh [--table FILE] ARCHIVE.a|OBJECT.o...
#       e.g. scripts/check-layers.sh build-dev/libauzdb_core.a
#   scripts/check-layers.sh --self-test
#       builds tiny objects with ${CC:-cc} in a temp dir and checks that a
#       clean graph passes and an upward call, a cycle and an unplaced module
#       are caught.
#
# The layer table is src/LAYERS (its header explains the format and the
# rule); --table FILE uses another one.
#
# How: `nm -A -g -P` lists the global symbols of every member object.  A
# module is one object, named after its source file (cli.c.o -> cli; the
# generated embedded_migrations.c.o -> embedded).  Module A calls module B
# when A.o references a symbol (U, or weak-undefined w/v) that B.o defines,
# whichever header declares it: these are the edges the linker resolves.
# Symbols no member defines (libc, libpq, OpenSSL, zlib, sanitizers) are
# ignored.  Errors: a module missing from the table (the message names the
# line to add), an edge from a lower layer to a higher one (printed with the
# symbols that make it), and every cycle (Tarjan's strongly connected
# components; for each edge inside one, the shortest cycle through it,
# printed as `a -> b -> a`).
#
# Output: the violations, then "layers: N modules, E edges, C cycles, U upward
# calls".  Exit 0 when clean, 1 on a violation, 2 on a usage or table error.
# Needs bash, awk (POSIX; Debian's mawk is enough) and nm from binutils.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
table="$(cd "$here/.." && pwd)/src/LAYERS"

usage() {
	sed -n '2,/uses another one/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---- the check -----------------------------------------------------------
# Input 1: the table.  Input 2: nm -A -g -P lines ("PREFIX: SYM TYPE ...",
# PREFIX being "lib.a[member]" or "path/x.o").
read -r -d '' check_awk <<'EOF' || true
function die(msg) { print "check-layers: " msg > "/dev/stderr"; fatal = 1; exit 2 }

# Sorts the words of s; returns them joined by sep.
function sorted(s, sep,    a, n, i, j, t, out) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	out = ""
	for (i = 1; i <= n; i++) out = out (i > 1 ? sep : "") a[i]
	return out
}

function module_of(prefix,    m) {
	m = prefix
	if (m ~ /\]$/) {               # archive member: lib.a[x.c.o]
		sub(/\]$/, "", m)
		sub(/^.*\[/, "", m)
	} else {
		sub(/^.*\//, "", m)
	}
	sub(/\.o$/, "", m)
	sub(/\.(c|obj)$/, "", m)
	if (m == "embedded_migrations") m = "embedded"
	return m
}

function lname(m) { return (m in modlayer) ? layername[modlayer[m]] : "?" }

# Tarjan's strongly connected components over succ[] (sorted word lists).
function strong(v,    a, n, i, w) {
	index_of[v] = low[v] = ++counter
	stack[++sp] = v
	onstack[v] = 1
	n = split(succ[v], a, " ")
	for (i = 1; i <= n; i++) {
		w = a[i]
		if (!(w in index_of)) {
			strong(w)
			if (low[w] < low[v]) low[v] = low[w]
		} else if (onstack[w] && index_of[w] < low[v]) {
			low[v] = index_of[w]
		}
	}
	if (low[v] == index_of[v]) {
		nscc++
		do {
			w = stack[sp--]
			onstack[w] = 0
			scc[w] = nscc
			sccsize[nscc]++
			sccmembers[nscc] = sccmembers[nscc] " " w
		} while (w != v)
	}
}

# The shortest path from "from" to "to" inside component c, as "from -> ...
# -> to" (breadth first, successors in name order).
function path_in(from, to, c,    q, head, tail, seen, parent, v, a, n, i, w, p) {
	head = 1; tail = 0
	q[++tail] = from; seen[from] = 1
	while (head <= tail) {
		v = q[head++]
		if (v == to) break
		n = split(succ[v], a, " ")
		for (i = 1; i <= n; i++) {
			w = a[i]
			if (scc[w] != c || (w in seen)) continue
			seen[w] = 1; parent[w] = v; q[++tail] = w
		}
	}
	p = to
	for (v = to; v != from; v = parent[v]) p = parent[v] " -> " p
	return p
}

# Prints the cycles found since the last call, shortest first, then by name.
function print_cycles(    i, j, parts, key, c, k) {
	for (i = printed + 1; i <= ncycles; i++)
		key[i] = sprintf("%04d %s", split(cycles[i], parts, " -> "), cycles[i])
	for (i = printed + 2; i <= ncycles; i++) {
		c = cycles[i]; k = key[i]
		for (j = i - 1; j > printed && key[j] > k; j--) { cycles[j + 1] = cycles[j]; key[j + 1] = key[j] }
		cycles[j + 1] = c; key[j + 1] = k
	}
	for (i = printed + 1; i <= ncycles; i++) print "cycle: " cycles[i]
	printed = ncycles
}

# A cycle "a -> b -> c -> a" rotated to start at its smallest name, so one
# cycle found from several edges is printed once.
function canonical(cyc,    a, n, i, best, out) {
	n = split(cyc, a, " -> ") - 1
	best = 1
	for (i = 2; i <= n; i++) if (a[i] < a[best]) best = i
	out = a[best]
	for (i = 1; i <= n; i++) out = out " -> " a[(best - 1 + i) % n + 1]
	return out
}

FILENAME == tablefile {
	sub(/#.*/, "")
	if (NF == 0) next
	if ($1 == "layer") {
		if (NF != 2) die(tablefile ":" FNR ": expected \"layer NAME\"")
		if ($2 in layerno) die(tablefile ":" FNR ": layer " $2 " declared twice")
		layerno[$2] = ++nlayers
		layername[nlayers] = $2
		next
	}
	if (NF != 2) die(tablefile ":" FNR ": expected \"MODULE LAYER\"")
	if (!($2 in layerno)) die(tablefile ":" FNR ": unknown layer " $2 " (declare it with a \"layer\" line first)")
	if ($1 in modlayer) die(tablefile ":" FNR ": module " $1 " placed twice")
	modlayer[$1] = layerno[$2]
	tablemods = tablemods " " $1
	next
}

{
	# PREFIX: SYM TYPE [VALUE SIZE]; the prefix may hold spaces, a symbol
	# does not.
	line = $0
	cut = 0
	while ((i = index(substr(line, cut + 1), ": ")) > 0) cut += i
	if (cut == 0) next
	m = module_of(substr(line, 1, cut - 1))
	split(substr(line, cut + 2), f, " ")
	sym = f[1]; type = f[2]
	if (!(m in ismod)) { ismod[m] = 1; mods = mods " " m }
	if (type == "U" || type == "w" || type == "v") {
		if (!((m, sym) in ref)) { ref[m, sym] = 1; refs[m] = refs[m] " " sym }
	} else if (!((sym, m) in defby)) {
		defby[sym, m] = 1
		def[sym] = def[sym] " " m
	}
}

END {
	if (fatal) exit 2
	if (nlayers == 0) { print "check-layers: " tablefile ": no \"layer\" lines" > "/dev/stderr"; exit 2 }
	mods = sorted(mods, " ")
	nmods = split(mods, modlist, " ")
	if (nmods == 0) { print "check-layers: no object files with symbols in the input" > "/dev/stderr"; exit 2 }

	# Edges, with the symbols that make them.
	for (i = 1; i <= nmods; i++) {
		m = modlist[i]
		ns = split(refs[m], syms, " ")
		for (j = 1; j <= ns; j++) {
			if (!(syms[j] in def)) continue
			nd = split(def[syms[j]], ds, " ")
			for (k = 1; k <= nd; k++) {
				d = ds[k]
				if (d == m) continue
				if (!((m, d) in via)) { nedges++; succ[m] = succ[m] " " d; pred[d] = pred[d] " " m }
				via[m, d] = via[m, d] " " syms[j]
			}
		}
	}
	for (i = 1; i <= nmods; i++) {
		m = modlist[i]
		succ[m] = sorted(succ[m], " ")
		pred[m] = sorted(pred[m], " ")
	}

	# Modules the table does not place.
	for (i = 1; i <= nmods; i++) {
		m = modlist[i]
		if (m in modlayer) continue
		nunplaced++
		lo = 1; hi = nlayers; why = ""
		n = split(succ[m], a, " ")
		for (j = 1; j <= n; j++) if (a[j] in modlayer) {
			if (modlayer[a[j]] > lo) lo = modlayer[a[j]]
			why = why ", calls " a[j] " (" lname(a[j]) ")"
		}
		n = split(pred[m], a, " ")
		for (j = 1; j <= n; j++) if (a[j] in modlayer) {
			if (modlayer[a[j]] < hi) hi = modlayer[a[j]]
			why = why ", called by " a[j] " (" lname(a[j]) ")"
		}
		printf "unplaced: module %s is not in %s; add the line \"%s  %s\"", m, tablefile, m, layername[lo]
		if (lo < hi) printf " (any layer from %s to %s is allowed)", layername[lo], layername[hi]
		if (lo > hi) printf " (no layer fits: it would call up or be called from below)"
		print why
	}

	# Upward calls.
	for (i = 1; i <= nmods; i++) {
		m = modlist[i]
		n = split(succ[m], a, " ")
		for (j = 1; j <= n; j++) {
			d = a[j]
			if (!(m in modlayer) || !(d in modlayer) || modlayer[m] >= modlayer[d]) continue
			nup++
			printf "upward: %s (%s) -> %s (%s) via %s\n", m, lname(m), d, lname(d), sorted(via[m, d], ", ")
		}
	}

	# Cycles.
	for (i = 1; i <= nmods; i++) if (!(modlist[i] in index_of)) strong(modlist[i])
	for (c = 1; c <= nscc; c++) {
		if (sccsize[c] < 2) continue
		members = sorted(sccmembers[c], " ")
		n = split(members, a, " ")
		edges = ""
		for (j = 1; j <= n; j++) {
			m = a[j]
			ns = split(succ[m], b, " ")
			for (k = 1; k <= ns; k++) {
				d = b[k]
				if (scc[d] != c) continue
				cyc = canonical(m " -> " path_in(d, m, c))
				if (!(cyc in found)) { found[cyc] = 1; cycles[++ncycles] = cyc }
				edges = edges sprintf("    %s -> %s via %s\n", m, d, sorted(via[m, d], ", "))
			}
		}
		print_cycles()
		print "  the edges among " sorted(members, ", ") ":"
		printf "%s", edges
	}

	# Planned modules (in the table, no object yet): a note only.
	n = split(sorted(tablemods, " "), a, " ")
	planned = ""
	for (j = 1; j <= n; j++) if (!(a[j] in ismod)) planned = planned (planned == "" ? "" : ", ") a[j]
	if (planned != "") print "note: in " tablefile " but no object: " planned

	printf "layers: %d modules, %d edges, %d cycles, %d upward calls", nmods, nedges, ncycles, nup
	if (nunplaced) printf ", %d unplaced modules", nunplaced
	printf "\n"
	exit (nunplaced || nup || ncycles) ? 1 : 0
}
EOF

check() {
	local tbl=$1
	shift
	[ -r "$tbl" ] || { echo "check-layers: cannot read the table $tbl" >&2; exit 2; }
	command -v nm >/dev/null || { echo "check-layers: nm (binutils) not installed" >&2; exit 2; }
	local f
	for f in "$@"; do
		[ -r "$f" ] || { echo "check-layers: cannot read $f" >&2; exit 2; }
	done
	local syms
	syms=$(mktemp)
	# nm's "no symbols" notes go to stderr; a real failure stops us.
	if ! nm -A -g -P "$@" >"$syms" 2>"$syms.err"; then
		cat "$syms.err" >&2
		rm -f "$syms" "$syms.err"
		exit 2
	fi
	local rc=0
	awk -v tablefile="$tbl" "$check_awk" "$tbl" "$syms" || rc=$?
	rm -f "$syms" "$syms.err"
	return $rc
}

# ---- the self-test --------------------------------------------------------
self_test() {
	local cc=${CC:-cc} out rc fails=0
	command -v "$cc" >/dev/null || { echo "self-test: no C compiler ($cc)" >&2; exit 2; }
	selftest_dir=$(mktemp -d)
	trap 'rm -rf "$selftest_dir"' EXIT
	cd "$selftest_dir"

	# obj NAME 'C source': NAME.c.o, named as CMake names them.
	obj() { printf '%s\n' "$2" >"$1.c" && "$cc" -c -o "$1.c.o" "$1.c"; }
	# expect DESCRIPTION WANTED_RC TABLE ARGS... -- then the lines that must appear.
	expect() {
		local what=$1 want=$2 tbl=$3
		shift 3
		local args=()
		while [ "$1" != -- ]; do args+=("$1"); shift; done
		shift
		rc=0
		out=$(check "$tbl" "${args[@]}" 2>&1) || rc=$?
		local ok=1 line
		[ "$rc" = "$want" ] || ok=0
		for line in "$@"; do
			grep -qxF -- "$line" <<<"$out" || { ok=0; echo "  missing line: $line"; }
		done
		if [ $ok = 1 ]; then
			echo "self-test: ok   $what"
		else
			echo "self-test: FAIL $what (exit $rc, wanted $want); output:"
			sed 's/^/  | /' <<<"$out"
			fails=$((fails + 1))
		fi
	}

	cat >t1 <<'T'
layer low
layer high
base  low   # a comment
mid   low
top   high
embedded low
T
	# A clean graph, the link-level kind: top.c declares mid_f itself, no
	# header in common; mid uses embedded's table; all in an archive.
	obj base 'int base_f(void) { return 1; }'
	obj mid 'extern const int az_embedded_count; int base_f(void); int mid_f(void) { return base_f() + az_embedded_count; }'
	obj top 'int mid_f(void); int top_f(void) { return mid_f() + 1; }'
	obj embedded_migrations 'extern const int az_embedded_count; const int az_embedded_count = 3;'
	ar rcs lib.a base.c.o mid.c.o top.c.o embedded_migrations.c.o
	expect "clean graph in an archive passes" 0 t1 lib.a -- \
		"layers: 4 modules, 3 edges, 0 cycles, 0 upward calls"

	# An upward call: base (low) calls top_f, defined in top (high).
	obj base 'int top_f(void); int base_f(void) { return 1; } int base_g(void) { return top_f(); }'
	expect "upward call is caught" 1 t1 base.c.o mid.c.o top.c.o embedded_migrations.c.o -- \
		"upward: base (low) -> top (high) via top_f" \
		"cycle: base -> top -> mid -> base" \
		"layers: 4 modules, 4 edges, 1 cycles, 1 upward calls"

	# A cycle inside one layer: x -> y -> z -> x, plus z -> y (two cycles).
	cat >t2 <<'T'
layer only
x only
y only
z only
T
	obj x 'int y_f(void); int x_f(void) { return y_f(); }'
	obj y 'int z_f(void); int y_f(void) { return z_f(); }'
	obj z 'int x_f(void); int y_f(void); int z_f(void) { return x_f() + y_f(); }'
	expect "cycle inside a layer is caught" 1 t2 x.c.o y.c.o z.c.o -- \
		"cycle: x -> y -> z -> x" \
		"cycle: y -> z -> y" \
		"    z -> x via x_f" \
		"layers: 3 modules, 4 edges, 2 cycles, 0 upward calls"

	# Data symbols count too, and a module missing from the table is named
	# with the line to add.
	obj w 'extern int x_data; int w_f(void) { return x_data; }'
	obj x 'int x_data = 1; int x_f(void) { return x_data; }'
	expect "unplaced module names the line to add" 1 t2 w.c.o x.c.o -- \
		"unplaced: module w is not in t2; add the line \"w  only\", calls x (only)" \
		"note: in t2 but no object: y, z" \
		"layers: 2 modules, 1 edges, 0 cycles, 0 upward calls, 1 unplaced modules"

	printf 'layer a\nm b\n' >t3
	expect "table with an unknown layer is refused" 2 t3 x.c.o -- \
		"check-layers: t3:2: unknown layer b (declare it with a \"layer\" line first)"

	[ $fails = 0 ] && echo "self-test: all passed"
	[ $fails = 0 ]
}

# ---- arguments -----------------------------------------------------------
[ $# -gt 0 ] || usage
case $1 in
--self-test)
	[ $# = 1 ] || usage
	self_test
	;;
--table)
	[ $# -ge 3 ] || usage
	t=$2
	shift 2
	check "$t" "$@"
	;;
-h | --help | -*) usage ;;
*) check "$table" "$@" ;;
esac
