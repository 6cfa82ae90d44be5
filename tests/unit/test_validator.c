/*
 * Unit tests for the match validators (dataplane/detect/validator.h).
 *
 * Every card number and IBAN here was made for this file: digits chosen at
 * random, then the check digits computed (Luhn's last digit; the IBAN's two
 * after the country code). None is a published example.
 *
 * Every window goes through run(): copied to the end of an exact-size
 * allocation behind 64 guard bytes, once per guard (digits, spaces,
 * capitals, letters). A read past the end trips valgrind or ASan; a read
 * before the window changes the answer with the guard, which run() refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/validator.h"

#define LUHN ZTG_SIG_VALIDATOR_LUHN
#define IBAN ZTG_SIG_VALIDATOR_IBAN
#define GUARD 64

/* ---------------------------------------------------------------- harness */

static bool run(enum ztg_sig_validator v, const void *bytes, size_t len)
{
	static const uint8_t guards[] = { '7', ' ', 'A', 'x' };
	bool first = false;

	for (size_t g = 0; g < sizeof(guards); g++) {
		uint8_t *buf = malloc(GUARD + len);
		bool r;

		assert_non_null(buf);
		memset(buf, guards[g], GUARD);
		memcpy(buf + GUARD, bytes, len);
		r = ztg_validator_accept(v, buf + GUARD, len);
		free(buf);
		if (g == 0)
			first = r;
		else if (r != first)
			fail_msg("the answer for \"%.*s\" depends on the bytes before the window", (int)len,
				 (const char *)bytes);
	}
	return first;
}

static bool ok(enum ztg_sig_validator v, const char *text)
{
	return run(v, text, strlen(text));
}

static void expect(enum ztg_sig_validator v, const char *text, bool want)
{
	if (ok(v, text) != want)
		fail_msg("%s \"%s\": expected %s", ztg_sig_validator_name(v), text, want ? "accepted" : "refused");
}

/* prefix + body + suffix into out (cap bytes). */
static const char *join(char *out, size_t cap, const char *prefix, const char *body, const char *suffix)
{
	int n = snprintf(out, cap, "%s%s%s", prefix, body, suffix);

	assert_true(n > 0 && (size_t)n < cap);
	return out;
}

/* digits grouped by sizes (0-terminated), sep between groups: "4927 3810 5642 1197". */
static const char *grouped(char *out, size_t cap, const char *digits, const unsigned *sizes, char sep)
{
	size_t o = 0, d = 0, len = strlen(digits);

	for (unsigned g = 0; sizes[g] != 0 && d < len; g++) {
		if (g > 0)
			out[o++] = sep;
		for (unsigned k = 0; k < sizes[g] && d < len; k++)
			out[o++] = digits[d++];
	}
	while (d < len)
		out[o++] = digits[d++];
	assert_true(o < cap);
	out[o] = '\0';
	return out;
}

/* ------------------------------------------------------------------ cards */

static const struct {
	const char *brand;
	const char *pan;
	unsigned groups[6];
} cards[] = {
	{ "Visa 16", "4927381056421197", { 4, 4, 4, 4, 0 } },
	{ "Visa 13", "4628109374516", { 4, 4, 5, 0 } },
	{ "Visa 19", "4170385529640173282", { 4, 4, 4, 4, 3, 0 } },
	{ "Mastercard 51", "5107492663180727", { 4, 4, 4, 4, 0 } },
	{ "Mastercard 2-series", "2720583019462738", { 4, 4, 4, 4, 0 } },
	{ "Amex 34", "349016725843011", { 4, 6, 5, 0 } },
	{ "Amex 37", "376205193481778", { 4, 6, 5, 0 } },
	{ "Diners 36", "36182940573615", { 4, 6, 4, 0 } },
	{ "Discover", "6011470825963142", { 4, 4, 4, 4, 0 } },
	{ "JCB", "3569382017465831", { 4, 4, 4, 4, 0 } },
	{ "UnionPay 19", "6228471095362718026", { 6, 13, 0 } },
};
#define CARD_COUNT (sizeof(cards) / sizeof(cards[0]))

/* What may stand before a candidate, and the trailing boundaries the card pattern consumes. */
static const char *const card_before[] = { "", " ", "-", "\"", ":", "=", ">", "(", "card: ", "x ", "\t", "\n" };
static const char *const card_after[] = { "", "\"", ",", ";", "<", "}", "\n", " ", ".", "-", " x", ". ", ".\n",
					  "-\"", " .", "\x80" };

