"""The admin web dashboard, served under /admin by the web app (bot/dashboard/app.py)."""
