/**
 * `forlop demo` (`npm run demo`): Forløp at work in about a minute. It starts
 * the whole stack in this process on a clock that skips ahead (embedded
 * Temporal server in time-skipping mode, FHIR store in memory, dev IdP,
 * HTTP API), then plays the parties' systems over the FHIR API: the
 * helsestasjon enrols two families; one is referred to the
 * familieambulatorium, which receives, accepts, treats and hands her back to
 * the municipality; the other's EPDS of 16 refers her to DPS, which answers
 * late and is escalated. Between the steps it prints what the coordinator
 * API shows. Nothing is kept; `npm start` is the real thing.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Task } from '@medplum/fhirtypes';
import type { FamilySummary } from '../server/coordinator/api';
import { startInProcessStack, type InProcessStack } from './in-process-stack';

const say = (text: string) => console.log(text);

async function enrol(stack: InProcessStack, token: string, pathway: string, dueDate: string, start: string): Promise<string> {
  const { patient } = await stack.enrol(token, dueDate, { pathway, start });
  await stack.route();
  return patient;
}

async function ownedTask(stack: InProcessStack, token: string, owner: string): Promise<Task> {
  const found = await stack.call<{ entry?: { resource: Task }[] }>(token, 'GET', `/fhir/Task?owner=${owner}&_sort=-_lastUpdated`);
  const task = found.body.entry?.map((e) => e.resource).find((t) => !['completed', 'cancelled', 'rejected', 'failed'].includes(t.status));
  if (!task) throw new Error(`No open Task for ${owner}`);
  return task;
}

async function move(stack: InProcessStack, token: string, task: Task, status: Task['status']): Promise<Task> {
  const answer = await stack.call<Task>(token, 'PUT', `/fhir/Task/${task.id}`, { ...task, status, lastModified: stack.today() });
  if (answer.status !== 200) throw new Error(`Moving the Task to ${status} failed: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  await stack.route();
  return answer.body;
}

async function coordinatorView(stack: InProcessStack, token: string, names: Map<string, string>): Promise<void> {
  // The CarePlans that list the families are written by the workflows' activities, a moment after enrolment.
  let list = await stack.call<{ families: FamilySummary[] }>(token, 'GET', '/api/families');
  for (let i = 0; i < 50 && list.body.families.length < names.size; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    list = await stack.call<{ families: FamilySummary[] }>(token, 'GET', '/api/families');
  }
  say(`   Coordinator's view (GET /api/families), ${stack.today()}:`);
  for (const f of list.body.families) {
    const handoffs = f.openHandoffs.map((h) => `${h.handoff} ${h.status}${h.daysLeft !== undefined ? `, ${h.daysLeft} days left` : ''}${h.unopenedEscalated ? ', escalated as unopened' : ''}${h.escalations ? `, escalated ${h.escalations}x` : ''}`);
    say(`     ${(names.get(f.patient ?? '') ?? f.familyId).padEnd(9)} phase ${f.phase?.title ?? '-'}; next ${f.nextDue[0]?.title ?? '-'}${f.nextDue[0]?.target ? ` (${f.nextDue[0].target})` : ''}; overdue ${f.overdue.length}; handoffs: ${handoffs.join('; ') || 'none'}${f.openChecks.length ? `; open checks: ${f.openChecks.map((c) => c.check).join(', ')}` : ''}`);
  }
}

export async function demoCommand(args: string[] = []): Promise<number> {
  const keep = args.includes('--dashboard');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const started = Date.now();
  say('Forløp demo: the whole stack in this process, on a clock that skips ahead. Nothing is kept.');
  const stack = await startInProcessStack('2026-11-02', 'forlop-demo');
  try {
    say(`   FHIR API ${stack.url}/fhir, coordinator API ${stack.url}/api, dev IdP ${stack.idp.issuer}\n`);
    const helsestasjon = await stack.token('helsestasjon');
    const familieambulatorium = await stack.token('familieambulatorium');
    const dps = await stack.token('dps');
    const coordinator = await stack.token('koordinator', 'system/*.rs');
    const names = new Map<string, string>();

    say('1. Monday 2 November 2026: the helsestasjon enrols two pregnant women over FHIR (Patient + EpisodeOfCare).');
    const a = await enrol(stack, helsestasjon, 'Familieambulatorium', '2027-04-15', '2026-11-02');
    names.set(a, 'Family A');
    const b = await enrol(stack, helsestasjon, 'Basisprogram', '2027-03-01', '2026-11-02');
    names.set(b, 'Family B');
    say('   Family A follows the familieambulatorium pathway: its first rule refers her there (ServiceRequest + Task).');
    await coordinatorView(stack, coordinator, names);

    await stack.sleepUntil('2026-11-04');
    say('\n2. 4 November: the familieambulatorium receives the referral; ten working days to decide start now.');
    let task = await move(stack, familieambulatorium, await ownedTask(stack, familieambulatorium, 'Organization/ostfold-familieambulatorium'), 'received');
    await stack.sleepUntil('2026-11-09');
    say('   9 November: it accepts. The deadline stops; a §10a "children as next of kin" check opens for it.');
    task = await move(stack, familieambulatorium, task, 'accepted');
    await coordinatorView(stack, coordinator, names);

    await stack.sleepUntil('2026-11-16');
    say('\n3. 16 November: Family B\'s EPDS is 16 (probable depression): the rule refers her to DPS.');
    await stack.call(helsestasjon, 'POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '99046-5' }] },
      subject: { reference: b },
      effectiveDateTime: '2026-11-16',
      valueInteger: 16,
    });
    await stack.route();
    await stack.sleepUntil('2026-11-20');
    say('   20 November: DPS has not opened it. The deadline counts from when it was sent (pasient- og brukerrettighetsloven §2-2),');
    say('   and a referral left unopened for three working days is escalated to the coordinator.');
    await coordinatorView(stack, coordinator, names);
    await stack.sleepUntil('2026-12-03');
    say('   3 December: ten working days since it was sent, still no decision: reminded, then escalated again (Communications).');
    await coordinatorView(stack, coordinator, names);
    const referral = await move(stack, dps, await ownedTask(stack, dps, 'Organization/sykehuset-ostfold-dps'), 'received');
    await move(stack, dps, referral, 'accepted');
    say('   DPS opens and accepts it.');

    await stack.sleepUntil('2027-01-11');
    say('\n4. 11 January 2027: the familieambulatorium ends its treatment of Family A (Task in-progress, then completed):');
    say('   the return handoff to the helsestasjon starts, so follow-up continues in the municipality.');
    task = await move(stack, familieambulatorium, task, 'in-progress');
    await move(stack, familieambulatorium, task, 'completed');
    await stack.sleepUntil('2027-01-12');
    const back = await ownedTask(stack, helsestasjon, 'Organization/sarpsborg-helsestasjon');
    say(`   The helsestasjon has a new Task: "${back.description}" (${back.status}).`);
    await coordinatorView(stack, coordinator, names);

    const audits = (await stack.store.search('AuditEvent', { _count: '0', _total: 'accurate' })).total;
    say(`\nDone in ${((Date.now() - started) / 1000).toFixed(0)} s: ${audits} API calls, each with its AuditEvent. Run \`npm start\` for Forløp on real time.`);
    say(`\nThe coordinator dashboard of this demo: ${stack.url}/ (log in as "koordinator").`);
    if (!keep) {
      say('It stops with the demo: run `npm run demo -- --dashboard` to keep it running and look.');
      return 0;
    }
    // The scripted part routed each write itself; from here on the router follows the feed, so the dashboard's actions reach the workflows.
    stack.follow();
    say('Kept running (--dashboard): open the URL in a browser. The clock stands still at the demo\'s last day. Ctrl-C stops.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    return 0;
  } finally {
    await stack.close();
  }
}
