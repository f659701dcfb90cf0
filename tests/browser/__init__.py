"""Browser tests: headless Debian Chromium via Playwright, cut off from all but 127.0.0.1."""
