"""Log in to the local Superset and screenshot chart 1 with headless Chromium."""
import sys

from playwright.sync_api import sync_playwright

out = sys.argv[1]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 900, "height": 520})
    page.goto("http://127.0.0.1:8088/login/")
    page.fill("input[name=username], #username", "admin")
    page.fill("input[name=password], #password", "admin")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.goto("http://127.0.0.1:8088/explore/?slice_id=1&standalone=1")
    page.wait_for_selector("canvas, svg", timeout=60000)
    page.wait_for_timeout(3000)
    page.screenshot(path=out)
    browser.close()
