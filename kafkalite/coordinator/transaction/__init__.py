"""The transaction coordinator (KIP-98), pure: state machine, ``__transaction_state`` records,
and the coordinator that decides; ``kafkalite/coordinator/service.py``-style shells carry out
its effects.

Modules: ``state`` (the state table), ``log`` (record schemas), ``metadata`` (one
transactional id, two-phase transitions), ``results`` (answers and effects), ``machine``
(the coordinator), with ``markers`` and ``loading`` as parts of it.
"""

from kafkalite.coordinator.transaction.machine import TransactionCoordinator, TxnConfig
from kafkalite.coordinator.transaction.results import (
    InitPidResult, ListedTxn, ListTxnsResult, SendMarkers, TxnDescription)
from kafkalite.coordinator.transaction.state import TxnState

__all__ = ["TransactionCoordinator", "TxnConfig", "InitPidResult", "ListedTxn",
           "ListTxnsResult", "SendMarkers", "TxnDescription", "TxnState"]
