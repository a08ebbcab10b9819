/** `forlop demo` runs to its end and shows what it promises: the referral there and back, the escalation, the coordinator's view. */
import { demoCommand } from './demo-command';

jest.setTimeout(120_000);

it('plays two families through a referral there and back and an escalation, printing the coordinator view', async () => {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((text: string) => void lines.push(String(text)));
  try {
    expect(await demoCommand()).toBe(0);
  } finally {
    log.mockRestore();
  }
  const out = lines.join('\n');
  expect(out).toMatch(/Family A .*familieambulatorium-referral accepted; open checks: section-10a/);
  // DPS leaves the referral unopened: escalated as unopened after three working days, then past its deadline, counted from sending.
  expect(out).toMatch(/2026-11-20:\n.*\n\s+Family B .*mental-health-referral requested, \d+ days left, escalated as unopened$/m);
  expect(out).toMatch(/Family B .*mental-health-referral requested, -\d+ days left, escalated as unopened, escalated 1x/);
  expect(out).toContain('The helsestasjon has a new Task: "Tilbakeføring til kommunen ved avslutning i familieambulatoriet" (requested).');
  expect(out).toMatch(/Family A .*familieambulatorium-discharge requested, 6 days left/);
  expect(out).toMatch(/Done in \d+ s: \d+ API calls, each with its AuditEvent/);
  // It ends with the dashboard's URL (kept running with --dashboard).
  expect(out).toMatch(/The coordinator dashboard of this demo: http:\/\/127\.0\.0\.1:\d+\/ \(log in as "koordinator"\)/);
});
