"""How the demo prints a step: its name in a column, then what happened."""

from __future__ import annotations


def say(step: str, text: str) -> None:
    lines = text.splitlines() or [""]
    print(f"{step:<10} {lines[0]}")
    for line in lines[1:]:
        print(f"{'':<10} {line}")
