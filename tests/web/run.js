#!/usr/bin/env node
// pichat's page in a real browser: Debian's chromium (/usr/bin/chromium),
// driven by playwright-core (tests/web/package-lock.json; no browser is
// downloaded), against the real pichatd on ports it picks itself (port 0,
// read back from its log) and a telnet-style client on the chat port.
//
//   node tests/web/run.js        (meson test --suite browser runs it)
//
// Over TLS too: pichatd's [web] tls_port with a certificate from the test
// PKI (tests/tls/make-certs), which chromium trusts through an NSS database
// in the HOME it is given (certutil, from libnss3-tools): https:// and
// wss:// are checked as a browser checks them, not waved through.
//
// Environment: PICHATD (the daemon; default build-plain/daemon/pichatd),
// PICHAT_WEB_ARTEFACTS (where screenshots go; default a temporary dir).
// Prints one "ok: CASE" or "FAIL: CASE: why" line per case, and check's
// summary line "N%: Checks: T, Failures: F, Errors: 0", which
// tests/count-results counts like any check suite's. Every wait is bounded.
'use strict';

const { chromium } = require('playwright-core');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const PICHATD = process.env.PICHATD || path.join(ROOT, 'build-plain', 'daemon', 'pichatd');
const ARTEFACTS = process.env.PICHAT_WEB_ARTEFACTS ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'pichat-web-artefacts-'));
fs.mkdirSync(ARTEFACTS, { recursive: true });
const CHROMIUM = '/usr/bin/chromium';
const T = 10000; // the longest any single wait may take

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = T) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

// ---- pichatd ----------------------------------------------------------------

