"""The reporter's pages: the form, the safety page and the receipt
(``views``, the ``report`` blueprint), the upload of envelopes sealed in the
browser (``upload``, its route on the same blueprint). The report's fields
are defined once, in :mod:`core.schema.fields`; coming back with a receipt
is :mod:`intake.followup`, flood and abuse control :mod:`intake.abuse`."""
