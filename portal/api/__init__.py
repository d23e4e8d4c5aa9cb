"""The JSON API's plumbing, shared by every app's `api.py`: the error shape and its mapping
(errors), shared field types (types), JSON errors for what never reaches ninja (middleware).
`v1` assembles the API and `auth` checks tokens: those two sit at the top (they import the
apps); the rest imports no app.
"""
