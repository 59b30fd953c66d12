// Browser test of the web dashboard: a real `adclick serve --source generator` on a free
// loopback port, Debian's Chromium driven by playwright-core. Fails (exit 1) when the page does
// not load, shows no counts or no top-K rows, shows a number the REST API does not confirm, does
// not follow a change of ad or filter, swallows an API error, overflows a narrow window, or
// cannot be used with an API token. Screenshots are written to --out.
//
//   node dashboard_test.mjs --adclick <adclick binary> --out <dir> [--chromium /usr/bin/chromium]

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const ADCLICK = args.adclick;
const OUT = args.out || '.';
const CHROMIUM = args.chromium || '/usr/bin/chromium';
if (!ADCLICK) throw new Error('usage: node dashboard_test.mjs --adclick <binary> --out <dir>');
mkdirSync(OUT, { recursive: true });

const timings = {};
const t0 = Date.now();
const log = (...m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s]`, ...m);
function check(cond, message) {
  if (!cond) throw new Error(`FAILED: ${message}`);
  log(`ok: ${message}`);
}

/** adclick serve on 127.0.0.1:0 (the OS picks the port); resolves once it prints the port. */
function startServer(dataDir, extra = []) {
  const child = spawn(ADCLICK, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--source', 'generator',
    '--rate', '3000', '--ads', '300', '--window', '10s', '--watermark-bound', '2s', ...extra],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`adclick serve printed no port in 30 s:\n${output}`)), 30000);
    const onData = (d) => {
      output += d;
      const m = output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), output: () => output }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`adclick serve exited (${code}):\n${output}`)); });
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve(server.child.exitCode);
    const kill = setTimeout(() => server.child.kill('SIGKILL'), 20000);
    server.child.removeAllListeners('exit');
    server.child.on('exit', (code) => { clearTimeout(kill); resolve(code); });
    server.child.kill('SIGTERM');
  });
}

async function rest(port, path, token) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

/** The series state the page shows: ad, query, total, update count, and the windows table. */
const pageSeries = (page) => page.evaluate(() => {
  const c = document.getElementById('series-chart');
  const rows = [...document.querySelectorAll('#series-table tbody tr')].map((tr) => ({
    start: Number(tr.dataset.start), source: tr.dataset.source,
    count: Number(tr.children[1].textContent.replace(/,/g, '')),
  }));
  return {
    ad: c.dataset.ad, query: c.dataset.query, updates: Number(c.dataset.updates || 0),
    total: Number(document.getElementById('series-total').dataset.value || 0), rows,
  };
});

async function waitForSeriesUpdate(page, after, timeout = 15000) {
  await page.waitForFunction((n) => Number(document.getElementById('series-chart').dataset.updates || 0) > n, after, { timeout });
  return pageSeries(page);
}

/** The page's total against the API for the same query: r1 ≤ page ≤ r2 (counts of a range only grow). */
async function checkTotalAgainstApi(page, port) {
  for (let attempt = 0; attempt < 5; ++attempt) {
    const before = await pageSeries(page);
    const countPath = before.query.replace('/series', '/aggregated_count');
    const r1 = await rest(port, countPath);
    const shown = await waitForSeriesUpdate(page, before.updates + 1); // fetched after r1
    const r2 = await rest(port, countPath);
    if (shown.query !== before.query) continue; // the range moved on to the next window: again
    check(r1.status === 200 && r2.status === 200, `GET ${countPath} answers 200`);
    check(r1.body.click_count <= shown.total && shown.total <= r2.body.click_count,
      `page total ${shown.total} lies between the API's answers before (${r1.body.click_count}) and after (${r2.body.click_count}) for ${countPath}`);
    check(shown.rows.reduce((n, r) => n + r.count, 0) === shown.total, 'the windows table sums to the total shown');
    return shown;
  }
  throw new Error('FAILED: the page query kept changing; could not compare it with the API');
}

