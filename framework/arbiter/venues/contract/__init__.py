"""What every venue is, as data and protocols; no transport lives here.

`trading` and `session` are the two halves of the contract a plugin implements; `orders` and
`errors` are what crosses it; `limits`, `client_ids` and `config` are what a venue allows and
what an account is opened with; `fields` reads a venue message's fields exactly. Plugins import
these names from `arbiter.venues`.
"""
