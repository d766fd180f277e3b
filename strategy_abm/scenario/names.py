"""Names of scenarios and experiments, which name their default output folders."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# A scenario or experiment name names its default output folder: letters, digits, spaces, "_",
# "-" and ".", starting with a letter or digit, so never a path, "." or "..", nor hidden.
NAME_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,62}[A-Za-z0-9_-])?")
NAME_RULE = (
    "must be 1 to 64 letters, digits, spaces, '_', '-' or '.', starting with a letter or digit "
    "and not ending with a space or '.'"
)


def check_name(value: str) -> str:
    """A scenario or experiment ``name``: refused unless it is a plain folder name (see NAME_RULE)."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{NAME_RULE} (it names the output folder)")
    return value


# The ``name`` field of a scenario, experiment, calibration, tournament or tuning file.
FolderName = Annotated[str, AfterValidator(check_name)]
