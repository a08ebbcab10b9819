import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefinitionError, formatProblem } from './problems';
import { DefinitionRegistry } from './registry';
import { parseSourceText } from './source-file';
import { semanticWarnings } from './semantic-checks';

const registry = DefinitionRegistry.builtIn();

/** A small valid definition; each test breaks one thing in it. */
const VALID = `url: https://example.org/pathways/small
version: 0.1.0
name: Small
title: A small pathway
status: draft
sources:
  guideline: { title: A guideline }
services:
  helsestasjon: { title: Helsestasjon, kind: municipal }
instruments:
  epds:
    title: EPDS
    code: { system: http://loinc.org, code: 99046-5 }
    min: 0
    max: 30
    items: 10
    bands:
      - { id: none, title: Under, min: 0, max: 9 }
      - { id: possible, title: Possible, min: 10, max: 30 }
    source: guideline
phases:
  - { id: pregnancy, title: Pregnancy, start: { anchor: enrolment } }
  - { id: infant, title: Infant, start: { anchor: birth } }
contacts:
  - id: hs-6w
    title: Six weeks
    phase: infant
    deliveredBy: helsestasjon
    code: { system: https://example.org/cs, code: hs }
    at: { anchor: birth, offset: 6w }
    window: { earliest: 5w, latest: 8w }
    source: guideline
  - id: interview
    title: Interview
    deliveredBy: helsestasjon
    code: { system: https://example.org/cs, code: interview }
    at: { anchor: event, offset: 7d }
    window: { earliest: 0d, latest: 14d }
    trigger: rule
    source: guideline
rules:
  - id: epds-high
    on: screening-recorded
    when: { instrument: epds, band: possible }
    do: [{ schedule: interview }]
    source: guideline
exits:
  - { id: ended-pregnancy, title: Ended, on: pregnancy-ended, carePlanStatus: revoked, source: guideline }
  - { id: moved, title: Moved, on: moved, carePlanStatus: revoked, source: guideline }
  - { id: withdrawn, title: Withdrawn, on: consent-withdrawn, carePlanStatus: revoked, source: guideline }
  - { id: age-3, title: Three, at: { anchor: birth, offset: 3y }, carePlanStatus: completed, source: guideline }
`;

function problems(text: string, file = 'small.yaml'): string[] {
  try {
    registry.resolve(parseSourceText(text, file));
  } catch (error) {
    if (error instanceof DefinitionError) return error.problems.map(formatProblem);
    throw error;
  }
  return [];
}

describe('built-in definitions', () => {
  it.each(registry.canonicals())('%s loads, checks and compiles', (canonical) => {
    const plan = registry.plan(canonical);
    expect(plan.canonical).toBe(canonical);
    // Every step cites a source that resolves to a title.
    for (const step of plan.steps) expect(step.source.title).not.toBe('');
  });

  it('the small test definition is valid', () => {
    expect(problems(VALID)).toEqual([]);
  });
});

describe('warnings: steps a result could both fulfil (issue #29)', () => {
  const warnings = (text: string) => semanticWarnings(registry.resolve(parseSourceText(text, 'small.yaml')).merged).map(formatProblem);
  const second = `  - id: hs-9w
    title: Nine weeks
    phase: infant
    deliveredBy: helsestasjon
    code: { system: https://example.org/cs, code: hs }
    at: { anchor: birth, offset: 9w }
    window: { earliest: 9w, latest: 10w }
    source: guideline
  - id: interview`;
  const withSecond = VALID.replace('  - id: interview', second);

  it('none for windows a week apart with no tolerance', () => {
    expect(warnings(withSecond)).toEqual([]);
  });

  it('when a tolerance for the kind or the step makes them meet', () => {
    const kind = withSecond.replace('status: draft\n', 'status: draft\nmatchWithin: { consultation: 1w }\n').replace('    phase: infant\n    deliveredBy: helsestasjon\n    code: { system: https://example.org/cs, code: hs }\n    at: { anchor: birth, offset: 9w }', '    phase: infant\n    kind: consultation\n    deliveredBy: helsestasjon\n    code: { system: https://example.org/cs, code: hs }\n    at: { anchor: birth, offset: 9w }');
    expect(warnings(kind)).toEqual([
      "small.yaml:41:5 /contacts/1/window: steps 'hs-6w' and 'hs-9w' (code https://example.org/cs|hs) have overlapping windows with their tolerance (0d and 1w): a result or contact dated in the overlap is ambiguous (narrow a window or a matchWithin so they do not meet, or let services link the result to its step (basedOn))",
    ]);
    expect(warnings(withSecond.replace('    window: { earliest: 9w, latest: 10w }', '    window: { earliest: 9w, latest: 10w }\n    matchWithin: 1w'))).toHaveLength(1);
  });

  it('basis 1.0.0 has one (the 4- and 6-week consultations share a day); 1.1.0 none', () => {
    const check = (canonical: string) => semanticWarnings(registry.resolve(registry.find(canonical, registry.find(canonical, undefined as never)!)!).merged);
    expect(check('https://forlop.no/fhir/PlanDefinition/basis|1.0.0').map((w) => w.message)).toEqual([expect.stringMatching(/^steps 'hs-4w' and 'hs-6w'/)]);
    expect(check('https://forlop.no/fhir/PlanDefinition/basis|1.1.0')).toEqual([]);
  });
});

