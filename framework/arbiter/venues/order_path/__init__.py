"""The order path's hot half: placing and cancelling as one signed request each (`entry`), on
keep-alive connections of its own (`wire`), paced by the account's order rate (`ratelimit`).
Plugins import these names from `arbiter.venues`.
"""
