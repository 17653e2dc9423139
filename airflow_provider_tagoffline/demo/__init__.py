"""``tagoffline demo``: the sample warehouse and the quickstart run on top of the engine.

Kept outside ``engine/`` so the engine never imports the catalog or the service layer.
"""