describe('schema errors point at the line and say how to fix it', () => {
  it('a YAML syntax error', () => {
    expect(problems(VALID.replace('title: A small pathway', 'title: [A small pathway'))).toEqual([expect.stringMatching(/^small\.yaml:5:1 \/: not valid YAML or JSON: Flow sequence in block collection must be sufficiently indented and end with a \]/)]);
  });

  it('a misspelt property, with the likely one', () => {
    expect(problems(VALID.replace('    window: { earliest: 5w', '    windw: { earliest: 5w'))).toEqual([
      "small.yaml:25:5 /contacts/0: missing required property 'window'",
      "small.yaml:31:5 /contacts/0/windw: unknown property 'windw' (did you mean 'window'?)",
    ]);
  });

  it('an offset that is not a duration', () => {
    expect(problems(VALID.replace('offset: 6w }', 'offset: 6 weeks }'))).toEqual([
      "small.yaml:30:26 /contacts/0/at/offset: '6 weeks' is not in the expected form (expected a signed whole number with unit d, w, mo or y, e.g. 6w, -2d, 3mo)",
    ]);
  });

  it('an unknown anchor, with the likely one', () => {
    expect(problems(VALID.replace('at: { anchor: birth, offset: 6w }', 'at: { anchor: brith, offset: 6w }'))).toEqual([
      "small.yaml:30:11 /contacts/0/at/anchor: 'brith' is not one of enrolment, dueDate, gestation, birth, event (did you mean 'birth'?)",
    ]);
  });
});

