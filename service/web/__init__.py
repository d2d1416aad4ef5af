"""The one kit for server-rendered pages (issue 27): templates, page(), CSP, forms, the "sign in first"
answer (pages.py, forms.py), one session store and its CSRF check (sessions.py). The SMART app and the
reviewer desk both build their HTML and keep their sessions here, nowhere else."""
