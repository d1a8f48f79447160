// Drives an SVG written by user/flame_svg.c in headless Chromium (tests/test_flame.py):
//   node svg_check.js FILE.svg OUTDIR   prints one JSON object with what it saw.
// NODE_PATH must reach playwright-core; CHROMIUM names the browser.
'use strict';
const { chromium } = require('playwright-core');

async function frames(page) {
	return page.$$eval('#frames > g', (gs) => gs.map((g) => {
		const r = g.querySelector('rect');
		return {
			label: g.querySelector('title').textContent.split('\n')[0],
			title: g.querySelector('title').textContent,
			x: +r.getAttribute('x'), width: +r.getAttribute('width'),
			fill: r.getAttribute('fill'), shown: g.style.display !== 'none',
			text: g.querySelector('text') ? g.querySelector('text').textContent : '',
		};
	}));
}

(async () => {
	const [file, outdir] = process.argv.slice(2);
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
		       '--disable-component-update', '--no-first-run'],
	});
	const out = { errors: [], requests: [] };
	try {
		const page = await browser.newPage({ viewport: { width: 1220, height: 700 } });
		page.on('pageerror', (e) => out.errors.push(String(e)));
		page.on('console', (m) => m.type() === 'error' && out.errors.push(m.text()));
		page.on('request', (r) => r.url().startsWith('file:') || out.requests.push(r.url()));
		await page.goto('file://' + file);
		await page.waitForFunction(() => document.readyState === 'complete');
		const shot0 = await page.screenshot({ path: outdir + '/before.png' });
		out.before = await frames(page);

		const target = process.env.CLICK || 'handle (app.py:10)';
		const idx = out.before.findIndex((f) => f.label === target);
		const g = (await page.$$('#frames > g'))[idx];
		await g.hover();
		out.details = await page.textContent('#details');
		await g.click();
		const shot1 = await page.screenshot({ path: outdir + '/zoomed.png' });
		out.zoomed = await frames(page);
		out.unzoom_visible = await page.getAttribute('#unzoom', 'visibility');
		out.screens_differ = Buffer.compare(shot0, shot1) !== 0;

		await page.fill('#search', process.env.SEARCH || 'fetch|parse');
		out.search = await frames(page);
		out.matched = await page.textContent('#matched');
		await page.screenshot({ path: outdir + '/search.png' });
		await page.fill('#search', 'parse (json');	/* not a regex: a substring */
		out.matched_substring = await page.textContent('#matched');

		await page.click('#unzoom');
		out.reset = await frames(page);
		out.unzoom_after_reset = await page.getAttribute('#unzoom', 'visibility');
	} catch (e) {
		out.errors.push(String(e && e.stack || e));
	} finally {
		await browser.close();
	}
	console.log(JSON.stringify(out));
})();