static void test_luhn_brands(void **state)
{
	char spaced[64], dashed[64], text[128];

	(void)state;
	for (size_t c = 0; c < CARD_COUNT; c++) {
		const char *forms[3] = {
			cards[c].pan,
			grouped(spaced, sizeof(spaced), cards[c].pan, cards[c].groups, ' '),
			grouped(dashed, sizeof(dashed), cards[c].pan, cards[c].groups, '-'),
		};

		for (size_t f = 0; f < 3; f++) {
			for (size_t b = 0; b < sizeof(card_before) / sizeof(card_before[0]); b++) {
				for (size_t a = 0; a < sizeof(card_after) / sizeof(card_after[0]); a++) {
					join(text, sizeof(text), card_before[b], forms[f], card_after[a]);
					if (!ok(LUHN, text))
						fail_msg("%s: \"%s\" refused", cards[c].brand, text);
				}
			}
		}
	}
	/* Separators may differ from group to group, and groups need not be the brand's. */
	expect(LUHN, "4927-3810 5642-1197", true);
	expect(LUHN, "4 9 2 7 3 8 1 0 5 6 4 2 1 1 9 7", true);
	expect(LUHN, "{\"pan\":\"5107492663180727\"}", false);   /* the window must end at the match, not after */
	expect(LUHN, "{\"pan\":\"5107492663180727\"", true);
}

/* Luhn catches every change of one digit and every swap of two neighbours but 0 and 9. */
static void test_luhn_invalid(void **state)
{
	char pan[32];

	(void)state;
	for (size_t c = 0; c < CARD_COUNT; c++) {
		size_t len = strlen(cards[c].pan);

		for (size_t i = 0; i < len; i++) {
			for (char d = '0'; d <= '9'; d++) {
				if (d == cards[c].pan[i])
					continue;
				snprintf(pan, sizeof(pan), "%s", cards[c].pan);
				pan[i] = d;
				if (ok(LUHN, pan))
					fail_msg("%s with digit %zu changed to %c: \"%s\" accepted", cards[c].brand, i, d,
						 pan);
			}
			if (i + 1 < len && cards[c].pan[i] != cards[c].pan[i + 1] &&
			    (cards[c].pan[i] - '0') + (cards[c].pan[i + 1] - '0') != 9) {
				snprintf(pan, sizeof(pan), "%s", cards[c].pan);
				pan[i] = cards[c].pan[i + 1];
				pan[i + 1] = cards[c].pan[i];
				if (ok(LUHN, pan))
					fail_msg("%s with digits %zu and %zu swapped: \"%s\" accepted", cards[c].brand, i,
						 i + 1, pan);
			}
		}
	}
}

static void test_luhn_length(void **state)
{
	(void)state;
	/* Luhn-valid at every length: only 13..19 digits are card numbers. */
	expect(LUHN, "314159265359", false);
	expect(LUHN, "3141592653587", true);
	expect(LUHN, "3141 5926 5358 7", true);
	expect(LUHN, "3141592653589793230", true);
	expect(LUHN, "3141-5926-5358-9793-230", true);
	expect(LUHN, "31415926535897932389", false);
	expect(LUHN, "3141 5926 5358 9793 2389", false);
	/* A run of 20 or more is a piece of something longer, whatever its last 19 say. */
	expect(LUHN, "1 4170385529640173282", false);
	expect(LUHN, "91234567894170385529640173282", false);
	/* A double separator ends the run: what is left is too short. */
	expect(LUHN, "4927  3810 5642 1197", false);
	expect(LUHN, "4927 3810 5642--1197", false);
	expect(LUHN, "", false);
	expect(LUHN, "4", false);
	expect(LUHN, " ", false);
}

static void test_luhn_glued(void **state)
{
	static const char *const before[] = { "x", "A", "z", "_", "/", "+", ".", "v1.", "0x", "#A" };
	static const char *const after[] = { "x", "A", "_", "/", "+", ".5", "-5x", "x.", "e9", " ab" };
	char text[96];

	(void)state;
	for (size_t c = 0; c < CARD_COUNT; c++) {
		for (size_t b = 0; b < sizeof(before) / sizeof(before[0]); b++)
			expect(LUHN, join(text, sizeof(text), before[b], cards[c].pan, ""), false);
		for (size_t a = 0; a < sizeof(after) / sizeof(after[0]); a++)
			expect(LUHN, join(text, sizeof(text), "", cards[c].pan, after[a]), false);
	}
	/* Glued at the end but the window ends later: the trailing boundary is at most two bytes. */
	expect(LUHN, "4927381056421197   ", false);
	expect(LUHN, "4927381056421197 ;", true);
}

