"""The organization's keys: custody of the private key files and the data
key (:mod:`.custody`), the pinned coalition roster (:mod:`.roster`), and the
key page with unlock and lock (:mod:`.views`)."""
