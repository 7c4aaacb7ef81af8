// Drive Debian's chromium (playwright-core) through the test provider's device flow pages
// (RFC 8628 §3.3) as a user on another device would: open the verification URI, type the user
// code, confirm, sign in, approve. Prints {"pages": [titles], "done": <final page text>}.
//
//   node device_browser.mjs '{"url": "<verification_uri>", "userCode": "ABCD-EFGH",
//                             "login": "alice", "approve": true, "timeoutMs": 30000}'

import { chromium } from 'playwright-core';

const options = JSON.parse(process.argv[2]);
const {
  url, userCode, login = 'alice', password = 'secret-password', approve = true,
  timeoutMs = 30000, executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
} = options;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});

const pages = [];
try {
  const context = await browser.newContext();
  // the provider's pages import a web font; the machine's network is closed
  await context.route(/^https:\/\//, (route) => route.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  await page.goto(url);
  const deadline = Date.now() + timeoutMs;
  let done = null;
  let aborted = false;
  while (!done && Date.now() < deadline) {
    await page.waitForLoadState('load');
    pages.push(await page.title());
    const before = page.url();
    const text = await page.locator('body').innerText();
    if (aborted) {
      // the provider's answer to [ Abort ]: the code input page again, with its message
      done = text;
      break;
    } else if (await page.locator('button[name="abort"]').count()) {
      // "Confirm Device" (its form carries the code in a hidden field): Continue, or
      // [ Abort ] to decline
      await page.click(approve ? 'button[autofocus]' : 'button[name="abort"]', { noWaitAfter: true });
      aborted = !approve;
    } else if (await page.locator('input[name="user_code"]:not([type="hidden"])').count()) {
      await page.fill('input[name="user_code"]:not([type="hidden"])', userCode);
      await page.click('button[type="submit"]', { noWaitAfter: true });
    } else if (await page.locator('input[name="login"]').count()) {
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', password);
      await page.click('button[type="submit"]', { noWaitAfter: true });
    } else if (await page.locator('input[name="prompt"][value="consent"]').count()) {
      await page.click(approve ? 'button[type="submit"]' : 'text=[ Cancel ]', { noWaitAfter: true });
    } else {
      done = text;
      break;
    }
    while (page.url() === before && Date.now() < deadline) {
      const now = await page.locator('body').innerText().catch(() => text);
      if (now !== text) break;
      await page.waitForTimeout(50);
    }
  }
  if (!done) throw new Error(`the device flow did not end; last page ${page.url()}`);
  process.stdout.write(`${JSON.stringify({ pages, done })}\n`);
} finally {
  await browser.close();
}
