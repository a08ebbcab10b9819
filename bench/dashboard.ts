/**
 * `npm run bench -- dashboard [--families 1000] [--runs 5]`: the coordinator
 * dashboard's families page with N families (default 1,000).
 *  1. Render alone: the page (filters, sort, counts, HTML) from N family
 *     summaries in memory, as the server renders it after the API answered.
 *  2. The whole page on the real stack (embedded Temporal, worker, PGlite,
 *     dev IdP), N families enrolled over the FHIR API: Chromium logs in as
 *     the coordinator and loads /families; the figure is the navigation's
 *     time to the page's load event, so it includes the coordinator API's
 *     reads (one workflow query per family, DESIGN.md) and the browser's
 *     parsing and layout. Skipped without /usr/bin/chromium (CHROMIUM_PATH).
 * Prints the median and the slowest of the runs.
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import { getToken } from '../app/dev-idp-client';
import { startInProcessStack } from '../app/in-process-stack';
import type { FamilySummary } from '../server/coordinator/api';
import { applyFilters, countsOf, parseFilters, type FamilyRow } from '../server/dashboard/families-view';
import { translator } from '../web/i18n';
import { familiesPage } from '../web/pages/families';
import { numberOption } from './options';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function syntheticRows(n: number): FamilyRow[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `${i.toString(16).padStart(8, '0')}-0000-5000-8000-000000000000`;
    const step = (key: string, day: number) => ({ key, step: key, title: `Svangerskapskonsultasjon ${key}`, kind: 'contact' as const, deliveredBy: 'jordmor', status: 'planned' as const, target: `2027-0${1 + (day % 9)}-1${day % 10}`, earliest: '2027-01-01', latest: '2027-01-20' });
    const summary: FamilySummary = {
      familyId: id,
      carePlan: `CarePlan/${id}`,
      patient: `Patient/p${i}`,
      canonical: 'https://forlop.no/fhir/PlanDefinition/basisprogram|1.0.0',
      status: 'active',
      phase: { id: i % 3 ? 'pregnancy' : 'infancy', title: i % 3 ? 'Svangerskap' : 'Spedbarn' },
      nextDue: [step('preg-24', i), step('preg-28', i + 1)],
      overdue: i % 7 === 0 ? [step('ultrasound-routine', i)] : [],
      openHandoffs: i % 5 === 0 ? [{ key: 'mental-health-referral-1', handoff: 'mental-health-referral', status: 'received', openedOn: '2026-11-16', deadline: '2026-12-01', daysLeft: (i % 11) - 3, escalations: i % 2 }] : [],
      openChecks: i % 13 === 0 ? [{ check: 'children-as-next-of-kin', key: 'c', openedOn: '2026-11-16', due: '2026-12-01' } as unknown as FamilySummary['openChecks'][number]] : [],
      organisations: ['Organization/sarpsborg-helsestasjon', 'Organization/sarpsborg-kommune'],
    };
    return { ...summary, name: `Mor ${i}`, handoffServices: { 'mental-health-referral-1': 'dps' } };
  });
}

function renderOnce(rows: FamilyRow[]): number {
  const started = performance.now();
  const filters = parseFilters({ sort: 'overdue' });
  const html = familiesPage(
    { lang: 'nb', t: translator('nb'), url: '/families', user: { name: 'Kari Koordinator' }, csrf: 'x' },
    { today: '2026-11-26', rows: applyFilters(rows, filters), total: rows.length, counts: countsOf(rows), filters, phases: { pregnancy: 'Svangerskap' }, services: { jordmor: 'Jordmor', dps: 'DPS' }, organisations: ['Organization/sarpsborg-kommune'], titles: (id) => id },
  ).text;
  if (!html.includes('</html>')) throw new Error('the page did not render');
  return performance.now() - started;
}

export async function run(args: string[]): Promise<void> {
  const n = numberOption(args, 'families', 1000, 1);
  const runs = numberOption(args, 'runs', 5, 1);
  console.log(`dashboard: the families page with ${n} families`);

  const rows = syntheticRows(n);
  for (let i = 0; i < 3; i++) renderOnce(rows); // warm-up (JIT)
  const render = Array.from({ length: runs }, () => renderOnce(rows));
  console.log(`  render alone (filter, sort, counts, HTML): median ${median(render).toFixed(1)} ms, slowest ${Math.max(...render).toFixed(1)} ms`);

  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    console.log(`  whole page: skipped (no Chromium at ${executablePath})`);
    return;
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const stack = await startInProcessStack('2026-11-02', 'bench-dashboard', { follow: true });
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const enrolStarted = performance.now();
    let token = '';
    for (let i = 0; i < n; i += 25) {
      // A fresh token now and then: enrolling a thousand families outlasts one (300 s).
      if (i % 200 === 0) token = await getToken(stack.idp, 'helsestasjon', 'system/*.cruds');
      await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => stack.enrol(token, '2027-04-15')));
    }
    for (;;) {
      const coordinator = await getToken(stack.idp, 'koordinator', 'system/*.rs');
      const listed = await stack.call<{ total: number }>(coordinator, 'GET', '/api/families?_count=1');
      if (listed.body.total >= n) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    console.log(`  (${n} families enrolled over the FHIR API in ${((performance.now() - enrolStarted) / 1000).toFixed(1)} s)`);
    const page = await browser.newPage();
    await page.goto(`${stack.url}/families`);
    await page.click('button[data-user="koordinator"]');
    await page.waitForURL(`${stack.url}/families`, { timeout: 600_000 });
    const whole: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto(`${stack.url}/families?sort=overdue`, { timeout: 600_000 });
      const shown = await page.locator('table.families tbody tr[data-family]').count();
      if (shown !== n) throw new Error(`the page shows ${shown} families, expected ${n}`);
      // Navigation Timing (https://www.w3.org/TR/navigation-timing-2/), read in the page (a string: this file is typed for Node, not the DOM).
      whole.push(await page.evaluate<number>("(() => { const nav = performance.getEntriesByType('navigation')[0]; return nav.loadEventEnd - nav.startTime; })()"));
    }
    console.log(`  whole page in Chromium (API reads + render + load): median ${median(whole).toFixed(0)} ms, slowest ${Math.max(...whole).toFixed(0)} ms`);
  } catch (error) {
    // Said before the stack stops: its shutdown can end the process before the error would reach the bench command.
    console.error(`  whole page: failed: ${(error as Error).message}`);
    throw error;
  } finally {
    await browser.close();
    await stack.close();
  }
}