class Daemon {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pichat-web-'));
    this.ini = path.join(this.dir, 'pichat.ini');
    this.pki = path.join(this.dir, 'pki');
    execFileSync(path.join(ROOT, 'tests', 'tls', 'make-certs'), [this.pki]);
    this.ports = { web: 0, chat: 0, 'web-tls': 0 };
  }

  // Ports 0 the first time; the same ports again after a restart.
  async start() {
    fs.writeFileSync(this.ini, [
      '[server]', 'bind = 127.0.0.1', 'max_clients_per_ip = 0',
      '[echo]', 'enabled = no', '[udp]', 'enabled = no',
      '[chat]', 'port = ' + this.ports.chat, 'history = 10',
      '[web]', 'port = ' + this.ports.web, 'title = pichat test room',
      'tls_port = ' + this.ports['web-tls'],
      '[tls]', 'certfile = ' + path.join(this.pki, 'fullchain.pem'),
      'keyfile = ' + path.join(this.pki, 'privkey.pem'),
      '[log]', 'level = debug', '',
    ].join('\n'));
    this.log = path.join(this.dir, 'pichatd.log');
    const out = fs.openSync(this.log, 'a');
    this.proc = spawn(PICHATD, ['--foreground', '-c', this.ini], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    await until('pichatd to start', () => /pichatd .* started/.test(this.text()));
    for (const role of ['web', 'chat', 'web-tls']) {
      const m = new RegExp(role + ': listening on .*:(\\d+)/tcp').exec(this.text());
      if (!m) throw new Error('no ' + role + ' port in the log');
      this.ports[role] = Number(m[1]);
    }
  }

  text() {
    try { return fs.readFileSync(this.log, 'utf8'); } catch (e) { return ''; }
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([done, sleep(5000)]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  url(p = '/') { return 'http://127.0.0.1:' + this.ports.web + p; }
  // The certificate is made out for localhost (and 127.0.0.1, ::1).
  tlsUrl(p = '/', host = 'localhost') { return 'https://' + host + ':' + this.ports['web-tls'] + p; }
}

// chromium's HOME, with an NSS database that trusts the test CA only.
function browserHome(d) {
  const home = path.join(d.dir, 'home');
  const db = 'sql:' + path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(path.join(home, '.pki', 'nssdb'), { recursive: true });
  execFileSync('certutil', ['-N', '-d', db, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', db, '-n', 'pichat test root CA', '-t', 'C,,',
    '-i', path.join(d.pki, 'ca.pem')]);
  return home;
}

// ---- a telnet user ----------------------------------------------------------

class Telnet {
  static async connect(port) {
    const t = new Telnet();
    t.lines = [];
    t.buf = '';
    t.sock = net.connect(port, '127.0.0.1');
    t.sock.setEncoding('utf8');
    t.sock.on('data', (d) => {
      t.buf += d;
      let i;
      while ((i = t.buf.indexOf('\n')) >= 0) {
        t.lines.push(t.buf.slice(0, i).replace(/\r$/, ''));
        t.buf = t.buf.slice(i + 1);
      }
    });
    t.sock.on('error', () => {});
    await new Promise((r, j) => { t.sock.once('connect', r); t.sock.once('error', j); });
    return t;
  }

  say(line) { this.sock.write(line + '\r\n'); }

  async expect(line) {
    await until('telnet to get "' + line + '" (has: ' + JSON.stringify(this.lines.slice(-5)) + ')',
      () => this.lines.includes(line));
  }

  close() { this.sock.destroy(); }
}

// ---- the page ---------------------------------------------------------------

async function logTexts(page) {
  return page.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
}

async function expectLine(page, text) {
  await until('the page to show "' + text + '"', async () => (await logTexts(page)).includes(text));
}

async function send(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

async function members(page) {
  return page.$$eval('#member-list li', (lis) => lis.map((li) => li.textContent));
}

async function open(context, d, url) {
  const page = await context.newPage();
  page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(String(e)); });
  await page.goto(url || d.url());
  await until('the page to connect', async () =>
    (await page.getAttribute('#state', 'data-state')) === 'connected');
  await until('the greeting', async () => (await page.textContent('#nick')) !== '\u2026');
  return page;
}

async function setNick(page, nick) {
  await send(page, '/nick ' + nick);
  await expectLine(page, '* you are now known as ' + nick);
}

// ---- the cases --------------------------------------------------------------

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test('two pages and a telnet user in one room', async ({ browser, d }) => {
  const tom = await Telnet.connect(d.ports.chat);
  tom.say('/nick tom');
  await tom.expect('* you are now known as tom');
  tom.say('said before the browsers came');

  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  const a = await open(ctxA, d);
  const b = await open(ctxB, d);
  // History on join, marked as history.
  const hist = await a.$$eval('#log li.history', (lis) => lis.map((li) => li.textContent));
  if (!hist.some((t) => t === 'history<tom> said before the browsers came')) {
    throw new Error('no history line: ' + JSON.stringify(hist));
  }
  await setNick(a, 'alice');
  await setNick(b, 'bob');
  await tom.expect('* guest3 is now known as bob');

  // Lines both ways.
  await send(a, 'hello from alice');
  await expectLine(b, '<alice> hello from alice');
  await tom.expect('<alice> hello from alice');
  await expectLine(a, '<alice> hello from alice'); // her own, shown as hers
  tom.say('hi browsers');
  await expectLine(a, '<tom> hi browsers');
  await expectLine(b, '<tom> hi browsers');

  // Notices look different from chat lines.
  const cls = await a.$$eval('#log li', (lis) => lis.map((li) => li.className + '|' + li.textContent));
  if (!cls.some((c) => c.startsWith('notice') && c.endsWith('is now known as bob'))) throw new Error('no notice class');
  if (!cls.some((c) => c.startsWith('chat') && c.endsWith('<tom> hi browsers'))) throw new Error('no chat class');

  // The member list follows.
  await until('alice to list bob and tom', async () => {
    const m = await members(a);
    return m.includes('alice') && m.includes('bob') && m.includes('tom');
  });

  // /who as on telnet.
  await send(a, '/who');
  await expectLine(a, '* members of room lobby:');
  await expectLine(a, '*   tom alice bob');  // in the order they came

  // /join: bob leaves for #games; alice's list loses him.
  await send(b, '/join #games');
  await expectLine(b, '* you are bob, in room games (1 member)');
  await until('bob\'s header to say games', async () => (await b.textContent('#room')) === 'games');
  await tom.expect('* bob left room lobby (changed room)');
  await until('alice\'s list to drop bob', async () => !(await members(a)).includes('bob'));
  for (const p of [a, b]) if (p.errors) throw new Error('page errors: ' + p.errors.join('; '));
  await ctxA.close();
  await ctxB.close();
  tom.close();
});

test('lines and nicks are shown as text, never run', async ({ browser, d }) => {
  const ctx = await browser.newContext();
  const page = await open(ctx, d);
  const eve = await Telnet.connect(d.ports.chat);
  const evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2"><b>bold</b>';
  eve.say(evil);
  const want = (await until('the evil line', async () =>
    (await logTexts(page)).find((t) => t.endsWith(evil))));
  if (!want.startsWith('<guest')) throw new Error('odd line ' + want);
  await send(page, '<img src=y onerror="window.pwned=3">mine');
  await expectLine(page, '<' + (await page.textContent('#nick')) + '> <img src=y onerror="window.pwned=3">mine');
  await eve.expect('<' + (await page.textContent('#nick')) + '> <img src=y onerror="window.pwned=3">mine');
  await sleep(300);
  const state = await page.evaluate(() => ({
    pwned: window.pwned,
    imgs: document.querySelectorAll('#log img, #log script, #log b').length,
    inline: document.querySelectorAll('script:not([src])').length,
  }));
  if (state.pwned !== undefined || state.imgs !== 0 || state.inline !== 0) {
    throw new Error('markup ran or was made: ' + JSON.stringify(state));
  }
  // The policy forbids inline script: one injected by hand does not run.
  const blocked = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = true';
    document.body.appendChild(s);
    setTimeout(() => resolve(window.inlineRan ? 'ran' : 'no event'), 2000);
  }));
  if (!/^script-src/.test(blocked)) throw new Error('inline script: ' + blocked);
  eve.close();
  await ctx.close();
});

