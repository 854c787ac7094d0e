/**
 * A fast path for JSON Schema's `date-time` format (RFC 3339 §5.6, as ajv-formats' "full" mode checks it).
 * Every envelope carries two date-times, and ajv-formats' check (split on a regex, two more regexes, number
 * parsing) was a measurable share of the consumer's CPU. `isCommonDateTime` recognises, with char codes
 * only, the shapes agents actually send — `YYYY-MM-DDTHH:MM:SS[.f]Z` or with a `±HH:MM` offset — and says
 * `true` only when ajv-formats would too. Anything else (a space or lowercase separator, `±HHMM`, a leap
 * second, an invalid value) gets `false`, and the caller asks ajv-formats: the verdict is always its verdict.
 */

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** Beyond this many fraction digits, `+"59.999…"` may round up to 60, which ajv-formats rejects: leave it to it. */
const MAX_FRACTION_DIGITS = 9;

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** The two-digit number at `i`, or -1. */
function twoDigits(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function isCommonDateTime(s: string): boolean {
  const n = s.length;
  if (n < 20) return false;
  const hiYear = twoDigits(s, 0);
  const loYear = twoDigits(s, 2);
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11);
  const minute = twoDigits(s, 14);
  const second = twoDigits(s, 17);
  if (hiYear < 0 || loYear < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  // '-', '-', 'T', ':', ':'
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (day > (month === 2 && isLeapYear(hiYear * 100 + loYear) ? 29 : DAYS_IN_MONTH[month]!)) return false;
  let i = 19;
  if (s.charCodeAt(i) === 46) {
    const start = ++i;
    while (i < n && digit(s, i) >= 0) i++;
    if (i === start || i - start > MAX_FRACTION_DIGITS) return false;
  }
  const zone = s.charCodeAt(i);
  // 'Z'
  if (zone === 90) return i + 1 === n;
  // '+' or '-', then HH:MM
  if ((zone === 43 || zone === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
    const zoneHour = twoDigits(s, i + 1);
    const zoneMinute = twoDigits(s, i + 4);
    return zoneHour >= 0 && zoneHour <= 23 && zoneMinute >= 0 && zoneMinute <= 59;
  }
  return false;
}
