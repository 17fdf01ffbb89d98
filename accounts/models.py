"""Users and organizations of the network."""
