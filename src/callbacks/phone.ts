import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';

/**
 * Ofcom's numbers for drama and examples, allocated to no one: 07700 900000-900999,
 * 01632 960000-960999 and 020 7946 0000-0999, in E.164.
 */
const DRAMA_NUMBER = /^\+44(?:7700900|1632960|2079460)\d{3}$/;

/** The number every example and hint shows: a drama number, so no real person is called. */
export const EXAMPLE_PHONE = '07700 900123';

/** Numbers a callback must not go to: they cost the service, or forward at the caller's cost. */
const CHARGED = 'premium-rate and shared-cost numbers (09, 084, 087) cannot be called back: enter a mobile or landline number';
const REFUSED_TYPES: Partial<Record<NonNullable<NumberType>, string>> = {
  PREMIUM_RATE: CHARGED,
  SHARED_COST: CHARGED,
  PERSONAL_NUMBER: "personal numbers (070) forward calls at the caller's cost and cannot be called back: enter a mobile or landline number",
};

export type PhoneCheck = { ok: true; e164: string } | { ok: false; message: string };

/**
 * UK numbers only (GB and the Crown dependencies that share +44), normalised to E.164. The full
 * metadata is used: it knows each range's type. Drama numbers are for development and tests:
 * refused when `dramaNumbers` is false (production), since nobody could answer them.
 */
export function checkUkPhone(input: string, { dramaNumbers }: { dramaNumbers: boolean }): PhoneCheck {
  const parsed = parsePhoneNumberFromString(input, 'GB');
  const invalid: PhoneCheck = { ok: false, message: `enter a UK mobile or landline number, like ${EXAMPLE_PHONE} or 020 7946 0123` };
  if (!parsed || parsed.countryCallingCode !== '44') {
    return invalid;
  }
  if (parsed.ext) {
    // Dropping it would ring a switchboard, not the patient.
    return { ok: false, message: 'enter a number we can call directly, without an extension' };
  }
  if (DRAMA_NUMBER.test(parsed.number)) {
    return dramaNumbers ? { ok: true, e164: parsed.number } : { ok: false, message: `${parsed.formatNational()} is reserved for drama and examples: enter your own mobile or landline number` };
  }
  if (!parsed.isValid()) {
    return invalid;
  }
  const type = parsed.getType();
  const refused = type && REFUSED_TYPES[type];
  return refused ? { ok: false, message: refused } : { ok: true, e164: parsed.number };
}
