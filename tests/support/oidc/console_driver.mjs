// A browser the Python tests steer one step at a time: Debian's chromium through
// playwright-core, commands as JSON lines on stdin, one JSON line of answer each on stdout.
//
//   {"op": "goto", "url": "..."}            {"op": "fill", "selector": "#x", "value": "..."}
//   {"op": "click", "selector": "#x"}       {"op": "text" | "value" | "count", "selector": ...}
//   {"op": "url"} {"op": "content"} {"op": "cookies"} {"op": "clipboard"} {"op": "cspErrors"}
//   {"op": "axe"}  -> the serious and critical violations axe-core finds on the page
//   {"op": "screenshot", "path": "...", "width": 375}
//
// Answers are {"ok": true, "result": ...} or {"ok": false, "error": "..."}.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage',
  ],
});
const context = await browser.newContext({
  viewport: { width: 1280, height: 800 },
  permissions: ['clipboard-read', 'clipboard-write'],
});
const page = await context.newPage();
page.setDefaultTimeout(15000);
const cspErrors = [];
page.on('console', (message) => {
  if (message.type() === 'error' && /Content.Security.Policy/i.test(message.text())) {
    cspErrors.push(message.text());
  }
});

async function run(command) {
  switch (command.op) {
    case 'goto': {
      const response = await page.goto(command.url, { waitUntil: 'load' });
      return { status: response ? response.status() : 0, url: page.url() };
    }
    case 'fill':
      await page.fill(command.selector, command.value);
      return null;
    case 'check':
      await page.check(command.selector);
      return null;
    case 'click':
      if (command.navigate === false) {
        await page.click(command.selector);
      } else {
        await Promise.all([page.waitForEvent('load'), page.click(command.selector)]);
      }
      return { url: page.url() };
    case 'text':
      return await page.locator(command.selector).first().innerText();
    case 'value':
      return await page.locator(command.selector).first().inputValue();
    case 'count':
      return await page.locator(command.selector).count();
    case 'visibleCount':
      return await page.locator(`${command.selector}:visible`).count();
    case 'url':
      return page.url();
    case 'content':
      return await page.content();
    case 'cookies':
      return await context.cookies();
    case 'clipboard':
      return await page.evaluate(() => navigator.clipboard.readText());
    case 'cspErrors':
      return cspErrors.splice(0);
    case 'focusOrder': {
      // The first n elements Tab reaches, as "tag#id" or their text.
      const seen = [];
      await page.evaluate(() => document.activeElement?.blur());
      for (let i = 0; i < command.n; i += 1) {
        await page.keyboard.press('Tab');
        seen.push(await page.evaluate(() => {
          const el = document.activeElement;
          return el ? `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}:${(el.innerText || el.getAttribute('name') || '').trim().slice(0, 40)}` : '';
        }));
      }
      return seen;
    }
    case 'axe': {
      // Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on.
      await page.evaluate(axeSource);
      const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      return results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
    }
    case 'screenshot': {
      await page.setViewportSize({ width: command.width, height: command.height ?? 800 });
      await page.screenshot({ path: command.path, fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
      return command.path;
    }
    case 'scrollWidth':
      await page.setViewportSize({ width: command.width, height: 800 });
      try {
        return await page.evaluate(() => document.documentElement.scrollWidth);
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.op === 'close') break;
  try {
    const result = await run(command);
    process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error?.stack ?? error) })}\n`);
  }
}
await browser.close();
