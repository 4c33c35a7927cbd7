"""OKX v5 venue plugin for Arbiter: sans-IO codec, transports and REST."""
