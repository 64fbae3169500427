#!/usr/bin/env python3
"""Checks the include arrows between mlflowpp's private rooms (the folders under src/detail).

Every file under src/detail/<room>/ may include ("..." or <...>):
  * its own room, and the rooms its row below allows (detail/<room>/...);
  * the public value headers (mlflowpp/<name>.hpp for a name in VALUE_HEADERS);
and never a facade header (FACADE_HEADERS), src/api/ or a room its row does not list.
Files under src/api/ (the facade's implementation) may include everything.

Usage: check_layers.py [SOURCE_ROOT]   (default: the repository holding this script)
       check_layers.py --self-test      (the checker on a made-up tree with known faults)
Prints one line per violation, `file:line: includes X (room R may not)`, and exits 1 when
there is any; prints a one-line summary and exits 0 otherwise.
"""

# ---- the rule table -------------------------------------------------------------------
# room -> the other rooms it may include (a room may always include itself).
ALLOWED = {
    "core": [],
    "codec": ["core"],
    "http": ["core"],
    "rest": ["core", "codec", "http"],
    "store": ["core", "codec", "http", "rest"],
    "artifacts": ["core", "codec", "http", "rest"],
    "local": ["core", "codec", "store"],
    "stack": ["core", "codec", "http", "rest", "store", "local"],
    "spool": ["core", "codec"],
    "delivery": ["core", "codec", "http", "rest", "store", "spool"],
    "logger": ["core", "codec", "http", "rest", "store", "spool", "delivery"],
}
# Public headers that hold values only: any room may include them.
VALUE_HEADERS = ["entities", "registry", "options", "error", "artifacts", "version", "logging", "requests"]
# Public headers of the facade (Client, ActiveRun, AsyncLogger, ...): only src/api may.
FACADE_HEADERS = ["client", "async_logger", "active_run", "signals", "mlflowpp"]
# ----------------------------------------------------------------------------------------

import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_SUFFIXES = (".hpp", ".cpp", ".h", ".cc", ".ipp", ".inl")


def violation(room, target):
    """Why `room` may not include `target` (a path as written), or None when it may."""
    if target.startswith("mlflowpp/"):
        name = target[len("mlflowpp/"):]
        stem = name[:-4] if name.endswith(".hpp") else name
        if stem in FACADE_HEADERS:
            return "a facade header"
        if stem in VALUE_HEADERS and name.endswith(".hpp"):
            return None
        return "not a public value header"
    if target.startswith("detail/"):
        parts = target.split("/")
        other = parts[1] if len(parts) > 2 else ""
        if other not in ALLOWED:
            return "not a room"
        if other == room or other in ALLOWED[room]:
            return None
        return "a room it may not include"
    if target.startswith("api/"):
        return "the facade's implementation"
    return None  # system and third-party headers (<fmt/format.h>, <simdjson.h>, ...)


def check(root):
    problems = []
    detail = os.path.join(root, "src", "detail")
    files = 0
    for dirpath, _, names in sorted(os.walk(detail)):
        rel_dir = os.path.relpath(dirpath, detail)
        room = rel_dir.split(os.sep)[0]
        for name in sorted(names):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            path = os.path.join(dirpath, name)
            shown = os.path.relpath(path, root)
            files += 1
            if rel_dir == ".":
                problems.append(f"{shown}:1: is directly under src/detail (every file belongs to a room)")
                continue
            if room not in ALLOWED:
                problems.append(f"{shown}:1: room {room} is not in the table of tests/lint/check_layers.py")
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, start=1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(2)
                    if violation(room, target) is not None:
                        problems.append(f"{shown}:{number}: includes {target} (room {room} may not)")
    return files, problems


def self_test():
    """Runs the checker over a made-up tree: every kind of violation, and allowed includes."""
    files = {
        "src/detail/core/a.hpp": '#include "detail/core/b.hpp"\n#include "mlflowpp/error.hpp"\n#include <fmt/format.h>\n',
        "src/detail/core/b.cpp": '#include "detail/codec/json.hpp"\n',
        "src/detail/codec/json.hpp": '#include "detail/core/a.hpp"\n  #  include "mlflowpp/client.hpp"\n',
        "src/detail/store/s.cpp": '#include "detail/rest/rest.hpp"\n#include "detail/spool/spool.hpp"\n',
        "src/detail/logger/l.cpp": '#include "detail/delivery/d.hpp"\n#include "api/client_impl.hpp"\n'
        '#include <mlflowpp/mlflowpp.hpp>\n#include "mlflowpp/unknown.hpp"\n',
        "src/detail/widgets/w.cpp": "",
        "src/api/client.cpp": '#include "mlflowpp/client.hpp"\n#include "detail/logger/l.hpp"\n',
    }
    want = [
        "src/detail/codec/json.hpp:2: includes mlflowpp/client.hpp (room codec may not)",
        "src/detail/core/b.cpp:1: includes detail/codec/json.hpp (room core may not)",
        "src/detail/logger/l.cpp:2: includes api/client_impl.hpp (room logger may not)",
        "src/detail/logger/l.cpp:3: includes mlflowpp/mlflowpp.hpp (room logger may not)",
        "src/detail/logger/l.cpp:4: includes mlflowpp/unknown.hpp (room logger may not)",
        "src/detail/store/s.cpp:2: includes detail/spool/spool.hpp (room store may not)",
        "src/detail/widgets/w.cpp:1: room widgets is not in the table of tests/lint/check_layers.py",
    ]
    with tempfile.TemporaryDirectory(prefix="check_layers-") as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                f.write(text)
        _, got = check(root)
    if sorted(got) != sorted(want):
        print("check_layers: self-test FAILED")
        for line in sorted(set(want) - set(got)):
            print(f"  not found: {line}")
        for line in sorted(set(got) - set(want)):
            print(f"  unexpected: {line}")
        return 1
    print(f"check_layers: self-test OK ({len(want)} violations found, no others)")
    return 0


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isdir(os.path.join(root, "src", "detail")):
        print(f"check_layers: no src/detail under {root}")
        return 2
    files, problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} violation(s) in {files} file(s) under src/detail")
        return 1
    print(f"check_layers: OK ({files} file(s) under src/detail, {len(ALLOWED)} rooms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
