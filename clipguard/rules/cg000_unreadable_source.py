"""CG000: a file that cannot be read, decoded or parsed. The engine reports it: a file that
parses has nothing for this rule to find."""

from clipguard.rule import Invalid, Rule


class UnreadableSource(Rule):
    code = "CG000"
    name = "unreadable-source"
    message = "cannot read, decode or parse this file"
    summary = "File cannot be read, decoded or parsed"
    valid = ("x = 1\n",)
    invalid = (Invalid("def f(:\n    pass\n"), Invalid("x = (\n"))

    def run(self) -> None:
        """Nothing to do on a file that parsed."""
