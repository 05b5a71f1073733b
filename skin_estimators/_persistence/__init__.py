"""Model files (private): the allow-lists, the JSON codec and the safe file format.

The public entry points are in :mod:`skin_estimators.persistence`.
"""
