"""Pages for the network's administrators."""
