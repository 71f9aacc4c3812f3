"""Screenshots of the `dance2d serve` page before and after a run (docs/web_before.png, docs/web_after.png).

    python scripts/web_screenshots.py --photo tests/data/cameraman.png --song examples/sixtyfour_excerpt.ogg

Needs dance2d[web,photo], playwright (Python package) and Chromium (apt-get install chromium); uses the bundled
model unless --model is given.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default="tests/data/cameraman.png")
    ap.add_argument("--song", default="examples/sixtyfour_excerpt.ogg")
    ap.add_argument("--model", help="checkpoint (default: the bundled model)")
    ap.add_argument("--out", default="docs", help="folder for web_before.png and web_after.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from dance2d.web import serve

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app, url = serve(port=port, model=a.model, block=False)
    out = Path(a.out)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=a.chromium, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url, wait_until="networkidle")
            page.locator("#song input[type=file]").set_input_files(a.song)
            page.locator("#reference input[type=file]").set_input_files(a.photo)
            page.wait_for_function("document.querySelector('#reference').innerText.includes('.')", timeout=20000)
            time.sleep(1.0)
            page.screenshot(path=str(out / "web_before.png"))
            t0 = time.time()
            page.click("#generate")
            page.wait_for_selector("#video video", timeout=600_000)
            page.wait_for_selector("#download a", timeout=60_000)
            print(f"run took {time.time() - t0:.1f} s in the page")
            page.evaluate("""async () => {
                const v = document.querySelector('#video video');
                v.muted = true; await v.play(); await new Promise(r => setTimeout(r, 2500)); v.pause();
            }""")
            page.screenshot(path=str(out / "web_after.png"))
            browser.close()
    finally:
        app.close()
    print(f"wrote {out / 'web_before.png'} and {out / 'web_after.png'}")


if __name__ == "__main__":
    main()
