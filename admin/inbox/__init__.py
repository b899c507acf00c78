"""The inbox: the list of cases with its filters and the sync button
(:mod:`.views`), and search across the decrypted reports, in memory only
(:mod:`.search`)."""
