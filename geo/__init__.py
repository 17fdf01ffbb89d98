"""Geometry shared by every domain: points, service-area shapes and the SQL that measures them.

`geo` knows shapes and spatial SQL, never services or referrals.
"""

SRID = 4326
