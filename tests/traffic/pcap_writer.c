/* SPDX-License-Identifier: BSD-3-Clause */
#include "pcap_writer.h"

#include <errno.h>
#include <stdlib.h>

#define TG_PCAP_IOBUF (1u << 20)

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int write_all(FILE *fp, const void *p, size_t n)
{
	errno = 0;
	if (n != 0 && fwrite(p, 1, n, fp) != n)
		return errno ? errno : EIO;
	return 0;
}

int tg_pcap_open(struct tg_pcap *w, const char *path)
{
	uint8_t hdr[24];

	w->fp = fopen(path, "wb");
	if (w->fp == NULL)
		return errno ? errno : EIO;
	w->iobuf = malloc(TG_PCAP_IOBUF);
	if (w->iobuf != NULL)
		setvbuf(w->fp, w->iobuf, _IOFBF, TG_PCAP_IOBUF);

	le32(hdr + 0, 0xa1b2c3d4u);	/* microsecond resolution */
	le16(hdr + 4, 2);		/* version 2.4 */
	le16(hdr + 6, 4);
	le32(hdr + 8, 0);		/* thiszone */
	le32(hdr + 12, 0);		/* sigfigs */
	le32(hdr + 16, TG_PCAP_SNAPLEN);
	le32(hdr + 20, TG_PCAP_LINKTYPE_ETHERNET);
	int rc = write_all(w->fp, hdr, sizeof(hdr));
	if (rc != 0) {
		tg_pcap_close(w);
		return rc;
	}
	return 0;
}

int tg_pcap_write(struct tg_pcap *w, uint64_t ts_us, const uint8_t *frame, size_t len)
{
	uint8_t rec[16];

	if (len > TG_PCAP_SNAPLEN)
		return EINVAL;
	le32(rec + 0, (uint32_t)(ts_us / 1000000u));
	le32(rec + 4, (uint32_t)(ts_us % 1000000u));
	le32(rec + 8, (uint32_t)len);
	le32(rec + 12, (uint32_t)len);
	int rc = write_all(w->fp, rec, sizeof(rec));
	return rc ? rc : write_all(w->fp, frame, len);
}

int tg_pcap_close(struct tg_pcap *w)
{
	int rc = 0;

	if (w->fp != NULL) {
		errno = 0;
		if (fflush(w->fp) != 0 || ferror(w->fp))
			rc = errno ? errno : EIO;
		if (fclose(w->fp) != 0 && rc == 0)
			rc = errno ? errno : EIO;
		w->fp = NULL;
	}
	free(w->iobuf);
	w->iobuf = NULL;
	return rc;
}
