"""Who is at the console: accounts and password hashes (:mod:`.accounts`),
login, second factors and sessions (:mod:`.views`, :mod:`.passkeys`,
:mod:`.devices`), and the one before-request check of login and role
(:mod:`.guard`, with the table in admin/permissions.py)."""
