"""The storm guard: is this poll's number of new items far above what the feed usually brings?

A feed re-published with new GUIDs, a CMS migration or a first poll of a big feed can turn dozens
of old stories into "new" items at once. They are all stored (nothing is missed), but one alert
each would bury the desk, so their alerts are held and sent as one digest. Pure function; the
feed's usual count is a moving average kept by the store.
"""

from __future__ import annotations


def is_storm(new_items: int, usual: float | None, polls: int, *, min_items: int, factor: float) -> bool:
    """``new_items`` from one poll is a storm when it reaches ``min_items`` and is ``factor``
    times the usual (at least 1). A feed never polled with new items has no usual, so
    ``min_items`` alone decides: a first poll of a 50-item feed is a backlog, not 50 stories to
    alert on one by one."""
    if new_items < min_items:
        return False
    if polls == 0 or usual is None:
        return True
    return new_items >= factor * max(usual, 1.0)
