"""aitaem.connectors - connections to the backends."""

from aitaem.connectors.connection import ConnectionManager
from aitaem.connectors.ibis_connector import IbisConnector

__all__ = ["IbisConnector", "ConnectionManager"]
