import { addDays, addMonths, addWorkingDays, daysBetween, easterSunday, isWorkingDay, osloDate, osloStartOfDay, publicHolidays, weekday, workingDaysBetween } from './calendar';

describe('Norwegian calendar', () => {
  it.each([
    [2024, '2024-03-31'],
    [2025, '2025-04-20'],
    [2026, '2026-04-05'],
    [2027, '2027-03-28'],
    [2038, '2038-04-25'],
  ])('computes Easter Sunday %i = %s', (year, date) => {
    expect(easterSunday(year)).toBe(date);
  });

  it('lists the twelve public holidays of 2026', () => {
    expect([...publicHolidays(2026).entries()].sort()).toEqual([
      ['2026-01-01', '1. nyttårsdag'],
      ['2026-04-02', 'Skjærtorsdag'],
      ['2026-04-03', 'Langfredag'],
      ['2026-04-05', '1. påskedag'],
      ['2026-04-06', '2. påskedag'],
      ['2026-05-01', 'Arbeidernes dag'],
      ['2026-05-14', 'Kristi himmelfartsdag'],
      ['2026-05-17', 'Grunnlovsdag'],
      ['2026-05-24', '1. pinsedag'],
      ['2026-05-25', '2. pinsedag'],
      ['2026-12-25', '1. juledag'],
      ['2026-12-26', '2. juledag'],
    ]);
  });

  it('counts 10 working days across Easter 2026 (a referral received Monday 30 March is due Thursday 16 April)', () => {
    expect(addWorkingDays('2026-03-30', 10)).toBe('2026-04-16');
    expect(workingDaysBetween('2026-03-30', '2026-04-16')).toBe(10);
    expect(isWorkingDay('2026-04-02')).toBe(false); // Skjærtorsdag
    expect(isWorkingDay('2026-04-07')).toBe(true);
  });

  it('skips weekends: Friday + 1 working day is Monday', () => {
    expect(weekday('2026-11-20')).toBe(5);
    expect(addWorkingDays('2026-11-20', 1)).toBe('2026-11-23');
  });

  it('adds days and months in the calendar', () => {
    expect(addDays('2026-12-30', 3)).toBe('2027-01-02');
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2028-01-31', 1)).toBe('2028-02-29');
    expect(addMonths('2026-06-15', 36)).toBe('2029-06-15');
    expect(daysBetween('2026-01-01', '2027-01-01')).toBe(365);
  });

  it('gives the Oslo date of an instant across summer time', () => {
    expect(osloDate('2026-06-30T22:30:00Z')).toBe('2026-07-01'); // 00:30 CEST
    expect(osloDate('2026-12-31T22:30:00Z')).toBe('2026-12-31'); // 23:30 CET
    expect(osloDate('2026-03-29T00:30:00Z')).toBe('2026-03-29'); // before the switch at 01:00 UTC
    expect(osloDate('2026-10-24T22:30:00Z')).toBe('2026-10-25'); // still summer time
  });

  it('refuses dates that do not exist', () => {
    expect(() => addDays('2026-02-30', 1)).toThrow("'2026-02-30' is not a valid calendar date");
    expect(() => addWorkingDays('2026-01-05', -1)).toThrow(RangeError);
  });
});

describe('osloStartOfDay', () => {
  it('is 22:00 UTC the day before in summer time and 23:00 UTC in winter', () => {
    expect(new Date(osloStartOfDay('2026-07-01')).toISOString()).toBe('2026-06-30T22:00:00.000Z');
    expect(new Date(osloStartOfDay('2026-12-31')).toISOString()).toBe('2026-12-30T23:00:00.000Z');
    // The day summer time begins (29 March 2026) starts in winter time.
    expect(new Date(osloStartOfDay('2026-03-29')).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(new Date(osloStartOfDay('2026-10-25')).toISOString()).toBe('2026-10-24T22:00:00.000Z');
  });
});