test('the page reconnects after pichatd restarts, with its nick and room', async ({ browser, d }) => {
  const ctx = await browser.newContext();
  const page = await open(ctx, d);
  await setNick(page, 'rita');
  await send(page, '/join #comeback');
  await expectLine(page, '* you are rita, in room comeback (1 member)');
  const stored = await page.evaluate(() => [localStorage.getItem('pichat.nick'), localStorage.getItem('pichat.room')]);
  if (stored[0] !== 'rita' || stored[1] !== 'comeback') throw new Error('stored ' + stored);

  await d.stop();
  await until('the page to say it is disconnected', async () =>
    (await page.getAttribute('#state', 'data-state')) === 'down' &&
    /reconnecting in \d+ s/.test(await page.textContent('#state')));
  const said = await logTexts(page);
  if (!said.some((t) => t.startsWith('disconnected (') && t.includes('trying again in'))) {
    throw new Error('no disconnect line: ' + JSON.stringify(said.slice(-3)));
  }
  await sleep(1500); // a try or two while it is down
  await d.start();
  await until('the page to connect again', async () =>
    (await page.getAttribute('#state', 'data-state')) === 'connected', 40000);
  await until('nick and room restored', async () =>
    (await page.textContent('#nick')) === 'rita' && (await page.textContent('#room')) === 'comeback')
    .catch(async (e) => { throw new Error(e.message + ': ' + JSON.stringify((await logTexts(page)).slice(-8))); });
  await expectLine(page, 'connected again');
  const t = await Telnet.connect(d.ports.chat);
  t.say('/join #comeback');
  await t.expect('* you are guest2, in room comeback (2 members)');
  t.say('welcome back');
  await expectLine(page, '<guest2> welcome back');
  t.close();
  await ctx.close();
});

test('a phone viewport (375x667), by keyboard only', async ({ browser, d }) => {
  const ctx = await browser.newContext({
    viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
  });
  const page = await open(ctx, d);
  // Focus starts in the text box; Enter sends.
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  if (focused !== 'input') throw new Error('focus on ' + focused);
  await page.keyboard.type('/nick phoebe');
  await page.keyboard.press('Enter');
  await expectLine(page, '* you are now known as phoebe');
  await page.keyboard.type('typed on a phone');
  await page.keyboard.press('Enter');
  await expectLine(page, '<phoebe> typed on a phone');
  // Tab reaches the Send button, the member list's button and the log.
  const order = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  if (!order.includes('send-button') || !order.includes('members-toggle') || !order.includes('log')) {
    throw new Error('tab order ' + order);
  }
  // Nothing wider than the screen; the text box is on it.
  const fit = await page.evaluate(() => {
    const r = document.getElementById('input').getBoundingClientRect();
    return { width: document.documentElement.scrollWidth, left: r.left, right: r.right, bottom: r.bottom };
  });
  if (fit.width > 375 || fit.left < 0 || fit.right > 375 || fit.bottom > 667) {
    throw new Error('does not fit: ' + JSON.stringify(fit));
  }
  // The member list opens from the header's button, by keyboard.
  await page.focus('#members-toggle');
  await page.keyboard.press('Enter');
  await until('the member list to open', async () => page.isVisible('#member-list li'));
  if ((await page.getAttribute('#members-toggle', 'aria-expanded')) !== 'true') throw new Error('aria-expanded');
  await page.screenshot({ path: path.join(ARTEFACTS, 'phone.png') });
  await ctx.close();
});