describe('semantic errors', () => {
  it('an id used twice', () => {
    expect(problems(VALID.replace('  - id: interview\n', '  - id: hs-6w\n'))).toContainEqual("small.yaml:33:5 /contacts/1/id: step id 'hs-6w' is used twice (the first is at line 25; give each a different id)");
  });

  it('a reference to a service that does not exist', () => {
    expect(problems(VALID.replace('    deliveredBy: helsestasjon\n    code: { system: https://example.org/cs, code: hs }', '    deliveredBy: helsestasjom\n    code: { system: https://example.org/cs, code: hs }'))).toEqual([
      "small.yaml:28:5 /contacts/0/deliveredBy: no service 'helsestasjom' is defined (did you mean 'helsestasjon'?)",
    ]);
  });

  it('a window that does not contain its target', () => {
    expect(problems(VALID.replace('window: { earliest: 5w, latest: 8w }', 'window: { earliest: 7w, latest: 8w }'))).toEqual([
      'small.yaml:31:5 /contacts/0/window: the target 6w lies outside its window 7w to 8w (the window is counted from the same anchor as `at` and must contain the target)',
    ]);
  });

  it('score bands with a gap and bands that overlap', () => {
    expect(problems(VALID.replace('{ id: possible, title: Possible, min: 10, max: 30 }', '{ id: possible, title: Possible, min: 12, max: 30 }'))).toEqual([
      "small.yaml:19:42 /instruments/epds/bands/1/min: scores 10-11 fall in no band (start band 'possible' at 10, or add a band for them)",
    ]);
    expect(problems(VALID.replace('{ id: possible, title: Possible, min: 10, max: 30 }', '{ id: possible, title: Possible, min: 9, max: 30 }'))).toEqual([
      "small.yaml:19:42 /instruments/epds/bands/1/min: band 'possible' (9-30) overlaps the band below it (start it at 10)",
    ]);
  });

  it('a rule that schedules a step every family already has', () => {
    expect(problems(VALID.replace('do: [{ schedule: interview }]', 'do: [{ schedule: hs-6w }]'))).toEqual([
      "small.yaml:45:12 /rules/0/do/0/schedule: step 'hs-6w' is planned for every family, so a rule cannot schedule it (give 'hs-6w' trigger: rule and anchor: event)",
    ]);
  });

  it('rules that feed themselves', () => {
    const cyclic = VALID.replace(
      'rules:\n',
      'rules:\n  - id: again\n    on: contact-overdue\n    when: { step: interview }\n    do: [{ schedule: interview }]\n    source: guideline\n',
    );
    expect(problems(cyclic)).toContainEqual(
      'small.yaml:45:5 /rules/0/do: rules form a cycle: again -> again (each schedules a step whose events fire the next) (narrow a rule with when: so it does not fire for the step it schedules)',
    );
  });

  it('two handoffs that take referrals to the same service', () => {
    const basis = readFileSync(path.join(__dirname, 'definitions', 'basis.yaml'), 'utf8');
    const twice = basis.replace('handoffs:\n', 'handoffs:\n  - { id: dps-second, title: Second, from: fastlege, to: dps, legalBasis: consent, startedBy: [referral], deadline: { workingDays: 10 }, escalation: [{ after: 0d, to: coordinator }], source: pbrl-2-2 }\n');
    expect(problems(twice, 'basis.yaml')).toEqual([
      expect.stringMatching(/^basis\.yaml:\d+:\d+ \/handoffs\/1\/startedBy: handoffs 'dps-second' and 'mental-health-referral' both take referrals to 'dps'; a referral could not tell which applies \(let one handoff per receiving service be startedBy referral\)$/),
    ]);
  });

  it('an urgent handoff without a deadline in hours, hours on a routine one, and a rule that treats §33 as a consent (issue #23)', () => {
    const basis = readFileSync(path.join(__dirname, 'definitions', 'basis.yaml'), 'utf8');
    const handoff = (fields: string) => basis.replace('handoffs:\n', `handoffs:\n  - { id: acute, title: Acute, from: helsestasjon, to: fastlege, legalBasis: health-personnel-cooperation, ${fields}, source: epds }\n`);
    expect(problems(handoff('priority: urgent, deadline: { workingDays: 1, from: sent }, escalation: [{ after: 0d, to: coordinator }]'), 'basis.yaml')).toEqual([
      expect.stringMatching(/\/handoffs\/0\/deadline: an urgent handoff needs a deadline in hours \(e\.g\. hours: 6 for an assessment the same day\)/),
    ]);
    expect(problems(handoff('deadline: { hours: 6, from: sent }, escalation: [{ after: 2h, to: coordinator }]'), 'basis.yaml')).toEqual([expect.stringMatching(/\/handoffs\/0\/deadline\/hours: a deadline in hours is for urgent handoffs/)]);
    expect(problems(handoff('deadline: { days: 1 }, escalation: [{ after: 2h, to: coordinator }]'), 'basis.yaml')).toEqual([expect.stringMatching(/\/handoffs\/0\/escalation\/0\/after: '2h' is in hours, but this handoff's deadline is in days/)]);
    expect(problems(handoff('priority: urgent, deadline: { hours: 6 }, escalation: [{ after: 0h, to: coordinator }]'), 'basis.yaml')).toEqual([expect.stringMatching(/\/handoffs\/0\/deadline\/from: an urgent handoff's hours count from when it is sent/)]);
    expect(problems(handoff('priority: urgent, deadline: { hours: 6, from: sent }, escalation: [{ after: 0h, to: coordinator }]'), 'basis.yaml')).toEqual([]);
    const rule = basis.replace('rules:\n', 'rules:\n  - { id: stop-report, on: consent-changed, when: { basis: section-33, consent: withdrawn }, do: [{ notifyCoordinator: stop }], source: forlop }\n');
    expect(problems(rule, 'basis.yaml')).toEqual([expect.stringMatching(/\/rules\/0\/when\/basis: the duty to inform child welfare \(section-33, helsepersonelloven §33\) is not a consent/)]);
  });

  it('a pathway that cannot end, and one that does not say how to close when the pregnancy ends', () => {
    const noEnd = VALID.replace(/ {2}- \{ id: age-3.*\n/, '').replace(/ {2}- \{ id: ended-pregnancy.*\n/, '');
    expect(problems(noEnd)).toEqual([
      'small.yaml:47:1 /exits: no exit has a time point, so the pathway would never end (add an exit at {anchor: birth, offset: 3y} (the child turns three))',
      "small.yaml:47:1 /exits: no exit for 'pregnancy-ended' (add an exit with on: pregnancy-ended, so the pathway closes with care when it happens)",
    ]);
  });
});

describe('extends', () => {
  const variant = (body: string) => `url: https://example.org/pathways/local
version: 1.0.0
name: Local
title: Local helsestasjon programme
status: active
extends: https://forlop.no/fhir/PlanDefinition/basis|1.0.0
${body}`;

  it('a municipality replaces the 8 and 10 month consultations with one at 9 months', () => {
    const text = variant(`remove: [hs-8m, hs-10m]
sources:
  local: { title: Local decision }
contacts:
  - id: hs-9m
    title: Helsestasjon 9 måneder
    phase: infant
    deliveredBy: helsestasjon
    code: { system: https://forlop.no/fhir/CodeSystem/pathway-activity, code: helsestasjon-consultation }
    at: { anchor: birth, offset: 9mo }
    window: { earliest: 37w, latest: 41w }
    plannedEncounter: true
    source: local
`);
    const { plan } = registry.resolve(parseSourceText(text, 'local.yaml'));
    const ids = plan.steps.map((s) => s.id);
    expect(ids).toContain('hs-9m');
    expect(ids).not.toContain('hs-8m');
    expect(ids).not.toContain('hs-10m');
    expect(ids.indexOf('hs-6m')).toBeLessThan(ids.indexOf('hs-9m'));
    expect(ids.indexOf('hs-9m')).toBeLessThan(ids.indexOf('hs-12m'));
    expect(plan.canonical).toBe('https://example.org/pathways/local|1.0.0');
    // The base's rules and instruments come along.
    expect(plan.instruments.epds.bands.map((b) => b.id)).toEqual(['none', 'possible', 'probable']);
  });

  it('names a base that is not known, and removals that are not in the base', () => {
    expect(problems(variant('').replace('basis|1.0.0', 'basis|9.9.9'), 'local.yaml')).toEqual([
      'local.yaml:6:1 /extends: no definition https://forlop.no/fhir/PlanDefinition/basis|9.9.9 is known (extend a built-in definition (forlop pathway list) or put the base file next to this one)',
    ]);
    expect(problems(variant('remove: [hs-8mo]\n'), 'local.yaml')).toEqual([
      "local.yaml:7:10 /remove/0: 'hs-8mo' is not an entry of https://forlop.no/fhir/PlanDefinition/basis|1.0.0 (remove names the id of a step, rule, handoff, check, exit, phase, service, instrument or source of the base)",
    ]);
  });

  it('reports a problem in a variant entry at the variant file', () => {
    const text = variant(`contacts:
  - id: hs-9m
    title: Helsestasjon 9 måneder
    deliveredBy: helsestasjonen
    code: { system: https://forlop.no/fhir/CodeSystem/pathway-activity, code: helsestasjon-consultation }
    at: { anchor: birth, offset: 9mo }
    window: { earliest: 37w, latest: 41w }
    source: helsestasjon
`);
    expect(problems(text, 'local.yaml')).toEqual(["local.yaml:10:5 /contacts/0/deliveredBy: no service 'helsestasjonen' is defined (did you mean 'helsestasjon'?)"]);
  });
});
