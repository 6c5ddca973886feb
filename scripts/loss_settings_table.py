#!/usr/bin/env python3
"""Prints the markdown table of losses/loss_settings.def for docs/losses.md ("Loss settings").

Usage: scripts/loss_settings_table.py [losses/loss_settings.def]
The rows are the X-macro's SPK_LOSS_SETTING(name, kind, default, losses, help); adjacent string literals are joined.
"""
import re
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "losses/loss_settings.def"
text = "\n".join(l for l in open(path, encoding="utf-8").read().splitlines() if not l.lstrip().startswith("//"))
ROW = (r"SPK_LOSS_SETTING\((\w+),\s*(\w+),\s*(\"[^\"]*\"|[^,]+),\s*\"([^\"]*)\","
       r"((?:\s*\"(?:[^\"\\]|\\.)*\")+)\)")
rows = re.findall(ROW, text)
print("| flag / YAML key / LossConfig member | kind | default | used by | meaning |")
print("|---|---|---|---|---|")
for name, kind, default, losses, help_parts in rows:
    help_text = "".join(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", help_parts)).replace("|", "\\|")
    default = default.strip().strip('"')
    print(f"| `--{name}` | {kind} | `{default}` | {', '.join(losses.split())} | {help_text} |")
