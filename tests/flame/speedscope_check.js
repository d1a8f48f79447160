// Checks a speedscope file written by user/flame_speedscope.c (tests/test_flame.py):
//   node speedscope_check.js FILE.json SCHEMA.json [APP/index.html OUTDIR]
// validates FILE against the schema shipped in the speedscope npm package, then, given the
// app, imports FILE into the real speedscope page in headless Chromium. Prints one JSON object.
// NODE_PATH must reach ajv (and playwright-core for the import); CHROMIUM names the browser.
'use strict';
const fs = require('fs');

(async () => {
	const [file, schemaPath, app, outdir] = process.argv.slice(2);
	const out = { errors: [] };
	const Ajv = require('ajv');
	const validate = new Ajv({ strict: false, allErrors: true })
		.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
	out.valid = validate(JSON.parse(fs.readFileSync(file, 'utf8')));
	out.schema_errors = validate.errors || [];
	if (!app) {
		console.log(JSON.stringify(out));
		return;
	}
	const { chromium } = require('playwright-core');
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
		       '--disable-component-update', '--no-first-run'],
	});
	try {
		const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
		page.on('pageerror', (e) => out.errors.push(String(e)));
		await page.goto('file://' + app);
		await page.setInputFiles('input[type=file]', file);
		// the profile's name replaces the landing page once the import worked
		await page.waitForFunction(() => !document.body.innerText.includes('Drag and drop'),
					   null, { timeout: 15000 });
		await page.waitForTimeout(500);
		out.text = await page.evaluate(() => document.body.innerText);
		await page.screenshot({ path: outdir + '/speedscope.png' });
	} catch (e) {
		out.errors.push(String(e && e.stack || e));
	} finally {
		await browser.close();
	}
	console.log(JSON.stringify(out));
})();
