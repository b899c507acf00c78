"""Interview mode: a reviewer files a report on someone's behalf
(:mod:`.views`, docs/console.md, "Interview mode")."""