test('over https:// and wss://, with the test CA', async ({ browser, d }) => {
  const ctx = await browser.newContext();
  const page = await open(ctx, d, d.tlsUrl());
  const where = await page.evaluate(() => ({ protocol: location.protocol, secure: window.isSecureContext }));
  if (where.protocol !== 'https:' || !where.secure) throw new Error('not a secure page: ' + JSON.stringify(where));
  await setNick(page, 'tessa');
  const tom = await Telnet.connect(d.ports.chat);
  tom.say('/nick tomtls');
  await tom.expect('* you are now known as tomtls');
  await send(page, 'hello over wss');
  await tom.expect('<tessa> hello over wss');
  tom.say('hello back in clear');
  await expectLine(page, '<tomtls> hello back in clear');
  // Its WebSocket went over TLS: the daemon saw the page and /ws on its
  // TLS port, each with its protocol.
  await until('the log to show the TLS web clients', async () =>
    (d.text().match(/web: 127\.0\.0\.1:\d+: TLS1\.3 /g) || []).length >= 1);
  if (page.errors) throw new Error('page errors: ' + page.errors.join('; '));
  tom.close();
  // A name the certificate does not carry is refused by the browser itself.
  const bad = await ctx.newPage();
  const err = await bad.goto(d.tlsUrl('/', 'wrong.test')).then(() => 'loaded', (e) => e.message);
  if (!/ERR_CERT_COMMON_NAME_INVALID/.test(err)) throw new Error('wrong host: ' + err);
  await ctx.close();
});

test('a screenshot of the page', async ({ browser, d }) => {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 560 } });
  const page = await open(ctx, d);
  await setNick(page, 'ada');
  const t = await Telnet.connect(d.ports.chat);
  t.say('/nick grace');
  await t.expect('* you are now known as grace');
  t.say('hello from telnet');
  await send(page, 'hello from a browser');
  await t.expect('<ada> hello from a browser');
  await expectLine(page, '<grace> hello from telnet');
  await until('the member list', async () => (await members(page)).length >= 2);
  const file = path.join(ARTEFACTS, 'desktop.png');
  await page.screenshot({ path: file });
  if (fs.statSync(file).size < 5000) throw new Error('screenshot too small');
  t.close();
  await ctx.close();
});

// ---- the runner -------------------------------------------------------------

async function main() {
  let failed = 0;
  let browser = null;
  let d = null;
  try {
    d = new Daemon();
    if (!fs.existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' is missing (tests/install-deps installs chromium)');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As the machine's notes have it: no sandbox (root), no GPU, and no
      // connection anywhere but the test's own (a fresh profile each run).
      // wrong.test is 127.0.0.1 too, a name the certificate lacks.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--host-resolver-rules=MAP wrong.test 127.0.0.1'],
      env: { ...process.env, HOME: browserHome(d) },
      timeout: 60000,
    });
    await d.start();
  } catch (e) {
    console.log('FAIL: start: ' + e.message);
    console.log('0%: Checks: ' + cases.length + ', Failures: ' + cases.length + ', Errors: 0');
    if (d) await d.stop();
    if (browser) await browser.close();
    process.exit(1);
  }
  for (const c of cases) {
    const t0 = Date.now();
    // Every context a case opens is closed after it, even when it fails.
    const contexts = [];
    const b = {
      newContext: async (o) => { const x = await browser.newContext(o); contexts.push(x); return x; },
    };
    try {
      await Promise.race([c.fn({ browser: b, d }),
        sleep(90000).then(() => { throw new Error('case timed out'); })]);
      console.log('ok: ' + c.name + ' (' + (Date.now() - t0) + ' ms)');
    } catch (e) {
      failed++;
      console.log('FAIL: ' + c.name + ': ' + e.message);
      if (d.proc && d.proc.exitCode !== null) await d.start().catch(() => {});
    }
    for (const x of contexts) await x.close().catch(() => {});
  }
  await browser.close();
  await d.stop();
  if (failed) process.stderr.write('--- pichatd log:\n' + d.text());
  console.log('screenshots in ' + ARTEFACTS);
  const n = cases.length;
  console.log(Math.floor(100 * (n - failed) / n) + '%: Checks: ' + n + ', Failures: ' + failed + ', Errors: 0');
  process.exit(failed ? 1 : 0);
}

main();
