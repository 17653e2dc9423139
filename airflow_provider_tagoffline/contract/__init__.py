"""The family contract, at the bottom of the package: what a database family declares (``family.py``:
``Family``), its pure SQL facts (``dialect.py``: ``Dialect``), and a connection resolved to its family
(``connection.py``: ``Resolved``, ``RunConnections``); what a family says is inside a connection
(``introspection.py``: ``Introspection``). It imports nothing above it: the registry of
families (``dialects/__init__.py``) and the resolver (``connections.py``) build on it, and the engine
reads through what its caller resolved with them (``tests/test_import_graph.py``)."""
