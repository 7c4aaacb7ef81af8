// Drive Debian's chromium (through playwright-core, never a downloaded browser) through an
// authorization server's login and consent pages, as a user would.
//
//   node browser.mjs '{"url": "...", "stopAt": "http://127.0.0.1:8000/cb", "login": "alice",
//                      "password": "pw", "approve": true, "timeoutMs": 30000}'
//
// Follows the flow until the browser navigates to a URL starting with stopAt, then prints
// {"url": <that URL>, "pages": [titles seen]} on stdout. The navigation is recorded when it
// is requested, so the target need not even answer.

import { chromium } from 'playwright-core';

const options = JSON.parse(process.argv[2]);
const {
  url, stopAt, login = 'alice', password = 'secret-password', approve = true,
  timeoutMs = 30000, executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
} = options;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // The machine's network is closed: without these, chromium keeps calling home.
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});

let finalUrl = null;
const pages = [];
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.on('request', (request) => {
    if (!finalUrl && request.isNavigationRequest() && request.url().startsWith(stopAt)) {
      finalUrl = request.url();
    }
  });

  const deadline = Date.now() + timeoutMs;
  const done = () => finalUrl !== null;
  const settle = async () => {
    // Wait for the next page (or for the final navigation, which may never load).
    while (!done() && Date.now() < deadline) {
      try {
        await page.waitForLoadState('load', { timeout: 200 });
        if (await page.locator('form').count() || done()) return;
      } catch {
        // still navigating
      }
      await page.waitForTimeout(50);
    }
  };

  await page.goto(url, { waitUntil: 'commit' }).catch((error) => {
    if (!done()) throw error;
  });
  while (!done() && Date.now() < deadline) {
    await settle();
    if (done()) break;
    pages.push(await page.title().catch(() => ''));
    const before = page.url();
    if (await page.locator('#continue').count()) {
      // outbound's own page for a connect link: one button starts the flow.
      await page.click('#continue', { noWaitAfter: true });
    } else if (await page.locator('input[name="login"]').count()) {
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', password);
      await page.click('button[type="submit"]', { noWaitAfter: true });
    } else if (await page.locator('input[name="prompt"][value="consent"]').count()) {
      if (approve) {
        await page.click('button[type="submit"]', { noWaitAfter: true });
      } else {
        await page.click('text=[ Cancel ]', { noWaitAfter: true });
      }
    } else {
      throw new Error(`unexpected page at ${before}: ${(await page.content()).slice(0, 500)}`);
    }
    // Let the navigation the click started begin before looking at the page again.
    while (!done() && page.url() === before && Date.now() < deadline) {
      await page.waitForTimeout(25);
    }
  }
  if (!done()) throw new Error(`never reached ${stopAt}; last page ${page.url()}`);
  process.stdout.write(`${JSON.stringify({ url: finalUrl, pages })}\n`);
} finally {
  await browser.close();
}
