"""Every table of the node, imported in one place for migrations."""

from events import tables as events  # noqa: F401
from federation import tables as federation  # noqa: F401
from schema.councils import tables as councils  # noqa: F401
from schema.petitions import tables as petitions  # noqa: F401
from schema.reviews import tables as reviews  # noqa: F401
from server import (
    dataversion,  # noqa: F401
    ratelimit,  # noqa: F401
)
from server.accounts import tables as accounts  # noqa: F401
