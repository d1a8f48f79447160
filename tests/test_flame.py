"""Flamegraph export (user/flame*.c), checked through tests/tools/flame_convert by the real
consumers of each format: headless Chromium runs the SVG's script, `go tool pprof` reads the
pprof profile, ajv validates the speedscope file against the schema in the speedscope npm
package and the speedscope app itself imports it.

Tools come from scripts/setup-flame-deps.sh (Debian's chromium and golang-go; npm packages in
.cache/npm, which these tests also fill when npm is there). A missing tool skips its test, or
fails it when FLAME_REQUIRE_TOOLS=1 (for CI).
"""
import collections
import json
import os
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, ".output", "flame")
FIXTURES = os.path.join(ROOT, "tests", "flame")
BASIC = os.path.join(FIXTURES, "basic.folded")
NPM = os.path.join(ROOT, ".cache", "npm")
NODE_MODULES = os.path.join(NPM, "node_modules")
NPM_PACKAGES = ["speedscope", "ajv", "playwright-core"]
SPEEDSCOPE = os.path.join(NODE_MODULES, "speedscope", "dist", "release")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CFLAGS = ["-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter",
          "-Wno-missing-field-initializers", "-Werror", "-std=gnu11", "-D_GNU_SOURCE", "-Iuser"]
SOURCES = ["tests/tools/flame_convert.c", "user/flame.c", "user/flame_svg.c",
           "user/flame_folded.c", "user/flame_speedscope.c", "user/flame_pprof.c", "user/pb.c"]

# the palette of user/flame_svg.c: darkest shade and spread of each cause
PALETTE = {"cpu": ((225, 110, 30), (30, 70, 30)), "sleep": ((60, 120, 205), (35, 50, 35)),
           "net": ((130, 80, 195), (35, 35, 35))}


@pytest.fixture(autouse=True)
def _built():
    """Overrides conftest's: these tests need flame_convert, not a built ./loopscope."""