/* ------------------------------------------------------------------ IBANs */

static const struct {
	const char *compact;
	const char *printed;
} ibans[] = {
	{ "DE89954255503491065491", "DE89 9542 5550 3491 0654 91" },
	{ "GB47FDAG50344663795630", "GB47 FDAG 5034 4663 7956 30" },
	{ "FR689454633826DYBV7ZXG02V01", "FR68 9454 6338 26DY BV7Z XG02 V01" },
	{ "NL41STFV0453805803", "NL41 STFV 0453 8058 03" },
	{ "ES4335586082144097499213", "ES43 3558 6082 1440 9749 9213" },
	{ "IT91K57760143270LLSD9D2VEYX", "IT91 K577 6014 3270 LLSD 9D2V EYX" },
	{ "BE14614053235269", "BE14 6140 5323 5269" },
	{ "NO3115956419069", "NO31 1595 6419 069" },
	{ "MT51PRUX44368KFTT6OL1YXM13BPAGX", "MT51 PRUX 4436 8KFT T6OL 1YXM 13BP AGX" },
	{ "PL72925953876809098172900840", "PL72 9259 5387 6809 0981 7290 0840" },
	{ "SA3564MA2SLLQYCKGAVJSG9U", "SA35 64MA 2SLL QYCK GAVJ SG9U" },
};
#define IBAN_COUNT (sizeof(ibans) / sizeof(ibans[0]))

static const char *const iban_before[] = { "", " ", "IBAN ", "IBAN: ", "\"", "(", "IBAN DE ", "ACCOUNT NO ", "-",
					   "\n", "AB12 " };
static const char *const iban_after[] = { "", " ", "\"", ".", ",", ")", "\n", "-", "\xc3" };

static void test_iban_valid(void **state)
{
	char text[128];

	(void)state;
	for (size_t i = 0; i < IBAN_COUNT; i++) {
		for (size_t b = 0; b < sizeof(iban_before) / sizeof(iban_before[0]); b++) {
			for (size_t a = 0; a < sizeof(iban_after) / sizeof(iban_after[0]); a++) {
				expect(IBAN, join(text, sizeof(text), iban_before[b], ibans[i].compact, iban_after[a]),
				       true);
				expect(IBAN, join(text, sizeof(text), iban_before[b], ibans[i].printed, iban_after[a]),
				       true);
			}
		}
	}
	/* Groups of any size, as long as the spaces are single. */
	expect(IBAN, "DE89 95425550 3491065491", true);
	expect(IBAN, "D E 8 9 9 5 4 2 5 5 5 0 3 4 9 1 0 6 5 4 9 1", false);   /* the first four are one word */
	expect(IBAN, "DE89 9 5 4 2 5 5 5 0 3 4 9 1 0 6 5 4 9 1", true);
}

static void test_iban_invalid(void **state)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char text[64];

	(void)state;
	for (size_t i = 0; i < IBAN_COUNT; i++) {
		size_t len = strlen(ibans[i].compact);

		/* mod 97 catches every change of one character (a digit for a digit, a letter for a letter). */
		for (size_t k = 0; k < len; k++) {
			for (const char *c = alnum; *c != '\0'; c++) {
				bool digit = *c <= '9', was_digit = ibans[i].compact[k] <= '9';

				if (*c == ibans[i].compact[k] || digit != was_digit)
					continue;
				snprintf(text, sizeof(text), "%s", ibans[i].compact);
				text[k] = *c;
				if (ok(IBAN, text))
					fail_msg("\"%s\" (character %zu changed) accepted", text, k);
			}
		}
		/* Lowercase, whole or in part, is no IBAN. */
		for (size_t k = 0; k < len; k++)
			text[k] = (char)(ibans[i].compact[k] >= 'A' && ibans[i].compact[k] <= 'Z' ?
					 ibans[i].compact[k] + 32 : ibans[i].compact[k]);
		text[len] = '\0';
		expect(IBAN, text, false);
		snprintf(text, sizeof(text), "%s", ibans[i].compact);
		text[0] = (char)(text[0] + 32);
		expect(IBAN, text, false);
		/* Glued to a word or a number on either side. */
		expect(IBAN, join(text, sizeof(text), "x", ibans[i].compact, ""), false);
		expect(IBAN, join(text, sizeof(text), "", ibans[i].compact, "x"), false);
		expect(IBAN, join(text, sizeof(text), "", ibans[i].compact, "  "), false);
	}
	/* Shape: two capitals, two digits. */
	expect(IBAN, "D189954255503491065491", false);
	expect(IBAN, "DEX9954255503491065491", false);
	expect(IBAN, "DE 89 954255503491065491", false);
	expect(IBAN, "DE89  9542 5550 3491 0654 91", false);   /* a double space ends the run */
	expect(IBAN, "DE89-9542-5550-3491-0654-91", false);
	expect(IBAN, "", false);
	expect(IBAN, "DE89", false);
}

