#!/usr/bin/env python3
"""Checks the Markdown documentation against the repository and the program.

    check-docs.py --help-text FILE --scrape FILE... [--pending PATH...] DOC.md...

For every DOC:
  - each relative link (Markdown links and <img src>/<a href>) names a file
    or folder that exists, and its #anchor a heading of the Markdown file it
    names (GitHub's anchors); a --pending file (written on another branch)
    may be missing, and is checked like any other once it exists;
  - each `scripts/NAME` exists, and each --flag given to a script in a code
    block appears in that script;
  - each --flag given to linxdot-exporter in a code block, and each
    `--flag` in a code span of the text, is one of the exporter's (in
    --help, hyphens and underscores alike), a script's or an example's
    (scripts/, examples/), or one of the other programs' the docs show
    (FOREIGN_FLAGS, below);
  - each metric of the exporter's families (miner_, temper_, linxdot_,
    probe_, process_, lora_, gwmp_) named in a code span or at the start of
    a code-block line is in one of the --scrape files (a real scrape) or in
    the exposition fixtures (a "# TYPE NAME" line in tests/, src/ or sim/);
    names of the OpenWrt service's UCI options (words of its config file and
    init script) and NOT_METRICS are not metrics.
Commands are looked for in sh, bash, shell and console code blocks; a
script's flag must be in one of its option patterns (`--flag)`, `--flag|`,
`--flag=`) or quoted ("--flag", as argparse takes it).
Prints one line per problem and exits 1 if there was one.
"""
import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Flags of other programs that the docs show, by program.
FOREIGN_FLAGS = {
    "prometheus": ["--config.file", "--web.enable-remote-write-receiver", "--web.config.file",
                   "--enable-feature", "--storage.tsdb.path", "--web.listen-address"],
    "docker/podman": ["--device", "--group-add", "--name", "--rm", "--platform", "--arch", "--all",
                      "--network", "--net", "--cap-add"],
    "cargo/cross": ["--release", "--locked", "--target", "--bin", "--example", "--lib",
                    "--all-targets", "--check", "--sim-sensors", "--sim-flap-ms", "--serve"],
    "sha256sum": ["--ignore-missing"],
    "lintian": ["--fail-on"],
    "pip": ["--target", "--break-system-packages"],
}
FOREIGN = {f for flags in FOREIGN_FLAGS.values() for f in flags}
# Names that look like the exporter's metrics but are something else.
NOT_METRICS = {
    "miner_password": "the password file of the Docker and Compose examples",
}
UCI_FILES = ["openwrt/linxdot-exporter/files/linxdot-exporter.config",
             "openwrt/linxdot-exporter/files/linxdot-exporter.init"]
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
METRIC = re.compile(r"(?:miner|temper|linxdot|probe|process|lora|gwmp)_[a-z0-9_]*[a-z0-9]")
FLAG = re.compile(r"--[a-zA-Z0-9][a-zA-Z0-9._-]*")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*\b(?:src|href)=\"([^\"]+)\"")
SCRIPT = re.compile(r"(?<![\w./-])scripts/[A-Za-z0-9_.-]+[A-Za-z0-9]")


