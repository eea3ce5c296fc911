"""cirahub.actors: the sync cycle (plain Python) and the Ray actors that run it.

Importing this package does not import Ray; the Ray actors live in their own modules.
"""
