"""Attachments: the sealed blobs on disk (:mod:`.blobs`, written by sync and
read by the case page, chunk by chunk) and the safe looks at untrusted
images and PDFs (:mod:`.sanitize`)."""
