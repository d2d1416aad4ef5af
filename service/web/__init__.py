"""The one kit for server-rendered pages (issue 27): templates, page(), CSP, CSRF checks, forms, the
"sign in first" answer. The SMART app and the reviewer desk both build their HTML here, nowhere else."""
