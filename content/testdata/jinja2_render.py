"""Render templates with Python's Jinja2 as Ansible's template module does.

Used by render_jinja2_test.go. Reads {"cases": [{"template": str, "vars":
{...}}]} on stdin and writes [{"out": str} | {"err": str}] on stdout, one
entry per case. The settings are Ansible's: trim_blocks, no lstrip_blocks,
StrictUndefined, and the trailing newline kept.
"""
import json
import sys

import jinja2

env = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=False,
    keep_trailing_newline=True,
)
results = []
for case in json.load(sys.stdin)["cases"]:
    try:
        results.append({"out": env.from_string(case["template"]).render(case["vars"])})
    except Exception as e:  # every failure is a result to compare
        results.append({"err": "%s: %s" % (type(e).__name__, e)})
json.dump(results, sys.stdout)