def missing(reason):
    if os.environ.get("FLAME_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def build(name, extra=()):
    os.makedirs(OUT, exist_ok=True)
    exe = os.path.join(OUT, name)
    tmp = f"{exe}.{os.getpid()}"
    cmd = ["cc", *CFLAGS, *extra, *SOURCES, "-lz", "-lm", "-o", tmp]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, f"{' '.join(cmd)}\n{p.stderr}"
    os.replace(tmp, exe)
    return exe


@pytest.fixture(scope="session")
def convert():
    return build("flame_convert")


def run(exe, args, stdin=b"", check=True):
    if isinstance(stdin, str):
        stdin = stdin.encode()
    p = subprocess.run([exe, *args], input=stdin, capture_output=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


def basic():
    with open(BASIC, "rb") as f:
        return f.read()


def folded(text):
    """{stack: weight} of folded text."""
    out = {}
    for line in text.splitlines():
        stack, w = line.rsplit(" ", 1)
        assert stack not in out, f"stack printed twice: {stack}"
        out[stack] = float(w)
    return out


def generated(convert, n, seed=1, skew="1.5"):
    return run(convert, ["--generate", str(n), "--seed", str(seed), "--skew", skew,
                         "--unit", "ms", "--emit"]).stdout


@pytest.fixture(scope="session")
def node_modules():
    if not shutil.which("node"):
        missing("node is not installed: run scripts/setup-flame-deps.sh")
    need = [p for p in NPM_PACKAGES
            if not os.path.exists(os.path.join(NODE_MODULES, p, "package.json"))]
    if need:
        if not shutil.which("npm"):
            missing("npm is not installed: run scripts/setup-flame-deps.sh")
        os.makedirs(NPM, exist_ok=True)
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        p = subprocess.run(["npm", "install", "--prefix", NPM, "--no-audit", "--no-fund",
                            "--loglevel=error", *need], capture_output=True, text=True,
                           env=env, timeout=300)
        if p.returncode:
            missing(f"npm install {' '.join(need)} failed: {p.stderr.strip()[-300:]}")
    return NODE_MODULES


@pytest.fixture(scope="session")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        missing("chromium is not installed: run scripts/setup-flame-deps.sh")
    return CHROMIUM


@pytest.fixture(scope="session")
def go():
    go = shutil.which("go")
    if not go:
        missing("go (golang-go) is not installed: run scripts/setup-flame-deps.sh")
    return go


def node(script, args, node_modules, timeout=180):
    env = dict(os.environ, NODE_PATH=node_modules, CHROMIUM=CHROMIUM)
    p = subprocess.run(["node", os.path.join(FIXTURES, script), *args], capture_output=True,
                       text=True, env=env, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def pprof(go, path, *args, tmp_path):
    # HOME: pprof keeps state there; -symbolize=none: the profile names its functions
    env = dict(os.environ, HOME=str(tmp_path))
    p = subprocess.run([go, "tool", "pprof", "-symbolize=none", *args, path],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def top_rows(text):
    """(flat, function) rows of `pprof -top` output."""
    rows, table = [], False
    for line in text.splitlines():
        if line.split()[:2] == ["flat", "flat%"]:
            table = True
        elif table and line.strip():
            cols = line.split()
            rows.append((cols[0], " ".join(cols[5:])))
    return rows


# ---- folded ----

def test_folded_merges_and_sums(convert):
    out = run(convert, ["--unit", "ms"], basic()).stdout.decode()
    assert out.splitlines() == [
        "main (app.py:1);handle (app.py:10);fetch (net.py:7) 50",
        "main (app.py:1);handle (app.py:10);parse (json.py:5) 30",
        "main (app.py:1);idle_wait (app.py:20) 20",
    ]


def test_folded_round_trip_matches_reference(convert):
    text = generated(convert, 20000)
    ref = collections.defaultdict(float)
    for line in text.decode().splitlines():
        stack, w = line.rsplit(" ", 1)
        ref[stack.split(";", 1)[1]] += float(w)   # drop the "@cause" field
    once = run(convert, ["--unit", "ms"], text).stdout
    got = folded(once.decode())
    assert set(got) == {s for s, w in ref.items() if round(w, 3) > 0}
    for stack, w in got.items():
        assert abs(w - ref[stack]) <= 0.0005 + 1e-9, stack
    # folded in, folded out: the same text again
    assert run(convert, ["--unit", "ms"], once).stdout == once


def test_order_of_input_does_not_matter(convert):
    lines = generated(convert, 3000, seed=7).decode().splitlines()
    shuffled = lines[:]
    random.Random(3).shuffle(shuffled)

    def out(fmt, ls):
        return run(convert, ["--unit", "ms", "--format", fmt], "\n".join(ls)).stdout

    # sums of the same numbers in another order may differ in the last bit: compare loosely
    a, b = folded(out("folded", lines).decode()), folded(out("folded", shuffled).decode())
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a)
    a, b = json.loads(out("speedscope", lines)), json.loads(out("speedscope", shuffled))
    assert a["shared"] == b["shared"]
    assert a["profiles"][0]["samples"] == b["profiles"][0]["samples"]
    _, a = svg_frames(out("svg", lines))
    _, b = svg_frames(out("svg", shuffled))
    assert [f["label"] for f in a] == [f["label"] for f in b]
    assert all(abs(x["width"] - y["width"]) <= 0.011 for x, y in zip(a, b))


def test_weights_print_as_the_unit_says(convert):
    text = "a;b 1.25\na;b 0.0004\na;c 0.0004\na;d 2\n"
    ms = folded(run(convert, ["--unit", "ms"], text).stdout.decode())
    # 0.0004 alone rounds to nothing at three decimals: the line is left out
    assert ms == {"a;b": 1.25, "a;d": 2}
    out = run(convert, ["--unit", "samples"], "a;b 1\na;b 2\na;c 4\n").stdout.decode()
    assert out == "a;b 3\na;c 4\n"


def test_root_label_and_causes(convert):
    out = run(convert, ["--unit", "ms", "--root", "idle"], basic()).stdout.decode()
    assert all(line.startswith("idle;main (app.py:1);") for line in out.splitlines())


def test_bad_input_is_refused(convert):
    for text, msg in (("a;b -1\n", b"Invalid argument"), ("a;b\n", b"no weight"),
                      ("a;b x\n", b"bad weight"), ("@net 3\n", b"no stack")):
        p = run(convert, [], text, check=False)
        assert p.returncode == 1 and msg in p.stderr, (text, p.stderr)
    p = run(convert, ["-o", "/tmp/x.png"], "a 1\n", check=False)
    assert p.returncode == 2 and b"unknown format" in p.stderr


def test_strange_names_stay_valid(convert, tmp_path):
    text = ("@net;<mod> (a&b.py:1);f\"q'<x> (c d.py:2);bad\xff\xfe\x01name (\xe2\x82.py:3) 5\n"
            "@cpu;<mod> (a&b.py:1);\xc3\xa9t\xc3\xa9 (caf\xc3\xa9.py:4) 1\n").encode("latin-1")
    names = set()
    for ext in ("svg", "json", "folded"):
        path = str(tmp_path / f"out.{ext}")
        run(convert, ["--unit", "ms", "-o", path], text)
        data = open(path, "rb").read()
        data.decode("utf-8")    # strict: bad bytes were replaced
        if ext == "svg":
            root = ET.fromstring(data)
            names = {t.text.split("\n")[0] for t in root.iter("{http://www.w3.org/2000/svg}title")}
        elif ext == "json":
            frames = json.loads(data)["shared"]["frames"]
            assert {"name": "\u00e9t\u00e9", "file": "caf\u00e9.py", "line": 4} in frames
        else:
            assert len(folded(data.decode())) == 2
    assert "<mod> (a&b.py:1)" in names and "f\"q'<x> (c d.py:2)" in names
    assert "\u00e9t\u00e9 (caf\u00e9.py:4)" in names
    assert "bad???name (??.py:3)" in names


def test_sanitizers(tmp_path):
    exe = build("flame_convert_asan", ["-fsanitize=address,undefined",
                                       "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"])
    text = generated(exe, 20000, seed=5) + basic()
    for ext in ("svg", "folded", "json", "pb.gz"):
        p = run(exe, ["--unit", "ms", "--root", "net", "-o", str(tmp_path / f"x.{ext}")], text)
        assert p.stderr == b""
    p = run(exe, ["--generate", "20000", "--unit", "samples", "--min-width", "0",
                  "-o", str(tmp_path / "g.svg")])
    assert p.stderr == b""
    # more causes than are kept: the rest count as "other", which the legend then shows
    many = "".join(f"@cause{i};main;f{i % 7} {i + 1}\n" for i in range(60))
    p = run(exe, ["--format", "svg"], many)
    assert p.stderr == b"" and b">other</text>" in p.stdout
    doc = json.loads(run(exe, ["--format", "speedscope"], many).stdout)
    assert sum(doc["profiles"][0]["weights"]) == sum(range(1, 61))


# ---- SVG ----

def svg_frames(data):
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(data)
    out = []
    for g in root.find("s:g[@id='frames']", ns).findall("s:g", ns):
        rect = g.find("s:rect", ns)
        out.append({"label": g.find("s:title", ns).text.split("\n")[0],
                    "title": g.find("s:title", ns).text, "fill": rect.get("fill"),
                    "x": float(rect.get("x")), "width": float(rect.get("width"))})
    return root, out


def in_palette(fill, cause):
    rgb = [int(fill[i:i + 2], 16) for i in (1, 3, 5)]
    (base, spread) = PALETTE[cause]
    return all(b <= c <= b + s for c, b, s in zip(rgb, base, spread))


def test_svg_layout_and_colours(convert):
    root, frames = svg_frames(run(convert, ["--unit", "ms", "--format", "svg",
                                            "--title", "basic"], basic()).stdout)
    assert root.find("{http://www.w3.org/2000/svg}script") is not None
    by = {f["label"]: f for f in frames}
    assert [f["label"] for f in frames] == ["all", "main (app.py:1)", "handle (app.py:10)",
                                            "fetch (net.py:7)", "parse (json.py:5)",
                                            "idle_wait (app.py:20)"]
    assert by["all"]["width"] == 1180 and by["handle (app.py:10)"]["width"] == 944
    assert by["handle (app.py:10)"]["title"] == "handle (app.py:10)\n80 ms (80.00%), net"
    assert in_palette(by["fetch (net.py:7)"]["fill"], "net")
    assert in_palette(by["parse (json.py:5)"]["fill"], "cpu")
    assert in_palette(by["idle_wait (app.py:20)"]["fill"], "sleep")
    # 50 net against 30 cpu below it: the dominant cause colours the frame
    assert in_palette(by["handle (app.py:10)"]["fill"], "net")


def test_svg_leaves_out_narrow_frames(convert):
    text = "main;big 1000\n" + "".join(f"main;tiny{i} 0.5\n" for i in range(400))
    _, default = svg_frames(run(convert, ["--format", "svg", "--unit", "ms"], text).stdout)
    assert [f["label"] for f in default] == ["all", "main", "big"]
    # their weight still counts in the parent
    assert "1200 ms (100.00%)" in default[1]["title"]
    _, every = svg_frames(run(convert, ["--format", "svg", "--unit", "ms", "--min-width", "0"],
                              text).stdout)
    assert len(every) == 403


def test_svg_of_many_stacks_stays_small(convert, tmp_path):
    path = tmp_path / "big.svg"
    run(convert, ["--generate", "300000", "--unit", "ms", "-o", str(path)])
    assert path.stat().st_size < 5 << 20
    _, frames = svg_frames(path.read_bytes())
    assert all(f["width"] >= 1180 * 0.001 - 0.01 for f in frames)


def test_svg_in_chromium(convert, chromium, node_modules, tmp_path):
    svg = tmp_path / "basic.svg"
    run(convert, ["--unit", "ms", "--title", "basic", "-o", str(svg)], basic())
    seen = node("svg_check.js", [str(svg), str(tmp_path)], node_modules)
    assert seen["errors"] == [] and seen["requests"] == []
    before = {f["label"]: f for f in seen["before"]}
    zoomed = {f["label"]: f for f in seen["zoomed"]}
    assert before["handle (app.py:10)"]["width"] == 944
    assert "80 ms (80.00%), net" in seen["details"]
    # the clicked frame fills the width, its children scale with it, the rest goes away
    assert zoomed["handle (app.py:10)"]["width"] == 1180
    assert zoomed["fetch (net.py:7)"]["width"] == pytest.approx(1180 * 50 / 80, abs=0.02)
    assert not zoomed["idle_wait (app.py:20)"]["shown"]
    assert zoomed["main (app.py:1)"]["shown"]
    assert seen["unzoom_visible"] == "visible" and seen["screens_differ"]
    hl = [f["label"] for f in seen["search"] if f["fill"] == "#e600e6"]
    assert sorted(hl) == ["fetch (net.py:7)", "parse (json.py:5)"]
    assert seen["matched"] == "Matched: 80.00%"
    assert seen["matched_substring"] == "Matched: 30.00%"
    reset = {f["label"]: f for f in seen["reset"]}
    assert reset["handle (app.py:10)"]["width"] == 944 and reset["idle_wait (app.py:20)"]["shown"]
    assert seen["unzoom_after_reset"] == "hidden"
    for png in ("before.png", "zoomed.png", "search.png"):
        assert (tmp_path / png).stat().st_size > 1000


# ---- speedscope ----

def speedscope_stacks(doc):
    frames = doc["shared"]["frames"]
    prof = doc["profiles"][0]

    def label(i):
        f = frames[i]
        if "file" not in f:
            return f["name"]
        return f"{f['name']} ({f['file']}:{f['line']})" if "line" in f else \
            f"{f['name']} ({f['file']})"
    return {";".join(label(i) for i in s): w for s, w in zip(prof["samples"], prof["weights"])}


def test_speedscope_matches_folded(convert, tmp_path):
    text = generated(convert, 5000, seed=3) + basic()
    doc = json.loads(run(convert, ["--unit", "ms", "--format", "speedscope",
                                   "--title", "t"], text).stdout)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    prof = doc["profiles"][0]
    assert prof["type"] == "sampled" and prof["unit"] == "milliseconds"
    assert prof["endValue"] == pytest.approx(sum(prof["weights"]), abs=0.01)
    ref = folded(run(convert, ["--unit", "ms"], text).stdout.decode())
    got = speedscope_stacks(doc)
    assert {k: v for k, v in got.items() if v} == ref
    counts = json.loads(run(convert, ["--format", "speedscope"], basic()).stdout)
    assert counts["profiles"][0]["unit"] == "none"


def test_speedscope_schema_and_app(convert, node_modules, tmp_path):
    path = tmp_path / "loop.json"
    run(convert, ["--unit", "ms", "--title", "basic loop", "--root", "stall", "-o", str(path)],
        basic() + generated(convert, 2000))
    schema = os.path.join(SPEEDSCOPE, "file-format-schema.json")
    assert os.path.exists(schema), "the speedscope package ships no schema any more"
    args = [str(path), schema]
    app = os.access(CHROMIUM, os.X_OK)
    if app:
        args += [os.path.join(SPEEDSCOPE, "index.html"), str(tmp_path)]
    seen = node("speedscope_check.js", args, node_modules)
    assert seen["valid"], seen["schema_errors"]
    if not app:
        missing("chromium is not installed: the speedscope app was not tried")
    assert seen["errors"] == []
    assert "basic loop" in seen["text"]


# ---- pprof ----

def test_pprof_in_go_tool(convert, go, tmp_path):
    path = str(tmp_path / "loop.pb.gz")
    text = generated(convert, 20000, seed=11) + basic()
    run(convert, ["--unit", "ms", "--title", "loop", "-o", path], text)
    with open(path, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"
    out = pprof(go, path, "-top", tmp_path=tmp_path)
    assert "Type: time" in out
    # the heaviest function by self weight is the same as in the folded output
    self_by_func = collections.defaultdict(float)
    for stack, w in folded(run(convert, ["--unit", "ms"], text).stdout.decode()).items():
        self_by_func[stack.rsplit(";", 1)[-1].rsplit(" (", 1)[0]] += w
    ranked = sorted(self_by_func.items(), key=lambda kv: -kv[1])
    assert ranked[0][1] > ranked[1][1] + 1, "fixture has no clear top function"
    top = top_rows(out)[0]
    assert top[1] == ranked[0][0]
    total = sum(self_by_func.values())
    m = re.search(r"of ([0-9.]+)(ms|s) total", out)
    assert float(m.group(1)) * (1000 if m.group(2) == "s" else 1) == pytest.approx(total, rel=1e-3)


def test_pprof_values_and_labels(convert, go, tmp_path):
    path = str(tmp_path / "basic.pb.gz")
    run(convert, ["--unit", "ms", "--title", "basic", "-o", path], basic())
    top = top_rows(pprof(go, path, "-top", tmp_path=tmp_path))
    assert top[:3] == [("50ms", "fetch"), ("30ms", "parse"), ("20ms", "idle_wait")]
    raw = pprof(go, path, "-raw", tmp_path=tmp_path)
    assert "time/microseconds" in raw and "50000:" in raw and "Comment: basic" in raw
    # the cause label picks samples out
    net = top_rows(pprof(go, path, "-top", "-tagfocus", "cause=net", tmp_path=tmp_path))
    assert [r for r in net if r[0] != "0"] == [("50ms", "fetch")]
    # and the whole stack comes back, leaf first
    traces = pprof(go, path, "-traces", tmp_path=tmp_path)
    assert re.search(r"50ms\s+fetch\s+handle\s+main", traces)

    counts = str(tmp_path / "counts.pb.gz")
    run(convert, ["-o", counts], "a;b 3\na;c 4\n")
    out = pprof(go, counts, "-top", tmp_path=tmp_path)
    assert "Type: samples" in out and top_rows(out)[0] == ("4", "c")
