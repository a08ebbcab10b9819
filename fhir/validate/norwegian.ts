/**
 * Checks of Norwegian identifiers wherever a resource carries them
 * (identifier[] and Reference.identifier at any depth): a value under the
 * fødselsnummer, D-nummer, H-nummer, organisasjonsnummer, HPR or kommunenummer
 * system must be a valid number of that kind.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { issue } from '../outcome';
import { checkPersonNumber, isValidHprNumber, isValidKommunenummer, isValidOrganisationNumber, SYSTEMS } from '../norwegian-identifiers';

type Check = (value: string) => string | undefined;

const CHECKS: Record<string, { name: string; check: Check }> = {
  [SYSTEMS.fnr]: { name: 'fødselsnummer', check: (v) => failure(checkPersonNumber(v, 'fnr')) },
  [SYSTEMS.dnr]: { name: 'D-nummer', check: (v) => failure(checkPersonNumber(v, 'dnr')) },
  [SYSTEMS.hnr]: { name: 'H-nummer', check: (v) => failure(checkPersonNumber(v, 'hnr')) },
  [SYSTEMS.orgnr]: { name: 'organisasjonsnummer', check: (v) => (isValidOrganisationNumber(v) ? undefined : /^\d{9}$/.test(v) ? 'has a wrong check digit (mod 11)' : 'must be 9 digits') },
  [SYSTEMS.hpr]: { name: 'HPR-nummer', check: (v) => (isValidHprNumber(v) ? undefined : 'must be a number of up to 9 digits') },
  [SYSTEMS.kommunenummer]: { name: 'kommunenummer', check: (v) => (isValidKommunenummer(v) ? undefined : 'must be 4 digits') },
};

function failure(result: { ok: true } | { ok: false; reason: string }): string | undefined {
  return result.ok ? undefined : result.reason;
}

export function norwegianIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const visit = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${path}[${i}]`));
      return;
    }
    if (!value || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (typeof record.system === 'string' && typeof record.value === 'string' && CHECKS[record.system]) {
      const { name, check } = CHECKS[record.system];
      const reason = check(record.value);
      // The value itself is never echoed: it may be a national id number.
      if (reason) issues.push(issue('value', `Invalid ${name}: ${reason}`, `${path}.value`));
    }
    for (const [key, child] of Object.entries(record)) if (key !== 'contained' || Array.isArray(child)) visit(child, `${path}.${key}`);
  };
  for (const [key, child] of Object.entries(resource)) visit(child, `${resource.resourceType}.${key}`);
  return issues;
}
