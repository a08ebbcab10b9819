/**
 * Norwegian identifiers and their check digits (HL7 Norway no-basis,
 * https://hl7norway.github.io/basisprofiler-r4/): fødselsnummer and D-nummer
 * (two mod-11 check digits, Skatteetaten), H-nummer (help numbers: month + 40),
 * HPR-nummer (health personnel register), organisasjonsnummer (one mod-11
 * check digit, Brønnøysundregistrene).
 */
export const SYSTEMS = {
  fnr: 'urn:oid:2.16.578.1.12.4.1.4.1',
  dnr: 'urn:oid:2.16.578.1.12.4.1.4.2',
  hnr: 'urn:oid:2.16.578.1.12.4.1.4.3',
  hpr: 'urn:oid:2.16.578.1.12.4.1.4.4',
  orgnr: 'urn:oid:2.16.578.1.12.4.1.4.101',
  rsh: 'urn:oid:2.16.578.1.12.4.1.4.102',
  kommunenummer: 'urn:oid:2.16.578.1.12.4.1.1.3402',
  herId: 'urn:oid:2.16.578.1.12.4.1.2',
} as const;

function mod11(digits: string, weights: number[]): number | undefined {
  const sum = weights.reduce((acc, w, i) => acc + w * Number(digits[i]), 0);
  const rest = 11 - (sum % 11);
  if (rest === 11) return 0;
  if (rest === 10) return undefined; // no valid check digit: the number cannot exist
  return rest;
}

/** Both check digits of an 11-digit person number (fødselsnummer, D-nummer, H-nummer). */
export function hasValidPersonNumberCheckDigits(value: string): boolean {
  if (!/^\d{11}$/.test(value)) return false;
  const k1 = mod11(value, [3, 7, 6, 1, 8, 9, 4, 5, 2]);
  const k2 = mod11(value, [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
  return k1 === Number(value[9]) && k2 === Number(value[10]);
}

export type PersonNumberKind = 'fnr' | 'dnr' | 'hnr';

/** The kind of a valid person number, or a reason why it is not one. */
export function checkPersonNumber(value: string, expected?: PersonNumberKind): { ok: true; kind: PersonNumberKind } | { ok: false; reason: string } {
  if (!/^\d{11}$/.test(value)) return { ok: false, reason: 'must be 11 digits' };
  if (!hasValidPersonNumberCheckDigits(value)) return { ok: false, reason: 'has wrong check digits (mod 11)' };
  let day = Number(value.slice(0, 2));
  let month = Number(value.slice(2, 4));
  let kind: PersonNumberKind = 'fnr';
  if (day > 40) {
    day -= 40;
    kind = 'dnr';
  }
  if (month > 80) {
    // Synthetic test numbers (Skatteetaten's Tenor test population: month + 80) are allowed.
    month -= 80;
  } else if (month > 40) {
    month -= 40;
    kind = 'hnr';
  }
  if (day < 1 || day > 31 || month < 1 || month > 12) return { ok: false, reason: 'does not start with a valid date' };
  if (expected && expected !== kind) return { ok: false, reason: `is a ${kind === 'dnr' ? 'D-nummer' : kind === 'hnr' ? 'H-nummer' : 'fødselsnummer'}, not a ${expected === 'dnr' ? 'D-nummer' : expected === 'hnr' ? 'H-nummer' : 'fødselsnummer'}` };
  return { ok: true, kind };
}

/** Organisasjonsnummer: 9 digits, the last a mod-11 check digit with weights 3 2 7 6 5 4 3 2. */
export function isValidOrganisationNumber(value: string): boolean {
  if (!/^\d{9}$/.test(value)) return false;
  return mod11(value, [3, 2, 7, 6, 5, 4, 3, 2]) === Number(value[8]);
}

/** HPR-nummer: a number of up to 9 digits in Helsepersonellregisteret (no public check digit). */
export function isValidHprNumber(value: string): boolean {
  return /^[1-9]\d{0,8}$/.test(value);
}

/** Kommunenummer: 4 digits, county number 03-56. */
export function isValidKommunenummer(value: string): boolean {
  return /^\d{4}$/.test(value) && Number(value.slice(0, 2)) >= 3;
}
