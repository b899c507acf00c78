"""Reply templates: replies for common situations in each reporter
language (:mod:`.service`, with the shipped starter set in :mod:`.starter`)
and the coordinator's pages to keep them (:mod:`.views`)."""
