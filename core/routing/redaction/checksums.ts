// Checksums that tell a payment card number or an IBAN from any other run of digits.
// Hand-written: each is a few lines of arithmetic from the standard (ISO/IEC 7812 for Luhn,
// ISO 13616 / ISO 7064 for IBAN mod-97), and no validator package is installed; adding one
// would be a dependency for less code than its import.

/** Luhn: double every second digit from the right, sum the digits; valid when the sum ends in 0. */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** IBAN: move the country code and check digits to the end, letters to numbers (A=10 … Z=35);
 *  valid when the number mod 97 is 1. Computed piecewise so it never needs a bigint. */
export function passesIbanCheck(iban: string): boolean {
  const compact = iban.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const value = char >= 'A' ? char.charCodeAt(0) - 55 : char.charCodeAt(0) - 48;
    remainder = (value > 9 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}
