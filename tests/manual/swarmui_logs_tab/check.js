const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const BASE = process.argv[2];
const JS = process.argv[3];  // a folder holding SwarmUI's src/wwwroot/js as js/
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', e => problems.push('pageerror: ' + e.message));
  page.on('console', m => { if (m.type() === 'error') problems.push('console.error: ' + m.text()); });
  const calls = {};
  const statuses = {};
  page.on('response', r => {
    const u = r.url();
    if (u.includes('/API/')) {
      const route = u.split('/API/')[1];
      calls[route] = (calls[route] || 0) + 1;
      statuses[route + ' ' + r.status()] = (statuses[route + ' ' + r.status()] || 0) + 1;
    }
  });
  await page.route('**/harness', r => r.fulfill({ contentType: 'text/html', body: fs.readFileSync(path.join(__dirname, 'harness.html')) }));
  await page.route('**/js/**', r => r.fulfill({ contentType: 'application/javascript',
    body: fs.readFileSync(path.join(JS, new URL(r.request().url()).pathname)) }));
  await page.goto(BASE + '/harness');
  await page.waitForSelector('#backend-card-0', { timeout: 20000 });
  await page.waitForTimeout(5000);  // five rounds of backendLoopUpdate
  const toast = () => page.evaluate(() => ({ box: document.getElementById('error_toast_box').className,
                                             text: document.getElementById('error_toast_content').innerText }));
  const onBackendsTab = await toast();
  const buttons = await page.$$eval('.backend-log-view-button', bs => bs.map(b => ({ card: b.closest('.backend-card').id, disabled: b.disabled })));
  console.log(JSON.stringify({ before_click: { onBackendsTab, buttons, calls: { ...calls }, statuses: { ...statuses } } }));
  await page.click('#backend-card-0 .backend-log-view-button', { timeout: 3000 });
  await page.waitForFunction(() => document.getElementById('server_logs_container').innerText.includes('fake_comfy pid='), null, { timeout: 15000 });
  await page.waitForTimeout(3000);  // six rounds of the log loop (500 ms)
  const selected = await page.$eval('#server_log_type_selector', s => s.value);
  const options = await page.$$eval('#server_log_type_selector option', os => os.map(o => o.textContent));
  const logText = await page.$eval('#server_logs_container', d => d.innerText);
  const lines = logText.split('\n').filter(l => l.trim());
  console.log(JSON.stringify({ onBackendsTab, buttons, selected, options, afterLogs: await toast(),
    log_lines: lines.length, distinct_lines: new Set(lines).size, first_lines: lines.slice(0, 12), last_line: lines[lines.length - 1],
    calls, statuses, problems }, null, 1));
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
