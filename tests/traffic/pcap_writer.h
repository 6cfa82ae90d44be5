/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Minimal classic-pcap writer: LINKTYPE_ETHERNET, microsecond timestamps,
 * little-endian file format whatever the host (the output of a given seed is
 * the same bytes everywhere).
 */
#ifndef ZTG_TRAFFIC_PCAP_WRITER_H
#define ZTG_TRAFFIC_PCAP_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TG_PCAP_SNAPLEN 262144u
#define TG_PCAP_LINKTYPE_ETHERNET 1u

struct tg_pcap {
	FILE *fp;
	char *iobuf;
};

/* Create (truncate) `path` and write the file header.
 * Returns 0, or an errno value (the file is not left open on failure). */
int tg_pcap_open(struct tg_pcap *w, const char *path);

/* Append one record; `len` must not exceed TG_PCAP_SNAPLEN.
 * Returns 0 or an errno value. */
int tg_pcap_write(struct tg_pcap *w, uint64_t ts_us, const uint8_t *frame, size_t len);

/* Flush and close; returns 0 or the first errno value seen (a full disk
 * shows up here at the latest).  Safe on a writer that failed to open. */
int tg_pcap_close(struct tg_pcap *w);

#endif
