"""`skillrelay demo`: the loop on embedded defaults, with a real local LRS and no outside system."""