def slug(heading):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def parse(path):
    """Lines of text and of code blocks (line number, text, the block's
    language), and the anchors."""
    prose, code, anchors, seen = [], [], set(), {}
    fence = None
    lang = ""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.strip()
            m = re.match(r"(`{3,}|~{3,})", stripped)
            if m and (fence is None or stripped.startswith(fence)):
                fence = None if fence else m.group(1)
                lang = stripped[len(m.group(1)):].strip().split(" ")[0] if fence else ""
                continue
            if fence:
                code.append((n, line.rstrip("\n"), lang))
                continue
            prose.append((n, line.rstrip("\n")))
            h = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if h:
                s = slug(h.group(1))
                k = seen.get(s, 0)
                seen[s] = k + 1
                anchors.add(s if k == 0 else f"{s}-{k}")
    return prose, code, anchors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--help-text", required=True, help="linxdot-exporter --help")
    ap.add_argument("--scrape", action="append", default=[], help="a /metrics or /probe answer")
    ap.add_argument("--pending", action="append", default=[], help="a doc written on another branch")
    ap.add_argument("docs", nargs="+")
    args = ap.parse_args()

    def norm(flag):
        return flag.split("=", 1)[0].replace("_", "-")

    exporter_flags = {norm(f) for f in FLAG.findall(open(args.help_text).read())}
    metrics = set()
    for path in args.scrape:
        for line in open(path):
            m = re.match(r"(?:# (?:TYPE|HELP) )?([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
            if m:
                metrics.add(m.group(1))
    for top in ("tests", "src", "sim"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                try:
                    text = open(os.path.join(root, name), encoding="utf-8").read()
                except (UnicodeDecodeError, OSError):
                    continue
                metrics.update(re.findall(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*)", text))
    uci_words = set()
    for rel in UCI_FILES:
        uci_words.update(re.findall(r"[a-z][a-z0-9_]*", open(os.path.join(REPO, rel)).read()))

    def is_metric_name(name):
        return name not in uci_words and name not in NOT_METRICS

    script_text = {}

    def script_has(rel, flag):
        text = script(rel)
        return text is not None and re.search(
            r"(?<![\w-])" + re.escape(flag) + r"(?:[)|=]|[\"'](?![\w-]))", text) is not None

    def script(rel):
        if rel not in script_text:
            p = os.path.join(REPO, rel)
            script_text[rel] = open(p).read() if os.path.isfile(p) else None
        return script_text[rel]

    problems = []
    anchors_of = {}
    pending = {os.path.normpath(os.path.join(REPO, p)) for p in args.pending}
    counts = {"links": 0, "flags": 0, "metrics": 0, "scripts": 0}

    def anchors(path):
        if path not in anchors_of:
            anchors_of[path] = parse(path)[2]
        return anchors_of[path]

    for doc in args.docs:
        doc_path = os.path.normpath(os.path.join(REPO, doc))
        rel_doc = os.path.relpath(doc_path, REPO)
        prose, code, own = parse(doc_path)
        anchors_of[doc_path] = own

        def bad(n, what):
            problems.append(f"{rel_doc}:{n}: {what}")

        # Links.
        for n, line in prose:
            for target in LINK.findall(line) + HTML_LINK.findall(line):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):
                    continue
                counts["links"] += 1
                file_part, _, anchor = target.partition("#")
                dest = doc_path if not file_part else os.path.normpath(
                    os.path.join(os.path.dirname(doc_path), file_part))
                if not os.path.exists(dest):
                    if dest in pending:
                        continue
                    bad(n, f"link to a missing file: {target}")
                elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                    bad(n, f"link to a missing anchor: {target}")

        # Code spans of the text (and of tables).
        spans = [(n, s) for n, line in prose for s in re.findall(r"`([^`]+)`", line)]
        for n, span in spans:
            words = span.split()
            if not words:
                continue
            first = words[0]
            if first.startswith("--") and FLAG.fullmatch(norm(first)):
                counts["flags"] += 1
                f = norm(first)
                if f not in exporter_flags and f not in FOREIGN and not any(
                        script_has(f"{d}/{s}", f) for d in ("scripts", "examples")
                        for s in os.listdir(os.path.join(REPO, d))):
                    bad(n, f"`{first}` is no flag of linxdot-exporter, of a script or example, or of FOREIGN_FLAGS")
            m = METRIC.match(first)
            if m and m.end() == len(first.split("{")[0]) and is_metric_name(m.group(0)):
                counts["metrics"] += 1
                if m.group(0) not in metrics:
                    bad(n, f"metric `{m.group(0)}` is in no scrape and no exposition fixture")

        # Code blocks: metrics at the start of a line, commands and their flags.
        joined = []
        for n, line, lang in code:
            if joined and joined[-1][1].endswith("\\"):
                joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line.strip(), lang)
            else:
                joined.append((n, line, lang))
        for n, line, lang in joined:
            m = METRIC.match(line)
            if m and re.match(r"[{ ]", line[m.end():m.end() + 1] or " ") and is_metric_name(m.group(0)):
                counts["metrics"] += 1
                if m.group(0) not in metrics:
                    bad(n, f"metric `{m.group(0)}` is in no scrape and no exposition fixture")
            if lang not in SHELL_BLOCKS:
                continue
            command = re.split(r"\s#\s|\s#$|&&|\|\||;|\|", line)
            for part in command:
                words = part.replace("'", " ").replace('"', " ").split()
                # A script and what follows it.
                for i, w in enumerate(words):
                    s = SCRIPT.search(w)
                    if s and w.startswith(("scripts/", "./scripts/", "$repo/scripts/")):
                        for flag in (x for x in words[i + 1:] if x.startswith("--")):
                            counts["flags"] += 1
                            if script(s.group(0)) is not None and not script_has(s.group(0), norm(flag)):
                                bad(n, f"{s.group(0)} has no {norm(flag)}")
                        break
                # linxdot-exporter as a command or an image name (not `--name linxdot-exporter`).
                idx = [i for i, w in enumerate(words)
                       if os.path.basename(w) == "linxdot-exporter" and (i == 0 or words[i - 1] != "--name")]
                if idx:
                    for flag in (x for x in words[idx[-1] + 1:] if x.startswith("--")):
                        counts["flags"] += 1
                        if norm(flag) not in exporter_flags:
                            bad(n, f"linxdot-exporter has no {flag}")

        # Scripts named anywhere.
        for n, line in prose + [(n, line) for n, line, _ in code]:
            for s in SCRIPT.findall(line):
                counts["scripts"] += 1
                if not os.path.exists(os.path.join(REPO, s)):
                    bad(n, f"{s} does not exist")

    for p in problems:
        print(p)
    for p in sorted(pending):
        if not os.path.exists(p):
            print(f"pending (written on another branch, not checked yet): {os.path.relpath(p, REPO)}")
    print(f"{len(args.docs)} files: {counts['links']} relative links, {counts['flags']} flags, "
          f"{counts['metrics']} metric names, {counts['scripts']} script names checked; "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
