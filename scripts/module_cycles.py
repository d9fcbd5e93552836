#!/usr/bin/env python3
"""List the module import cycles inside each crate of the workspace.

Reads every crate root (`src/lib.rs`, and `src/main.rs` as a crate of its own), follows the
`mod x;` declarations to the module files, and collects the edges "module A uses module B":
`use crate::…`, `use super::…`, `use self::…`, `use child::…`, and the same paths written
inline in code (`crate::x::f()`). Comments and string literals are ignored, so doc links
do not count. Inline `mod tests { … }` blocks count as part of their file.

A path is followed through re-exports (`pub use error::Error;` in `pve.rs`) to the module that
defines the item, so `use super::Error` in `pve/tls.rs` is an edge to `pve::error`. When the
re-exporting module is not an ancestor of the user, the user also depends on it by spelling
(`crate::commands::open_services` names `commands` even if the function lives elsewhere); that
edge counts too. A module's re-export of its own descendants is not an edge (a facade is not a
dependency); a parent's own code using a child is.

Cycles are printed twice per crate: between module files, and between the crate's top-level
modules (`--depth`, default 1; `classes::api` and `classes::class_page` both count as
`classes`). Each cycle (a strongly connected component) lists the edges inside it with the
file and line that make them.

Usage: scripts/module_cycles.py [--depth N] [--exclude MODULE …] [crate dir …]   (default: the workspace members)
Exit status: 0 without cycles, 1 with.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- lexing ----------------------------------------------------------------------------------

def tokens(text):
    """Identifiers, `::` and single punctuation with line numbers; no comments or literals."""
    out, i, line, n = [], 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif re.match(r'(b|c)?r#*"', text[i:i + 8]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r'(b|c)?r(#*)"', text[i:])
            end = text.find('"' + m.group(2), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(2))
            line += text.count("\n", i, end)
            i = end
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        )):
            j = text.index('"', i) + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j + 1
        elif c == "'":
            if text.startswith("\\", i + 1):
                j = text.find("'", i + 2)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                i += 3
            else:  # a lifetime or a label
                m = re.match(r"'\w+", text[i:])
                i += m.end() if m else 1
        elif c.isalpha() or c == "_":
            m = re.match(r"(r#)?\w+", text[i:])
            word = m.group(0)
            if word == "b" and text.startswith("'", i + 1):  # b'x'
                i += 1
                continue
            out.append((word.removeprefix("r#"), line))
            i += m.end()
        elif c.isdigit():
            i += re.match(r"\w+", text[i:]).end()
        elif text.startswith("::", i):
            out.append(("::", line))
            i += 2
        else:
            out.append((c, line))
            i += 1
    return out


def is_ident(t):
    return re.fullmatch(r"\w+", t) is not None and not t[0].isdigit()


# --- one crate -------------------------------------------------------------------------------

class Crate:
    def __init__(self, name, root_file):
        self.name = name
        self.files = {}  # module path (tuple) -> file
        self.toks = {}
        self.children = defaultdict(set)
        self.defs = defaultdict(set)  # module -> item names defined there
        self.bindings = defaultdict(dict)  # module -> name -> (segments, module written in)
        self.globs = defaultdict(list)  # module -> [(segments, module written in)]
        self.uses = []  # (module, segments, line, is_pub, is_glob)
        self.load((), root_file, True)
        for mod in self.files:
            self.scan(mod)

    def load(self, mod, path, is_root_like):
        self.files[mod] = path
        text = open(path, encoding="utf-8").read()
        toks = tokens(text)
        self.toks[mod] = toks
        base = os.path.dirname(path)
        if not is_root_like:
            base = os.path.join(base, os.path.splitext(os.path.basename(path))[0])
        depth = 0
        for k, (t, _) in enumerate(toks):
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
            elif (t == "mod" and depth == 0 and k + 2 < len(toks)
                  and is_ident(toks[k + 1][0]) and toks[k + 2][0] == ";"):
                name = toks[k + 1][0]
                for cand, root_like in ((os.path.join(base, name + ".rs"), False),
                                        (os.path.join(base, name, "mod.rs"), True)):
                    if os.path.exists(cand):
                        self.children[mod].add(name)
                        self.load(mod + (name,), cand, root_like)
                        break

    def scan(self, filemod):
        toks = self.toks[filemod]
        stack = []  # per open brace: inline module name or None
        k = 0

        def cur():
            return filemod + tuple(s for s in stack if s)

        while k < len(toks):
            t, line = toks[k]
            prev = toks[k - 1][0] if k else ""
            if t == "{":
                inline = (toks[k - 1][0] if k >= 2 and toks[k - 2][0] == "mod" else None)
                if inline:
                    self.children[cur()].add(inline)
                stack.append(inline)
            elif t == "}":
                if stack:
                    stack.pop()
            elif t == "use" and prev != "::":
                is_pub = prev == "pub" or (prev == ")" and k >= 4 and "pub" in
                                           [x for x, _ in toks[max(0, k - 6):k]])
                k = self.use_tree(toks, k + 1, [], cur(), line, is_pub)
                continue
            elif t in ("fn", "struct", "enum", "trait", "type", "const", "static", "union",
                       "mod") and k + 1 < len(toks) and is_ident(toks[k + 1][0]):
                self.defs[cur()].add(toks[k + 1][0])
                if t == "fn" and self.is_server_fn(toks, k):
                    camel = "".join(p.capitalize() for p in toks[k + 1][0].split("_"))
                    self.defs[cur()].add(camel)
            elif (toks[k + 1][0] == "::" if k + 1 < len(toks) else False) and prev not in (
                "::", "$"
            ) and (t in ("crate", "super", "self") or t in self.children[cur()]):
                segs = [t]
                j = k + 1
                while j + 1 < len(toks) and toks[j][0] == "::" and is_ident(toks[j + 1][0]):
                    segs.append(toks[j + 1][0])
                    j += 2
                self.uses.append((cur(), segs, line, False, False))
                k = j
                continue
            k += 1

    @staticmethod
    def is_server_fn(toks, k):
        # `#[server] pub async fn name` : look back a few tokens for `server` in an attribute.
        back = [x for x, _ in toks[max(0, k - 12):k]]
        return "server" in back and "#" in back

    def use_tree(self, toks, k, prefix, mod, line, is_pub):
        """Parses one use tree from toks[k]; records its leaves; returns the index after it."""
        segs = list(prefix)
        while k < len(toks):
            t = toks[k][0]
            if t == "::":
                k += 1
            elif t == "{":
                k += 1
                while toks[k][0] != "}":
                    k = self.use_tree(toks, k, segs, mod, line, is_pub)
                    if toks[k][0] == ",":
                        k += 1
                k += 1
                break
            elif t == "*":
                self.uses.append((mod, segs, line, is_pub, True))
                if segs and segs[0] != "super" or len(segs) > 1:
                    self.globs[mod].append((segs, mod))
                k += 1
                break
            elif is_ident(t):
                segs.append(t)
                k += 1
                if toks[k][0] == "::":
                    continue
                alias = segs[-1] if segs[-1] != "self" else segs[-2] if len(segs) > 1 else None
                if toks[k][0] == "as":
                    alias = toks[k + 1][0]
                    k += 2
                real = segs[:-1] if segs[-1] == "self" else segs
                if alias and alias != "_":
                    self.bindings[mod][alias] = (real, mod)
                self.uses.append((mod, real, line, is_pub, False))
                break
            else:
                break
        if prefix == [] and k < len(toks) and toks[k][0] == ";":
            k += 1
        return k

    # -- resolution --

    def resolve(self, mod, segs, seen=None):
        """(defining module, [modules whose re-exports were followed]) or None (extern)."""
        seen = seen or set()
        if not segs:
            return None
        first = segs[0]
        if first == "crate":
            base, rest = (), segs[1:]
        elif first == "super":
            base, rest = mod, segs
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif first == "self":
            base, rest = mod, segs[1:]
        elif first in self.children[mod]:
            base, rest = mod, segs
        elif first in self.bindings[mod] and (mod, first) not in seen:
            seen.add((mod, first))
            bsegs, bmod = self.bindings[mod][first]
            r = self.resolve(bmod, bsegs + segs[1:], seen)
            return r
        else:
            return None
        m = base
        for i, s in enumerate(rest):
            if s in self.children[m]:
                m = m + (s,)
                continue
            key = (m, s)
            if key in seen:
                return (m, [])
            seen.add(key)
            if s in self.bindings[m]:
                bsegs, bmod = self.bindings[m][s]
                r = self.resolve(bmod, bsegs + list(rest[i + 1:]), seen)
                if r:
                    return (r[0], [m] + r[1])
            if s not in self.defs[m]:
                for gsegs, gmod in self.globs[m]:
                    r = self.resolve(gmod, gsegs + [s] + list(rest[i + 1:]), seen)
                    if r and (s in self.defs[r[0]] or r[0] != self.resolve(gmod, gsegs)[0]):
                        return (r[0], [m] + r[1])
            return (m, [])
        return (m, [])

    def filemod(self, mod):
        while mod not in self.files:
            mod = mod[:-1]
        return mod

    def edges(self):
        """{(from, to): [evidence]} between module files."""
        out = defaultdict(list)
        for mod, segs, line, is_pub, _glob in self.uses:
            r = self.resolve(mod, segs)
            if not r:
                continue
            target, facades = r
            src, dst = self.filemod(mod), self.filemod(target)
            where = f"{os.path.relpath(self.files[src], ROOT)}:{line} {'::'.join(segs)}"
            descendant = dst[:len(src)] == src
            if src != dst and not (is_pub and descendant):
                out[(src, dst)].append(where)
            for f in facades:
                f = self.filemod(f)
                if f != src and src[:len(f)] != f and not (is_pub and f[:len(src)] == src):
                    out[(src, f)].append(where + f"  (re-exported by {name(f)})")
        return out


def name(mod):
    return "::".join(mod) if mod else "crate"


# --- cycles ----------------------------------------------------------------------------------

def sccs(nodes, adj):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(adj[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def report(title, edges, collapse, exclude):
    adj, ev = defaultdict(set), defaultdict(list)
    nodes = set()
    for (a, b), where in edges.items():
        a, b = collapse(a), collapse(b)
        nodes |= {a, b}
        if a != b and a not in exclude and b not in exclude:
            adj[a].add(b)
            for w in where:  # once per place, also when a re-export adds a second edge
                if w.split("  (")[0] not in [x.split("  (")[0] for x in ev[(a, b)]]:
                    ev[(a, b)].append(w)
    comps = sccs(nodes, adj)
    if not comps:
        print(f"  {title}: no cycles")
    for comp in comps:
        print(f"  {title} cycle: {' <-> '.join(name(m) for m in comp)}")
        inside = set(comp)
        for a in comp:
            for b in sorted(adj[a] & inside):
                print(f"    {name(a)} -> {name(b)}")
                for w in ev[(a, b)][:3]:
                    print(f"        {w}")
                if len(ev[(a, b)]) > 3:
                    print(f"        … and {len(ev[(a, b)]) - 3} more")
    return len(comps)


def crate_roots(dirs):
    for d in dirs:
        src = os.path.join(d, "src")
        lib, main = os.path.join(src, "lib.rs"), os.path.join(src, "main.rs")
        rel = os.path.relpath(d, ROOT)
        if os.path.exists(lib):
            yield f"{rel} (lib)", lib
        if os.path.exists(main):
            yield f"{rel} (bin)", main


def members():
    text = open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8").read()
    m = re.search(r"members\s*=\s*\[(.*?)\]", text, re.S)
    return [os.path.join(ROOT, x) for x in re.findall(r'"([^"]+)"', m.group(1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, default=1,
                    help="module depth of the collapsed view (default 1: top-level modules)")
    ap.add_argument("--exclude", action="append", default=[], metavar="MODULE",
                    help="leave a module out of the graph (e.g. a hub like `services`), "
                    "to see the cycles that do not go through it; repeatable")
    ap.add_argument("crates", nargs="*", help="crate directories (default: workspace members)")
    args = ap.parse_args()
    dirs = [os.path.abspath(c) for c in args.crates] or members()
    total = 0
    for label, root in crate_roots(dirs):
        krate = Crate(label, root)
        edges = krate.edges()
        print(f"{label}: {len(krate.files)} module files, {len(edges)} edges")
        exclude = {tuple(x.split("::")) for x in args.exclude}
        total += report("module files", edges, lambda m: m, exclude)
        total += report(f"depth {args.depth}", edges, lambda m: m[:args.depth], exclude)
    print(f"{total} cycle(s)")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
