"""Take the README's screenshot (docs/screenshot.png): the labeling page of the demo
project's thumbs-down queue, 1440x900, in Debian's Chromium.

Run `make run` first (the demo project and its login), then, in another terminal:

    .venv/bin/python docs/screenshot.py [--base http://127.0.0.1:8000]

The votes are shown with emoji: install an emoji font first (Debian: fonts-noto-color-emoji).
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-feedback-2026")
    parser.add_argument("--queue", default="Thumbs-down triage")
    parser.add_argument("--output", default=str(HERE / "screenshot.png"))
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{args.base}/login/")
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{args.base}/p/devot-demo/queues/")
        page.click(f"tr:has-text('{args.queue}') >> text=Start labeling")
        page.wait_for_selector(".question.is-active")
        page.screenshot(path=args.output)
        browser.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
