"""Coming back with a receipt: the receipt check, the report's status page
with the replies, and follow-ups that add information or files as new
envelopes of the same case (``views``, the ``followup`` blueprint); the
tokens a check page and a status page carry instead of the receipt
(``access``); finding a report by its receipt and opening its replies for
the page (``lookup``)."""
