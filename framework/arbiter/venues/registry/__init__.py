"""How the runtime finds venue plugins and opens their accounts: installed plugins by entry
point (`plugins`), what a plugin module declares (`kit`), an account's keys resolved from the
manifest's references (`credentials`) and kept out of every log line (`secrets`).
"""
