"""Security, pure: SASL mechanisms, SCRAM credentials, JAAS options, ACLs and their decisions.

No I/O here (L3); the broker's trio shell (``kafkalite.security.service``, the network layer
and the handlers) carries the decisions out.
"""
