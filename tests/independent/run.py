#!/usr/bin/env python3
"""Runs the independent verifier (verify.py) over every export the test
suite wrote to DIR (default target/independent; see
tests/log/independent.rs) and compares its verdict — ok, or the failure's
kind, position and line — with the service's, recorded in manifest.json.

Exit 0 when they agree on every file, 1 naming each disagreement: then
schema/LOG_FORMAT.md does not say what the service does.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/independent"
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
        cases = json.load(handle)
    if len(cases) < 5:
        print("the manifest holds %d cases; the test suite writes more" % len(cases))
        return 1
    disagreements = []
    for case in cases:
        command = [sys.executable, os.path.join(HERE, "verify.py"),
                   os.path.join(directory, case["file"])] + case["args"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        answer = result.stdout.strip()
        service = case["service"]
        if service["verdict"] == "ok":
            expected = "ok %d" % service["events"] if "events" in service else "ok"
            agrees = result.returncode == 0 and (answer == expected or answer.startswith(expected + " "))
        else:
            show = lambda v: "-" if v is None else str(v)
            expected = "fail %s %s %s" % (service["verdict"], show(service["position"]),
                                          show(service["line"]))
            agrees = result.returncode == 1 and answer.startswith(expected + ":")
        status = "agree" if agrees else "DISAGREE"
        print("%-45s %-8s %s" % (case["file"], status, answer or result.stderr.strip()))
        if not agrees:
            disagreements.append("%s: the service says %r, the independent verifier %r%s"
                                 % (case["file"], expected, answer, " " + result.stderr.strip()))
    if disagreements:
        print("\n".join(["", "The documents do not say what the service does:"] + disagreements))
        return 1
    print("the independent verifier agrees with the service on all %d files" % len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
