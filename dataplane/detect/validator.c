/*
 * Validators (validator.h): Luhn for card numbers, ISO 13616 mod-97 for
 * IBANs, each walking back from the end of a match. Byte classes are ASCII
 * and spelled out here, not <ctype.h>'s: a locale must not change what a
 * rule matches.
 */
#include "validator.h"

#define CARD_DIGITS_MIN 13
#define CARD_DIGITS_MAX 19
#define IBAN_CHARS_MIN  15
#define IBAN_CHARS_MAX  34

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_alnum(uint8_t c)
{
	return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z');
}

/* What may separate a card's digits. */
static bool is_card_sep(uint8_t c)
{
	return c == ' ' || c == '-';
}

/* What may close a card number before the value or a non-digit goes on: "... 1111." */
static bool is_card_close(uint8_t c)
{
	return c == ' ' || c == '.' || c == '-';
}

/* A byte that can belong to a number (the card pattern's [0-9A-Za-z.+/_ -]): touching a run, it refuses it. */
static bool in_number(uint8_t c)
{
	return is_alnum(c) || is_card_sep(c) || c == '.' || c == '+' || c == '/' || c == '_';
}

static bool is_iban_char(uint8_t c)
{
	return is_digit(c) || is_upper(c);
}

/* ------------------------------------------------------------------ luhn */

/*
 * The index of the card's last digit, past the trailing boundary; false when
 * the window does not end like one. Tried in order, so the two-byte boundary
 * (a closing byte, then a non-digit) is only reached when the last byte is
 * no digit.
 */
static bool card_last_digit(const uint8_t *w, size_t len, size_t *last)
{
	if (len >= 1 && is_digit(w[len - 1])) {
		*last = len - 1;
		return true;
	}
	if (len >= 2 && is_digit(w[len - 2]) && (!in_number(w[len - 1]) || is_card_close(w[len - 1]))) {
		*last = len - 2;
		return true;
	}
	if (len >= 3 && is_digit(w[len - 3]) && is_card_close(w[len - 2])) {
		*last = len - 3;
		return true;
	}
	return false;
}

/*
 * Whether the run starting at w[first] is not glued to a word, a decimal or
 * a path. A separator before it is fine: one after a digit would have been
 * taken into the run.
 */
static bool card_starts_clean(const uint8_t *w, size_t first)
{
	return first == 0 || is_card_sep(w[first - 1]) || !in_number(w[first - 1]);
}

static bool luhn_accept(const uint8_t *w, size_t len)
{
	unsigned int digits = 0, sum = 0;
	size_t last, i;

	if (!card_last_digit(w, len, &last))
		return false;
	/* Right to left, so the check digit has weight 1 and every second digit is doubled. */
	for (i = last + 1;;) {
		unsigned int d = (unsigned int)(w[i - 1] - '0');

		if (++digits > CARD_DIGITS_MAX)
			return false;   /* a longer run: no candidate of the pattern, a piece of something else */
		if (digits % 2 == 0)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
		i--;
		if (i >= 1 && is_digit(w[i - 1]))
			continue;
		if (i >= 2 && is_card_sep(w[i - 1]) && is_digit(w[i - 2])) {
			i--;
			continue;
		}
		break;
	}
	return digits >= CARD_DIGITS_MIN && card_starts_clean(w, i) && sum % 10 == 0;
}

/* ------------------------------------------------------------------ iban */

static unsigned int mod97_push(unsigned int rem, uint8_t c)
{
	return is_digit(c) ? (rem * 10 + (unsigned int)(c - '0')) % 97 : (rem * 100 + (unsigned int)(c - 'A' + 10)) % 97;
}

/*
 * ISO 13616 over w[start..end), spaces skipped: the first four characters
 * (contiguous, checked by the caller) go to the end, letters count as two
 * digits. The remainder is kept below 97 at every step: no big numbers.
 */
static bool iban_mod97_ok(const uint8_t *w, size_t start, size_t end)
{
	unsigned int rem = 0;

	for (size_t k = start + 4; k < end; k++) {
		if (w[k] != ' ')
			rem = mod97_push(rem, w[k]);
	}
	for (size_t k = start; k < start + 4; k++)
		rem = mod97_push(rem, w[k]);
	return rem == 1;
}

static bool iban_accept(const uint8_t *w, size_t len)
{
	unsigned int chars = 0;
	size_t end, s;

	/* Past the trailing boundary: the match ended at the value's end, or one byte after the last character. */
	if (len >= 1 && is_iban_char(w[len - 1]))
		end = len;
	else if (len >= 2 && !is_alnum(w[len - 1]) && is_iban_char(w[len - 2]))
		end = len - 1;
	else
		return false;
	/* The run back to the farthest start an IBAN could have: characters, single spaces between them. */
	for (s = end; chars < IBAN_CHARS_MAX; chars++) {
		if (s >= 1 && is_iban_char(w[s - 1]))
			s--;
		else if (s >= 2 && w[s - 1] == ' ' && is_iban_char(w[s - 2]))
			s -= 2;
		else
			break;
	}
	/* Every start in it that the pattern could have begun at, longest first; chars counts from w[s] on. */
	for (; s < end && chars >= IBAN_CHARS_MIN; s++) {
		if (w[s] == ' ')
			continue;
		if ((s == 0 || !is_alnum(w[s - 1])) && s + 4 <= end && is_upper(w[s]) && is_upper(w[s + 1]) &&
		    is_digit(w[s + 2]) && is_digit(w[s + 3]) && iban_mod97_ok(w, s, end))
			return true;
		chars--;
	}
	return false;
}

bool ztg_validator_accept(enum ztg_sig_validator v, const uint8_t *window, size_t len)
{
	if (v == ZTG_SIG_VALIDATOR_NONE)
		return true;
	if (window == NULL)
		return false;
	if (len > ZTG_VALIDATOR_WINDOW) {
		window += len - ZTG_VALIDATOR_WINDOW;
		len = ZTG_VALIDATOR_WINDOW;
	}
	switch (v) {
	case ZTG_SIG_VALIDATOR_LUHN:
		return luhn_accept(window, len);
	case ZTG_SIG_VALIDATOR_IBAN:
		return iban_accept(window, len);
	default:
		return false;
	}
}