static void test_iban_length(void **state)
{
	(void)state;
	/* Each passes mod 97; only 15..34 characters are IBANs. */
	expect(IBAN, "XK61ABCD012345", false);
	expect(IBAN, "XK63ABCD0123456", true);
	expect(IBAN, "XK07ABCD01234567890123456789012345", true);
	expect(IBAN, "XK07 ABCD 0123 4567 8901 2345 6789 0123 45", true);
	expect(IBAN, "XK08ABCD012345678901234567890123456", false);
	expect(IBAN, "IBAN XK63ABCD0123456", true);
}

/* ------------------------------------------------------------ the window */

/*
 * A window cut by the start of the value: what is left is taken as it
 * stands, with the window's start as its boundary. Every cut of these values
 * is tried, and the cuts that keep the candidate whole are accepted.
 */
static void test_window_cut(void **state)
{
	static const struct {
		enum ztg_sig_validator v;
		const char *value;
		size_t keep;      /* cuts of at most this many bytes keep the candidate whole */
	} cases[] = {
		{ LUHN, "paid with 4927 3810 5642 1197.", 10 },
		{ LUHN, "5107492663180727 ", 0 },
		{ IBAN, "to IBAN GB47 FDAG 5034 4663 7956 30;", 8 },
		{ IBAN, "NL41STFV0453805803", 0 },
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t len = strlen(cases[c].value);

		for (size_t cut = 0; cut <= len; cut++) {
			bool r = run(cases[c].v, cases[c].value + cut, len - cut);

			if (cut <= cases[c].keep && !r)
				fail_msg("\"%s\" cut by %zu: refused", cases[c].value, cut);
		}
	}
	/* Cut inside a run: the digits shown are the candidate (run() shows nothing before them is read). */
	assert_false(run(LUHN, "9993141592653587", 16));
	assert_true(run(LUHN, "9993141592653587" + 3, 13));
	/* Cut so 12 digits are left: too short, whatever they were part of. */
	assert_false(run(LUHN, "4927381056421197" + 4, 12));
	/* An IBAN that lost its country code is no IBAN. */
	assert_false(run(IBAN, "DE89954255503491065491" + 1, 21));
	assert_false(run(IBAN, "DE89954255503491065491" + 2, 20));
}

/* The value before the match, longer than the window: same answers as with the window alone. */
static bool run_after(enum ztg_sig_validator v, char fill, const char *tail)
{
	char text[ZTG_VALIDATOR_WINDOW * 3];
	size_t tl = strlen(tail);

	assert_true(tl < sizeof(text));
	memset(text, fill, sizeof(text) - tl);
	memcpy(text + sizeof(text) - tl, tail, tl);
	return run(v, text, sizeof(text));
}

static void test_window_longer(void **state)
{
	(void)state;
	assert_true(run_after(LUHN, 'x', " 4927381056421197"));
	/* A separator after a digit joins the run: far too long now. */
	assert_false(run_after(LUHN, '1', " 4927381056421197"));
	assert_true(run_after(IBAN, '.', " NL41 STFV 0453 8058 03"));
	/* Capitals before: the run is cut at 34 characters, and the IBAN still starts after its space. */
	assert_true(run_after(IBAN, 'A', " NL41 STFV 0453 8058 03"));
	assert_false(run_after(IBAN, 'A', "NL41 STFV 0453 8058 03"));
}

