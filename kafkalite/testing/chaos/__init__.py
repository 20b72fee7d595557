"""``make chaos``: a Jepsen-style run of kafkalite under faults (see :mod:`.run`)."""
