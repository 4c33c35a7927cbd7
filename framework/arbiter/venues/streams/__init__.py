"""The venue session every plugin shares, and the parts it is built from.

`session` (`StreamingSession`) is the one session: it opens a `websocket` connection per
product type for books and one for the private stream (`private`, reconciled over REST after
every connect), drives the venue's codecs through their shared halves (`codecs`), and hands
out the plugin's trading object wrapped so every order is watched until it ends (`watched`).
Plugins import these names from `arbiter.venues`.
"""
