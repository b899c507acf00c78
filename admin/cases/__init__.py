"""Cases: the case page (:mod:`.views`), opening stored cases with the data
key (:mod:`.service`), the report as the page shows it (:mod:`.reportview`),
triage and coding (:mod:`.triage`), links between cases (:mod:`.links`),
briefing vignettes (:mod:`.vignettes`) and replies to reporters
(:mod:`.replies`)."""
