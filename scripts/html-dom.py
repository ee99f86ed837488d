#!/usr/bin/env python3
"""html-dom.py DOM [--rows N [--shown N]] [--counterexamples N] [--svgs N]
                  [--nodot N] [--replays FILE]

Checks the DOM of a `pinmm check --html` page as a browser built it
(chromium --dump-dom; scripts/check-html.sh): the script ran to its end and
reported no error into #errors, the matrix has N rows and the script counted
them (--shown: it hid all but N, as a filter in the query string asks), every internal link (#id) names an element and no id is used twice,
there are N counterexamples, each with a replay command, with their traces
as SVG pictures laid out by Graphviz (--svgs) or, without dot, saying so
and showing the text (--nodot). --replays FILE: the replay commands, one
a line. Prints each problem; exit status 1
when there is one.
"""
import argparse
import sys
import urllib.parse
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}


class Dom(HTMLParser):
    """What the checks need, from one pass over the document."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # (tag, attrs) of the open elements
        self.ids = {}
        self.hrefs = []
        self.matrix_rows = 0
        self.hidden_rows = 0
        self.svgs = 0            # top-level <svg> elements
        self.svgs_with_nodes = 0
        self.svg_nodes = False
        self.nodot = 0
        self.open_traces = 0     # <details open> holding a text trace
        self.body = {}
        self.text = {}           # text of elements by id: errors, shown
        self.replays = []
        self.replay = None

    def inside(self, tag, **want):
        return any(t == tag and all(a.get(k) == v for k, v in want.items())
                   for t, a in self.stack)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.element(tag, a)
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.element(tag, {k: v or "" for k, v in attrs})

    def element(self, tag, a):
        if "id" in a:
            self.ids[a["id"]] = self.ids.get(a["id"], 0) + 1
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"])
        if tag == "body":
            self.body = a
        if tag == "tr" and self.stack[-1:] and self.stack[-1][0] == "tbody" \
                and self.stack[-2:-1] and self.stack[-2][1].get("id") == "matrix":
            self.matrix_rows += 1
            self.hidden_rows += "hidden" in a
        if tag == "svg" and not self.inside("svg"):
            self.svgs += 1
            self.svg_nodes = False
        if tag == "g" and "node" in a.get("class", "").split() and self.inside("svg"):
            if not self.svg_nodes:
                self.svgs_with_nodes += 1
            self.svg_nodes = True
        if "nodot" in a.get("class", "").split():
            self.nodot += 1
        if tag == "details" and "open" in a and self.inside("div", **{"class": "counterexample"}):
            self.open_traces += 1
        if tag == "code" and a.get("class") == "replay":
            self.replay = ""

    def handle_endtag(self, tag):
        if tag == "code" and self.replay is not None:
            self.replays.append(self.replay)
            self.replay = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.replay is not None:
            self.replay += data
        for _, a in self.stack:
            if a.get("id") in ("errors", "shown"):
                self.text[a["id"]] = self.text.get(a["id"], "") + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dom")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--shown", type=int)
    ap.add_argument("--counterexamples", type=int)
    ap.add_argument("--svgs", type=int)
    ap.add_argument("--nodot", type=int)
    ap.add_argument("--replays")
    args = ap.parse_args()
    dom = Dom()
    with open(args.dom, encoding="utf-8") as f:
        dom.feed(f.read())
    dom.close()
    bad = []
    if dom.body.get("data-script") != "ready":
        bad.append("the page's script did not run to its end (no body data-script=ready)")
    if dom.text.get("errors", "").strip():
        bad.append("#errors: " + dom.text["errors"].strip())
    if "errors" not in dom.ids:
        bad.append("no #errors element")
    if args.rows is not None:
        if dom.matrix_rows != args.rows:
            bad.append(f"#matrix has {dom.matrix_rows} rows, expected {args.rows}")
        want = args.rows if args.shown is None else args.shown
        shown = f"{want} of {args.rows} scenarios shown"
        if dom.text.get("shown", "").strip() != shown:
            bad.append(f"#shown says '{dom.text.get('shown', '')}', expected '{shown}'")
        if dom.matrix_rows - dom.hidden_rows != want:
            bad.append(f"{dom.matrix_rows - dom.hidden_rows} rows not hidden, expected {want}")
    for href in dom.hrefs:
        if urllib.parse.unquote(href[1:]) not in dom.ids:
            bad.append(f"link {href}: no element has that id")
    bad += [f"id {i} is used {n} times" for i, n in dom.ids.items() if n > 1]
    if args.svgs is not None:
        if dom.svgs != args.svgs or dom.svgs_with_nodes != args.svgs:
            bad.append(f"{dom.svgs} SVG pictures ({dom.svgs_with_nodes} with graph nodes), "
                       f"expected {args.svgs}")
    if args.counterexamples is not None and len(dom.replays) != args.counterexamples:
        bad.append(f"{len(dom.replays)} replay commands, expected {args.counterexamples}")
    if args.nodot is not None and (dom.nodot != args.nodot or dom.open_traces != args.nodot):
        bad.append(f"{dom.nodot} 'no picture' notes and {dom.open_traces} open text traces, "
                   f"expected {args.nodot}")
    if args.replays:
        with open(args.replays, "w", encoding="utf-8") as f:
            f.writelines(r + "\n" for r in dom.replays)
    for b in bad:
        print("html-dom:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
