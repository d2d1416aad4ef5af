"""National Provider Identifier check digit: CMS "NPI: Check Digit" (Luhn over the prefix 80840 + the first nine digits)."""
from __future__ import annotations

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NPI_PREFIX = "80840"  # the health-industry card issuer prefix CMS puts before the nine digits


def is_valid_npi(value: object) -> bool:
    """True for ten ASCII digits whose last is the Luhn check digit of 80840 followed by the first nine."""
    if not (isinstance(value, str) and len(value) == 10 and value.isascii() and value.isdigit()):
        return False
    digits = [int(d) for d in NPI_PREFIX + value[:9]]
    total = 0
    for position, digit in enumerate(reversed(digits)):  # double every other digit from the right
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10 == int(value[9])


NPI_RULE = "must be a 10-digit NPI with a valid check digit (Luhn over 80840 + the first nine digits)"
