"""Operations that run on a timer rather than from a page: the daily
digest (:mod:`.digest`) and retention with purge (:mod:`.retention`)."""
