#!/usr/bin/env python3
"""Structure figures for archtui (scripts/structure.py [ROOT] [-v]): files
over 600 lines, Result<_, String> types, and module import cycles per
crate (edges from `crate::a::...` paths, comments and test-only code left
out; Tarjan SCCs of more than one module are cycles)."""
import os, re, sys, collections

root = sys.argv[1] if len(sys.argv) > 1 else "."

def rs_files(base):
    for d, _, fs in os.walk(base):
        if "/target" in d or "/snapshots" in d: continue
        for f in fs:
            if f.endswith(".rs"): yield os.path.join(d, f)

def crates():
    out = [("archtui", os.path.join(root, "src"))]
    cd = os.path.join(root, "crates")
    if os.path.isdir(cd):
        for c in sorted(os.listdir(cd)):
            if os.path.isdir(os.path.join(cd, c, "src")):
                out.append((c.replace("-", "_"), os.path.join(cd, c, "src")))
    return out

def strip_tests(text):
    # Drop `#[cfg(test)] mod x { ... }` blocks and `#[cfg(test)] mod x;`.
    out, i = [], 0
    pat = re.compile(r"#\[cfg\(test\)\]\s*(pub(\([a-z]+\))?\s+)?mod\s+\w+\s*(\{|;)")
    while True:
        m = pat.search(text, i)
        if not m: out.append(text[i:]); break
        out.append(text[i:m.start()])
        if m.group(3) == ";": i = m.end(); continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            if text[j] == "{": depth += 1
            elif text[j] == "}": depth -= 1
            j += 1
        i = j
    return "".join(out)

def modpath(src, path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"): rel = rel[:-1]
    return rel

TEST_FILES = re.compile(r"(^|/)(tests|fixtures|perf_tests)\.rs$")

def uses(text, prefix):
    """Top-level module names reached through `prefix::` paths (groups expanded)."""
    names = set()
    for m in re.finditer(re.escape(prefix) + r"::(\{|\w+)", text):
        if m.group(1) != "{":
            names.add(m.group(1)); continue
        depth, j = 1, m.end(); buf = ""
        while j < len(text) and depth:
            c = text[j]
            if c == "{": depth += 1
            elif c == "}": depth -= 1
            if depth == 1 and c not in "{}": buf += c
            elif depth == 1 and c == "}": buf += ","
            j += 1
        for part in buf.split(","):
            p = part.strip().split("::")[0].strip()
            if p and re.match(r"^\w+$", p): names.add(p)
    return names

def sccs(graph):
    index, low, on, stack, res, n = {}, {}, set(), [], [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            res.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in list(graph): 
        if v not in index: visit(v)
    return [c for c in res if len(c) > 1]

big, results = [], 0
cycles_total = 0
for crate, src in crates():
    graph = collections.defaultdict(set)
    tops = set()
    for f in rs_files(src):
        lines = open(f).read()
        nl = lines.count("\n")
        if nl > 600: big.append((nl, os.path.relpath(f, root)))
        mp = modpath(src, f)
        if not mp: continue
        tops.add(mp[0])
    for f in rs_files(src):
        mp = modpath(src, f)
        if not mp or TEST_FILES.search(f): continue
        text = strip_tests(open(f).read())
        # Comments name modules without importing them.
        text = re.sub(r"//[^\n]*", "", text)
        for u in uses(text, "crate"):
            if u in tops and u != mp[0]:
                graph[mp[0]].add(u)
        graph.setdefault(mp[0], set())
    cyc = sccs(graph)
    if "-v" in sys.argv: print(crate, {k: sorted(v) for k, v in graph.items()})
    cycles_total += len(cyc)
    print(f"{crate}: {len(graph)} top-level modules, {sum(len(v) for v in graph.values())} edges, cycles: {cyc}")
print(f"files over 600 lines: {len(big)}: " + ", ".join(f"{p} ({n})" for n, p in sorted(big, reverse=True)))

# Result<T, String>: every type whose last argument is String.
count, fns = 0, 0
for crate, src in crates():
    for f in rs_files(src):
        text = open(f).read()
        for m in re.finditer(r"\bResult<", text):
            depth, j = 1, m.end(); args=[""]
            while j < len(text) and depth:
                c = text[j]
                if c in "<([": depth += 1
                elif c in ">)]": depth -= 1
                if depth == 1 and c == ",": args.append("")
                elif depth >= 1: args[-1] += c
                j += 1
            if len(args) == 2 and args[1].strip() == "String":
                count += 1
                line = text[text.rfind("\n", 0, m.start())+1:m.start()]
                if "->" in line: fns += 1
print(f"Result<_, String>: {count} occurrences, {fns} as a return type")
