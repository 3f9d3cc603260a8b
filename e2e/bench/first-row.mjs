// Time to the first tree row: how long after navigation a logged-in user with
// an empty cache sees the first row of the key tree, for one or more built
// frontends served side by side in one run (so they share the machine's
// state, the etcd and the binary). Not a test: `cargo xtask bench-frontend`
// runs it, and BENCHMARKS.md ("Frontend size") keeps its figures.
//
//   node e2e/bench/first-row.mjs [--runs N] LABEL=DIST_DIR [LABEL=DIST_DIR ...]
//
// One real etcd (auth on) and one etcdeck per frontend (`--dist DIST_DIR`,
// the release binary of ETCDECK_BIN) on loopback, one headless Chromium. Each
// run opens a fresh browser context (no cache, no storage), logs in through
// the login API as the login page does, then navigates to `/`; the page
// itself records `performance.now()` (milliseconds since the navigation
// started) when the first `[data-testid="tree-row"]` is added, so the figure
// does not include the driver's polling. The frontends take turns run by run.

import { chromium } from 'playwright-core';

import { startEtcd } from '../support/etcd.mjs';
import { startEtcdeck } from '../support/etcdeck.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

function parseArgs(argv) {
  let runs = 5;
  const frontends = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--runs') {
      runs = Number(argv[(i += 1)]);
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive whole number');
    } else {
      const at = argv[i].indexOf('=');
      if (at < 1) throw new Error(`expected LABEL=DIST_DIR, got ${JSON.stringify(argv[i])}`);
      frontends.push({ label: argv[i].slice(0, at), dist: argv[i].slice(at + 1) });
    }
  }
  if (!frontends.length) throw new Error('usage: first-row.mjs [--runs N] LABEL=DIST_DIR [LABEL=DIST_DIR ...]');
  return { runs, frontends };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** One navigation with an empty cache: milliseconds to the first row, and the wasm's transfer. */
async function measureOnce(browser, app) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    await context.addInitScript(() => {
      const seen = () => {
        if (window.__firstRowMs === undefined && document.querySelector('[data-testid="tree-row"]')) {
          window.__firstRowMs = performance.now();
          return true;
        }
        return false;
      };
      new MutationObserver((_, observer) => {
        if (seen()) observer.disconnect();
      }).observe(document, { childList: true, subtree: true });
    });
    const res = await context.request.post(`${app.url}/api/v1/login`, {
      data: { kind: 'password', user: app.credentials.user, password: app.credentials.password },
    });
    if (!res.ok()) throw new Error(`logging in failed: HTTP ${res.status()} ${await res.text()}`);
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    await page.waitForFunction(() => window.__firstRowMs !== undefined, null, { timeout: 30_000 });
    return await page.evaluate(() => {
      const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return {
        ms: window.__firstRowMs,
        // The loading state of index.html is the first paint; it should come before the wasm.
        paintMs: paint?.startTime ?? NaN,
        wasmEndMs: wasm?.responseEnd ?? NaN,
        wasmTransferred: wasm?.transferSize ?? 0,
        wasmDecoded: wasm?.decodedBodySize ?? 0,
      };
    });
  } finally {
    await context.close();
  }
}

async function main() {
  const { runs, frontends } = parseArgs(process.argv.slice(2));
  const etcd = await startEtcd();
  const apps = [];
  let browser;
  try {
    await etcd.put('/bench/app/config', '{"replicas":3}');
    for (const f of frontends) apps.push({ ...f, app: await startEtcdeck(etcd, undefined, { dist: f.dist }), samples: [] });
    browser = await chromium.launch({
      headless: true,
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // One unmeasured navigation each, so the first measured one does not also pay
    // for Chromium's own start-up.
    for (const a of apps) await measureOnce(browser, a.app);
    for (let run = 0; run < runs; run += 1) {
      for (const a of apps) a.samples.push(await measureOnce(browser, a.app));
    }
    console.log(`time to the first tree row (empty cache, loopback, ${runs} runs each):`);
    for (const a of apps) {
      const ms = a.samples.map((s) => s.ms);
      const last = a.samples[a.samples.length - 1];
      console.log(
        `  ${a.label.padEnd(8)} median ${median(ms).toFixed(0)} ms ` +
          `(runs: ${ms.map((m) => m.toFixed(0)).join(', ')} ms); ` +
          `first paint (the loading state) median ${median(a.samples.map((s) => s.paintMs)).toFixed(0)} ms, ` +
          `wasm received by ${median(a.samples.map((s) => s.wasmEndMs)).toFixed(0)} ms; ` +
          `wasm ${last.wasmDecoded} bytes, ${last.wasmTransferred} transferred`,
      );
    }
  } finally {
    await browser?.close();
    await Promise.allSettled(apps.map((a) => a.app.stop()));
    await etcd.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