/** A final window the page shows must equal the API's count of exactly that window. */
async function checkFinalWindow(page, port, windowSeconds) {
  const s = await pageSeries(page);
  const row = s.rows.find((r) => r.source === 'speed-final' && r.count > 0);
  check(row !== undefined, `the page shows a final window with clicks for ad ${s.ad}`);
  const q = new URL(`http://x${s.query}`);
  q.pathname = q.pathname.replace('/series', '/aggregated_count');
  q.searchParams.set('from', String(row.start));
  q.searchParams.set('to', String(row.start + windowSeconds));
  const r = await rest(port, q.pathname + q.search);
  check(r.status === 200 && r.body.click_count === row.count && r.body.provenance.speed_final === 1,
    `final window ${row.start} of ad ${s.ad}: page ${row.count}, API ${r.body.click_count}`);
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'web-dashboard-test-'));
  const servers = [];
  let browser;
  try {
    const server = await startServer(join(scratch, 'data'));
    servers.push(server);
    log(`adclick serve on port ${server.port}`);
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    const offsite = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Chromium logs every 4xx answer as a console error; the page shows those itself (checked below).
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
    });
    page.on('request', (r) => { if (!r.url().startsWith(`http://127.0.0.1:${server.port}/`)) offsite.push(r.url()); });

    const loadStart = Date.now();
    const response = await page.goto(`http://127.0.0.1:${server.port}/`, { waitUntil: 'load' });
    timings.loadMs = Date.now() - loadStart;
    check(response.status() === 200 && response.headers()['content-type'].startsWith('text/html'), 'GET / serves the page');
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1, null, { timeout: 15000 });
    timings.firstUpdateMs = Date.now() - loadStart;

    // Counts and top-K.
    await page.waitForFunction(() => Number(document.getElementById('series-total').dataset.value || 0) > 0
      && document.querySelectorAll('#topk-exact tbody tr').length > 0, null, { timeout: 60000 });
    timings.firstCountsMs = Date.now() - loadStart;
    check(true, 'the page shows a non-zero count and top-K rows');
    const u1 = await page.evaluate(() => Number(document.body.dataset.updates));
    const t1 = Date.now();
    await page.waitForFunction((n) => Number(document.body.dataset.updates) >= n + 5, u1, { timeout: 20000 });
    timings.updatesPerSecond = +((5 * 1000) / (Date.now() - t1)).toFixed(2);
    timings.tickMs = await page.evaluate(() => Number(document.body.dataset.tickMs));
    check(timings.updatesPerSecond >= 0.8, `the page updates about every second (${timings.updatesPerSecond}/s)`);
    const tp = await page.textContent('#tp-now');
    check(tp !== '–' && Number.parseFloat(tp) > 0, `throughput shown: ${tp} events/s`);
    const pipe = await rest(server.port, '/v1/pipeline');
    const windowSeconds = pipe.body.config.window_seconds;

    // A number on the page against the API.
    const first = await checkTotalAgainstApi(page, server.port);
    await page.waitForFunction(() => [...document.querySelectorAll('#series-table tbody tr')]
      .some((tr) => tr.dataset.source === 'speed-final' && Number(tr.children[1].textContent.replace(/,/g, '')) > 0),
    null, { timeout: 60000 });
    await checkFinalWindow(page, server.port, windowSeconds);
    const topAds = await page.$$eval('#topk-exact tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    const apiTop = await rest(server.port, '/v1/ads/top_k?window_minutes=1&k=10');
    check(apiTop.status === 200 && apiTop.body.top_ads.length > 0, 'the API top-K has rows');

    // Change the ad: the chart follows.
    const chartBefore = await page.locator('#series-chart canvas').screenshot();
    const other = topAds.find((a) => a !== first.ad);
    check(other !== undefined, `another ad than ${first.ad} is listed in the top-K table`);
    await page.fill('#ad-input', other);
    await page.press('#ad-input', 'Enter');
    await page.waitForFunction((ad) => document.getElementById('series-chart').dataset.ad === ad, other, { timeout: 15000 });
    const changed = await checkTotalAgainstApi(page, server.port);
    check(changed.ad === other && changed.query.includes(`/v1/ads/${other}/series`), `the chart now shows ad ${other}`);
    const chartAfter = await page.locator('#series-chart canvas').screenshot();
    check(!chartBefore.equals(chartAfter), 'the chart was redrawn for the new ad');

    // A device filter, then a bad region: the API's 400 is shown, not swallowed.
    await page.selectOption('#device-input', 'mobile');
    await page.waitForFunction(() => (document.getElementById('series-chart').dataset.query || '').includes('filter_user_agent=mobile'), null, { timeout: 15000 });
    const mobile = await checkTotalAgainstApi(page, server.port);
    check(mobile.total <= changed.total + 3000 * 5, 'the filtered count is answered');
    await page.fill('#region-input', 'ZZ');
    await page.press('#region-input', 'Enter');
    await page.waitForSelector('#series-error:not([hidden])', { timeout: 15000 });
    const err = await page.textContent('#series-error');
    check(err.includes('filter_region'), `a bad region shows the API's error: "${err.slice(0, 120)}"`);
    await page.fill('#region-input', '');
    await page.selectOption('#device-input', '');
    await page.waitForSelector('#series-error[hidden]', { state: 'attached', timeout: 15000 });

    // Keyboard: the ad field is reachable with Tab from the top of the page.
    await page.click('h1'); // the sequential focus navigation starts at the top
    let reached = false;
    for (let i = 0; i < 20 && !reached; ++i) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'ad-input');
    }
    check(reached, 'the ad field is reachable with the keyboard');

    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(OUT, 'web-dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 420, height: 900 });
    await page.waitForTimeout(1500);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal scrolling in a 420 px window (overflow ${overflow} px)`);
    await page.screenshot({ path: join(OUT, 'web-dashboard-narrow.png'), fullPage: true });
    check(offsite.length === 0, `every request went to adclick itself (${offsite.slice(0, 3).join(', ')})`);
    check(pageErrors.length === 0, `no script errors (${pageErrors.slice(0, 3).join(' | ')})`);
    await context.close();
    check(await stopServer(server) === 0, 'adclick serve stops with exit code 0 on SIGTERM');

    // With --api-token: the page says so, and works once the token is entered.
    const locked = await startServer(join(scratch, 'locked'), ['--api-token', 'web-test-token']);
    servers.push(locked);
    const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p2 = await ctx2.newPage();
    p2.on('pageerror', (e) => pageErrors.push(e.message));
    await p2.goto(`http://127.0.0.1:${locked.port}/`);
    await p2.waitForSelector('#banner:not([hidden])', { timeout: 15000 });
    check((await p2.textContent('#banner')).includes('token'), 'without the token the page asks for it');
    await p2.fill('#token-input', 'web-test-token');
    await p2.press('#token-input', 'Enter');
    await p2.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 15000 });
    await p2.waitForFunction(() => document.querySelectorAll('#pipe-list dd').length > 0, null, { timeout: 15000 });
    check(true, 'with the token entered the page shows the pipeline');
    check(pageErrors.length === 0, `no script errors (${pageErrors.slice(0, 3).join(' | ')})`);
    await ctx2.close();
    check(await stopServer(locked) === 0, 'the token server stops with exit code 0');
    timings.totalSeconds = (Date.now() - t0) / 1000;
    writeFileSync(join(OUT, 'web-dashboard-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    log('timings', JSON.stringify(timings));
    log('PASS');
  } finally {
    if (browser) await browser.close();
    for (const s of servers) await stopServer(s);
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