/* ------------------------------------------------------------ any bytes */

static bool in(const char *set, int c)
{
	return c != 0 && strchr(set, c) != NULL;
}

static void test_every_byte(void **state)
{
	static const char *const pan = "4927381056421197", *const iban = "NO3115956419069";
	const char *glue = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.+/_";
	uint8_t text[64];
	size_t pl = strlen(pan), il = strlen(iban);

	(void)state;
	for (int b = 0; b < 256; b++) {
		uint8_t byte = (uint8_t)b;
		bool digit = b >= '0' && b <= '9';
		bool alnum = digit || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');

		/* One byte is no candidate; NONE takes anything. */
		assert_false(run(LUHN, &byte, 1));
		assert_false(run(IBAN, &byte, 1));
		assert_true(ztg_validator_accept(ZTG_SIG_VALIDATOR_NONE, &byte, 1));

		/* A card, then the byte. */
		memcpy(text, pan, pl);
		text[pl] = byte;
		if (!digit && run(LUHN, text, pl + 1) != (!in(glue, b) || b == '.'))
			fail_msg("card then byte 0x%02x: wrong answer", b);
		/* The byte, then a card. */
		text[0] = byte;
		memcpy(text + 1, pan, pl);
		if (!digit && run(LUHN, text, pl + 1) != !in(glue, b))
			fail_msg("byte 0x%02x then a card: wrong answer", b);
		/* The byte between two groups: only a space or dash joins them. */
		memcpy(text, pan, 8);
		text[8] = byte;
		memcpy(text + 9, pan + 8, pl - 8);
		if (!digit && run(LUHN, text, pl + 1) != (b == ' ' || b == '-'))
			fail_msg("card with byte 0x%02x in it: wrong answer", b);

		/* An IBAN, then the byte; the byte, then an IBAN. */
		memcpy(text, iban, il);
		text[il] = byte;
		if (!alnum && !run(IBAN, text, il + 1))
			fail_msg("IBAN then byte 0x%02x: refused", b);
		if (b >= 'a' && b <= 'z' && run(IBAN, text, il + 1))
			fail_msg("IBAN then byte 0x%02x: accepted", b);
		text[0] = byte;
		memcpy(text + 1, iban, il);
		if (!alnum != run(IBAN, text, il + 1))
			fail_msg("byte 0x%02x then an IBAN: wrong answer", b);
	}
}

/*
 * Windows of random bytes drawn mostly from what candidates are made of:
 * every one gets an answer that does not depend on the bytes before it
 * (run()), with nothing read past its end.
 */
static void test_random_windows(void **state)
{
	static const char alphabet[] = "0123456789 -.ABDEGKLNRXZaz_/+\"\n\xff";
	uint32_t seed = 2463534242u;
	uint8_t text[ZTG_VALIDATOR_WINDOW + 8];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		len = seed % sizeof(text);
		for (size_t i = 0; i < len; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			text[i] = (uint8_t)alphabet[seed % (sizeof(alphabet) - 1)];
		}
		(void)run(LUHN, text, len);
		(void)run(IBAN, text, len);
	}
}

static void test_none_and_unknown(void **state)
{
	(void)state;
	assert_true(ztg_validator_accept(ZTG_SIG_VALIDATOR_NONE, NULL, 0));
	assert_true(ztg_validator_accept(ZTG_SIG_VALIDATOR_NONE, (const uint8_t *)"x", 1));
	assert_false(ztg_validator_accept(LUHN, NULL, 0));
	assert_false(ztg_validator_accept(IBAN, NULL, 0));
	assert_false(ztg_validator_accept(ZTG_SIG_VALIDATOR_COUNT, (const uint8_t *)"4927381056421197", 16));
	assert_false(ztg_validator_accept((enum ztg_sig_validator)-1, (const uint8_t *)"4927381056421197", 16));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luhn_brands),
		cmocka_unit_test(test_luhn_invalid),
		cmocka_unit_test(test_luhn_length),
		cmocka_unit_test(test_luhn_glued),
		cmocka_unit_test(test_iban_valid),
		cmocka_unit_test(test_iban_invalid),
		cmocka_unit_test(test_iban_length),
		cmocka_unit_test(test_window_cut),
		cmocka_unit_test(test_window_longer),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_random_windows),
		cmocka_unit_test(test_none_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
