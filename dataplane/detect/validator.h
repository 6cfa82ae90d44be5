/*
 * Validators: the checks a signature's match must pass before it counts
 * (the rule key validator, control/signatures.h). A pattern finds candidates
 * (13-19 digit runs, IBAN-shaped words); the check digits decide. Hyperscan
 * reports end offsets only, so a validator is given the bytes that end
 * where the match ends and walks back from there: over the boundary the
 * pattern consumed after the candidate, then over the candidate itself.
 *
 * What is accepted, with the boundaries the shipped patterns use
 * (rules/signatures/leaks-cards.rules, leaks-iban.rules), so a candidate is
 * always a whole run and never a piece of a longer number or word:
 *
 * luhn  After the candidate's last digit, the window ends with nothing, one
 *       byte that cannot belong to a number (not a letter, digit, space or
 *       one of . + / _ -), one of space . - (the value's end may follow),
 *       or one of space . - and then a byte that is not a digit. The
 *       candidate: digits with single spaces or dashes between them, 13 to
 *       19 digits, passing the Luhn check. Before it: the window's start, a
 *       space or dash, or a byte that cannot belong to a number. So a
 *       letter, or one of + / _, touching the run refuses it, and so does a
 *       "." before it or between it and a digit (a decimal, a version).
 *
 * iban  After the candidate's last character, the window ends with nothing
 *       or one byte that is not an ASCII letter or digit. The candidate:
 *       capitals and digits with single spaces between them, starting at the
 *       window's start or after a byte that is not a letter or digit: two
 *       capitals, two digits, then 11 to 30 more capitals or digits (15 to
 *       34 characters, spaces not counted), whose ISO 13616 remainder (the
 *       first four characters moved to the end, A..Z read as 10..35, the
 *       number mod 97) is 1. Every such start in the run is tried: the words
 *       before an IBAN may be capitals too ("IBAN DE89 ..."). Lowercase is
 *       refused: IBANs are printed in capitals.
 *
 * Both candidates fit in ZTG_VALIDATOR_WINDOW with room for the bytes around
 * them (a card at most 37 bytes, an IBAN at most 67), so a window cut by
 * the start of the value is the only cut a candidate meets.
 *
 * Total over any bytes: no allocation, nothing read outside the window, and
 * bounded work (a card is one pass over at most 41 bytes; an IBAN at most
 * 34 starts, each checked over at most 67 bytes). Plain C, no Hyperscan,
 * no DPDK.
 */
#ifndef ZTG_VALIDATOR_H
#define ZTG_VALIDATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../control/signatures.h"

#define ZTG_VALIDATOR_WINDOW 128  /* bytes ending at a match's end a validator may look at */

/*
 * window: the (up to) ZTG_VALIDATOR_WINDOW bytes of the scanned value that
 * end at Hyperscan's match end offset (fewer at the start of the value);
 * more are allowed, only the last ZTG_VALIDATOR_WINDOW are looked at. NULL
 * only with len 0. true when the candidate that ends there passes v's check;
 * always true for ZTG_SIG_VALIDATOR_NONE, false for a value not in the enum.
 */
bool ztg_validator_accept(enum ztg_sig_validator v, const uint8_t *window, size_t len);

#endif
