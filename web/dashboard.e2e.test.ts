/**
 * The coordinator dashboard in a real Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) on the real stack: the dev IdP's login page,
 * the embedded Temporal server with the SDK worker, PGlite, the event
 * router. axe-core checks every page (WCAG 2.1 A and AA) and a violation
 * fails the test; each page's screenshot is saved under test-output/dashboard.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { EpisodeOfCare, Patient } from '@medplum/fhirtypes';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DUE_DATE_EXTENSION, PATHWAY_TYPE_SYSTEM } from '../events/map-resource';
import { familyIdOf } from '../events/router';
import type { FamilySummary } from '../server/coordinator/api';
import { startStack, until, type Stack } from '../test/e2e/harness';

jest.setTimeout(180_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.join(__dirname, '..', 'test-output', 'dashboard');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let anna: string;
let referred: string;

/** Runs axe-core in the page; any WCAG 2.1 A/AA violation fails the test. */
async function expectAccessible(p: Page): Promise<void> {
  await p.addScriptTag({ content: AXE });
  const violations = await p.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(ctx: unknown, options: unknown): Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  expect(violations).toEqual([]);
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

/** A municipal system enrols a mother (with her name) on a pathway, as the helsestasjon's EHR does. */
async function enrol(token: string, name: { given: string; family: string } | undefined, dueDate: string, pathway = 'Basisprogram'): Promise<string> {
  const mother = await stack.call<Patient>(token, 'POST', '/fhir/Patient', { resourceType: 'Patient', managingOrganization: { reference: 'Organization/sarpsborg-helsestasjon' }, ...(name ? { name: [{ given: [name.given], family: name.family }] } : {}) });
  expect(mother.status).toBe(201);
  const episode = await stack.call<EpisodeOfCare>(token, 'POST', '/fhir/EpisodeOfCare', {
    resourceType: 'EpisodeOfCare',
    status: 'active',
    type: [{ coding: [{ system: PATHWAY_TYPE_SYSTEM, code: pathway }] }],
    patient: { reference: `Patient/${mother.body.id}` },
    managingOrganization: { reference: 'Organization/sarpsborg-kommune' },
    period: { start: stack.today() },
    extension: [{ url: DUE_DATE_EXTENSION, valueDate: dueDate }],
  });
  expect(episode.status).toBe(201);
  return familyIdOf(episode.body.id!);
}

async function login(p: Page, user: string): Promise<void> {
  await p.goto(`${stack.url}/families`);
  await p.waitForURL(/\/interaction\//);
  await p.click(`button[data-user="${user}"]`);
  await p.waitForURL(`${stack.url}/families`);
}

const count = (p: Page, name: string) => p.locator(`[data-count="${name}"]`).innerText();

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  stack = await startStack('2026-11-02', 'dashboard-e2e', { follow: true });
  const helsestasjon = await stack.token('helsestasjon');
  anna = await enrol(helsestasjon, { given: 'Anna', family: 'Testesen' }, '2027-04-15');
  referred = await enrol(helsestasjon, undefined, '2027-03-01', 'Familieambulatorium');
  const coordinator = await stack.token('koordinator', 'system/*.rs');
  await until('both families listed', async () => (await stack.call<{ families: FamilySummary[] }>(coordinator, 'GET', '/api/families')).body.families.length === 2);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

test('logged out, a page redirects to login, and the dev IdP login page lists the demo users', async () => {
  const answer = await fetch(`${stack.url}/families?phase=pregnancy`, { redirect: 'manual' });
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toBe('/auth/login?return=%2Ffamilies%3Fphase%3Dpregnancy');
  await page.goto(`${stack.url}/families`);
  await page.waitForURL(/\/interaction\//);
  await expect(page.locator('button[data-user="koordinator"]').innerText()).resolves.toContain('Kari Koordinator');
  await expectAccessible(page);
  await shot(page, '0-login');
});

test('the coordinator logs in through the dev IdP and sees the demo families with their counts', async () => {
  await page.click('button[data-user="koordinator"]');
  await page.waitForURL(`${stack.url}/families`);
  await expect(page.locator('h1').innerText()).resolves.toBe('Mine familier');
  await expect(page.locator('header').innerText()).resolves.toContain('Kari Koordinator');
  await expect(page.locator('table.families tbody tr').count()).resolves.toBe(2);
  await expect(count(page, 'families')).resolves.toBe('2');
  // The mother's name is shown (the coordinator may read her Patient); the other family has none, so its id.
  await expect(page.locator(`tr[data-family="${anna}"] th`).innerText()).resolves.toContain('Anna Testesen');
  await expect(page.locator(`tr[data-family="${referred}"] th`).innerText()).resolves.toContain(referred.slice(0, 8));
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'forlop_session')!;
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  await expectAccessible(page);
  await shot(page, '1-families');
});

test('filters: free-text search on the name, the service filter, and reset', async () => {
  await page.fill('#f-q', 'anna');
  await page.click('form.filters button[type="submit"]');
  await page.waitForURL(/q=anna/);
  await expect(page.locator('table.families tbody tr').count()).resolves.toBe(1);
  await expect(page.locator('table.families tbody tr').first().getAttribute('data-family')).resolves.toBe(anna);
  await page.goto(`${stack.url}/families?service=familieambulatorium`);
  await expect(page.locator('table.families tbody tr[data-family]').count()).resolves.toBe(1);
  await expect(page.locator('table.families tbody tr').first().getAttribute('data-family')).resolves.toBe(referred);
  await page.goto(`${stack.url}/families?within=10`);
  await expect(page.locator('table.families tbody tr[data-family]').count()).resolves.toBe(0);
  await expect(page.locator('table.families tbody').innerText()).resolves.toContain('Ingen familier passer filteret');
  await expectAccessible(page);
  await shot(page, '2-families-filtered');
});

test('one family: the timeline is drawn (vis-timeline items) with the text list beside it, and the plan, handoffs and messages', async () => {
  await page.goto(`${stack.url}/families`);
  await page.click(`tr[data-family="${anna}"] a`);
  await page.waitForURL(`${stack.url}/families/${anna}`);
  await expect(page.locator('h1').innerText()).resolves.toBe('Anna Testesen');
  await page.waitForSelector('#timeline-chart .vis-item.tl-planned');
  expect(await page.locator('#timeline-chart .vis-item').count()).toBeGreaterThan(5);
  await expect(page.locator('#timeline-chart .vis-custom-time.today').count()).resolves.toBe(1);
  await expect(page.locator('.timeline-text').innerText()).resolves.toContain('Enrolled in');
  await expect(page.locator('#act-h + .table-wrap tbody tr').count()).resolves.not.toBe(0);
  await expectAccessible(page);
  await shot(page, '3-family');
});

test('live: a window passing makes a contact overdue, and recording it held clears it, on an open page without reloading', async () => {
  const list = await context.newPage();
  await list.goto(`${stack.url}/families`);
  await list.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  const before = Number(await count(list, 'overdue'));
  // The routine ultrasound's window ends on 25 November: the workflow's timer marks it overdue.
  await stack.sleepUntil('2026-11-26');
  await list.waitForFunction((n) => Number(document.querySelector('[data-count="overdue"]')?.textContent) === n, before + 2, { timeout: 20_000 });
  expect(await list.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

  await page.goto(`${stack.url}/families/${anna}`);
  await page.selectOption('#a-step', 'ultrasound-routine');
  await page.selectOption('#a-outcome', 'held');
  await page.fill('#a-date', '2026-11-26');
  await page.click('form[action$="/contact"] button[type="submit"]');
  await page.waitForURL(/done=contact/);
  await list.waitForFunction((n) => Number(document.querySelector('[data-count="overdue"]')?.textContent) === n, before + 1, { timeout: 20_000 });
  expect(await list.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  await shot(list, '4-families-live');

  // A missed contact: it appears on the family's open page as the workflow records it.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await page.selectOption('#a-step', 'tweak-enrolment');
  await page.selectOption('#a-outcome', 'missed');
  await page.click('form[action$="/contact"] button[type="submit"]');
  await page.waitForURL(/done=contact/);
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await page.waitForFunction(() => document.querySelector('.timeline-text')?.textContent?.includes('appointment cancelled'), undefined, { timeout: 20_000 });
  await list.close();
});

test('the handoff board shows the familieambulatorium referral with its status', async () => {
  await page.click('nav a[href="/handoffs"]');
  await page.waitForURL(`${stack.url}/handoffs`);
  await expect(page.locator('main').innerText()).resolves.toContain('Familieambulatorium');
  await expect(page.locator(`main a[href="/families/${referred}"]`).count()).resolves.toBe(1);
  await expectAccessible(page);
  await shot(page, '5-handoffs');
});

test('English is available, with the same page', async () => {
  await page.click('a[hreflang="en"]');
  await page.waitForURL(`${stack.url}/handoffs`);
  await expect(page.locator('h1').innerText()).resolves.toBe('Handoffs');
  await expect(page.locator('html').getAttribute('lang')).resolves.toBe('en');
  await page.click('a[hreflang="nb"]');
  await expect(page.locator('h1').innerText()).resolves.toBe('Overføringer');
});

test('a POST without the CSRF token, or with a wrong one, is refused', async () => {
  const without = await page.request.post(`${stack.url}/families/${anna}/end`, { form: { reason: 'test' }, maxRedirects: 0 });
  expect(without.status()).toBe(403);
  const wrong = await page.request.post(`${stack.url}/families/${anna}/end`, { form: { reason: 'test', _csrf: 'not-the-token' }, maxRedirects: 0 });
  expect(wrong.status()).toBe(403);
  await page.goto(`${stack.url}/families/${anna}`);
  await expect(page.locator('[data-count="family-overdue"]').count()).resolves.toBe(1);
  await expect(page.locator('.facts').innerText()).resolves.toContain('aktiv');
});

test("another municipality's coordinator sees none of these families and gets 404 on their pages", async () => {
  const other = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const theirs = await other.newPage();
  await login(theirs, 'koordinator-fredrikstad');
  await expect(count(theirs, 'families')).resolves.toBe('0');
  await expect(theirs.locator('table.families tbody tr[data-family]').count()).resolves.toBe(0);
  const family = await theirs.goto(`${stack.url}/families/${anna}`);
  expect(family?.status()).toBe(404);
  await expectAccessible(theirs);
  await shot(theirs, '6-other-organisation-404');
  await other.close();
});

test('logout ends the session: the pages redirect to login again', async () => {
  await page.goto(`${stack.url}/families`);
  await page.click('header form[action="/auth/logout"] button');
  await page.waitForURL(`${stack.url}/auth/logged-out`);
  await expectAccessible(page);
  await shot(page, '7-logged-out');
  const again = await page.request.get(`${stack.url}/families`, { maxRedirects: 0 });
  expect(again.status()).toBe(303);
  expect(again.headers().location).toContain('/auth/login');
});
