import { checkPersonNumber, hasValidPersonNumberCheckDigits, isValidHprNumber, isValidOrganisationNumber } from './norwegian-identifiers';

describe('Norwegian identifiers', () => {
  it.each([
    ['01019000083', 'fnr'],
    ['41019000077', 'dnr'],
    ['01519000004', 'hnr'],
    ['01819000049', 'fnr'], // synthetic test population (month + 80)
  ])('accepts %s as a valid %s', (value, kind) => {
    expect(checkPersonNumber(value)).toEqual({ ok: true, kind });
  });

  it.each([
    ['01019000084', 'has wrong check digits (mod 11)'],
    ['0101900008', 'must be 11 digits'],
    ['3201900008x', 'must be 11 digits'],
  ])('refuses %s: %s', (value, reason) => {
    expect(checkPersonNumber(value)).toEqual({ ok: false, reason });
  });

  it('refuses a D-nummer where a fødselsnummer is expected', () => {
    expect(checkPersonNumber('41019000077', 'fnr')).toEqual({ ok: false, reason: 'is a D-nummer, not a fødselsnummer' });
  });

  it('checks both person number check digits', () => {
    expect(hasValidPersonNumberCheckDigits('01019000083')).toBe(true);
    expect(hasValidPersonNumberCheckDigits('01019000093')).toBe(false);
  });

  it('checks organisation numbers (mod 11) and HPR numbers', () => {
    expect(isValidOrganisationNumber('974760673')).toBe(true); // Brønnøysundregistrene
    expect(isValidOrganisationNumber('974760674')).toBe(false);
    expect(isValidOrganisationNumber('97476067')).toBe(false);
    expect(isValidHprNumber('9144889')).toBe(true);
    expect(isValidHprNumber('0123')).toBe(false);
  });
});
