"""The browser side: Jinja2 templates and static files, shipped in the wheel as the package `live.web`."""
