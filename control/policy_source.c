#include "policy_source.h"

#include "atomic_file.h"
#include "policy_compile.h"
#include "sig_compile.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		int e = errno;

		snprintf(err, err_len, "%s: %s", path, strerror(e));
		if (f != NULL)
			fclose(f);
		return -e;
	}
	if ((unsigned long)size > ZTG_BUNDLE_MAX_BYTES) {
		snprintf(err, err_len, "%s: larger than a bundle may be (%u bytes)", path, ZTG_BUNDLE_MAX_BYTES);
		fclose(f);
		return -EINVAL;
	}
	*data = malloc((size_t)size + 1);
	if (*data == NULL || fread(*data, 1, (size_t)size, f) != (size_t)size) {
		snprintf(err, err_len, "%s: cannot read it", path);
		free(*data);
		*data = NULL;
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = (size_t)size;
	return 0;
}

/* Diagnostics of an extracted bundle name the bundle and the file in it, not the temporary directory. */
static void rename_diagnostics(struct ztg_policy_diag *diag, const char *dir, const char *bundle)
{
	size_t dir_len = strlen(dir);

	for (uint32_t i = 0; diag != NULL && i < diag->count; i++) {
		char *file = diag->entries[i].file, *renamed;

		if (file == NULL || strncmp(file, dir, dir_len) != 0 || file[dir_len] != '/')
			continue;
		if (asprintf(&renamed, "%s[%s]", bundle, file + dir_len + 1) < 0)
			continue;
		free(file);
		diag->entries[i].file = renamed;
	}
}

/* Move the runtime forms a bundle carries, every record under "compiled/" (routes, signatures), into compiled. */
static int keep_compiled(struct ztg_bundle_files *files, struct ztg_bundle_files *compiled)
{
	static const char prefix_text[] = "compiled/";
	size_t prefix = strlen(prefix_text);

	compiled->files = calloc(files->count + 1, sizeof(*compiled->files));
	if (compiled->files == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < files->count; i++) {
		if (strncmp(files->files[i].name, prefix_text, prefix) != 0)
			continue;
		compiled->files[compiled->count++] = files->files[i];
		files->files[i].name = NULL;
		files->files[i].data = NULL;
	}
	return 0;
}

static int load_bundle(const char *path, struct ztg_policy_source *out, struct ztg_policy_diag *diag, char *err,
		       size_t err_len)
{
	struct ztg_bundle_files files = {0};
	char dir[] = "/tmp/ztg-bundle-XXXXXX", main_path[4096];
	int rc;

	rc = read_file(path, &out->bundle, &out->bundle_len, err, err_len);
	if (rc != 0)
		return rc;
	if (mkdtemp(dir) == NULL) {
		snprintf(err, err_len, "cannot make a directory to extract %s: %s", path, strerror(errno));
		return -errno;
	}
	/* From the bytes kept, not the file again: what is persisted is exactly what was loaded. */
	rc = ztg_bundle_extract_data(out->bundle, out->bundle_len, path, dir, main_path, sizeof(main_path), out->hash,
				     err, err_len);
	if (rc == 0) {
		uint32_t before = diag ? diag->count : 0;

		rc = ztg_policy_load(main_path, &out->policy, diag);
		if (diag != NULL && diag->count > before)
			rename_diagnostics(diag, dir, path);
		if (rc != 0)
			snprintf(err, err_len, "%s: the policy in the bundle has errors", path);
	}
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc == 0) {
		rc = ztg_bundle_parse(out->bundle, out->bundle_len, path, &files, NULL, NULL, 0, err, err_len);
		if (rc == 0)
			rc = keep_compiled(&files, &out->compiled);
		ztg_bundle_files_free(&files);
	}
	return rc;
}

/* One file the policy read (a key set, a CA), as a bundle record; a name already there is the same file. */
static int add_policy_file(struct ztg_bundle_files *files, const struct ztg_policy_file *f, char *err,
			   size_t err_len)
{
	struct ztg_bundle_file *grown, *rec;

	for (uint32_t i = 0; i < files->count; i++) {
		if (strcmp(files->files[i].name, f->name) == 0)
			return 0;
	}
	grown = realloc(files->files, (files->count + 1) * sizeof(*grown));
	if (grown == NULL)
		goto nomem;
	files->files = grown;
	rec = &grown[files->count];
	rec->name = strdup(f->name);
	rec->data = malloc(f->len + 1);
	rec->len = f->len;
	if (rec->name == NULL || rec->data == NULL) {
		free(rec->name);
		free(rec->data);
		goto nomem;
	}
	memcpy(rec->data, f->data, f->len);
	files->count++;
	return 0;
nomem:
	snprintf(err, err_len, "out of memory for the policy's key files");
	return -ENOMEM;
}

/* The files the policy names besides its includes, so the bundle carries its keys and rule sets. */
static int add_policy_files(const struct ztg_policy *p, struct ztg_bundle_files *files, char *err, size_t err_len)
{
	int rc = 0;

	for (uint32_t i = 0; i < p->issuer_count && rc == 0; i++) {
		const struct ztg_policy_issuer *is = &p->issuers[i];

		if (is->has_jwks_file)
			rc = add_policy_file(files, &is->jwks_file, err, err_len);
		if (rc == 0 && is->has_jwks_ca)
			rc = add_policy_file(files, &is->jwks_ca, err, err_len);
		for (uint32_t k = 0; k < is->pem_key_count && rc == 0; k++)
			rc = add_policy_file(files, &is->pem_keys[k].file, err, err_len);
	}
	for (uint32_t i = 0; i < p->signature_set_count && rc == 0; i++)
		rc = add_policy_file(files, &p->signature_files[i], err, err_len);
	return rc;
}

/*
 * The policy's signatures compiled with Hyperscan, as bundle records: a
 * pattern Hyperscan refuses fails the load here, with its file:line.
 */
static int add_signature_records(const struct ztg_policy *p, struct ztg_bundle_files *files,
				 struct ztg_policy_diag *diag, char *err, size_t err_len)
{
	struct ztg_sig_compiled *compiled;
	int rc;

	if (p->signature_set_count == 0)
		return 0;
	rc = ztg_sig_compile((const struct ztg_sig_set *const *)p->signature_sets, p->signature_set_count, &compiled,
			     diag);
	if (rc != 0) {
		snprintf(err, err_len, "%s: the signatures do not compile", p->path);
		return rc;
	}
	rc = ztg_sig_compiled_records(compiled, files, err, err_len);
	ztg_sig_compiled_free(compiled);
	return rc;
}

int ztg_policy_source_load(const char *path, struct ztg_policy_source *out, struct ztg_policy_diag *diag,
			   char *err, size_t err_len)
{
	struct ztg_bundle_files files = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	switch (ztg_bundle_is_bundle(path)) {
	case 1:
		return load_bundle(path, out, diag, err, err_len);
	case 0:
		break;
	default:
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -ENOENT;
	}
	rc = ztg_policy_load(path, &out->policy, diag);
	if (rc != 0) {
		snprintf(err, err_len, "%s: the policy has errors", path);
		return rc;
	}
	/* The bytes that reproduce what was just loaded: its identity, and what a restart comes back to. */
	rc = ztg_bundle_collect(path, &files, err, err_len);
	if (rc == 0)
		rc = add_policy_files(out->policy, &files, err, err_len);
	if (rc == 0)
		rc = ztg_policy_compile_records(out->policy, &files, err, err_len);
	if (rc == 0)
		rc = add_signature_records(out->policy, &files, diag, err, err_len);
	if (rc == 0)
		rc = ztg_bundle_encode(&files, out->policy->name, &out->bundle, &out->bundle_len, out->hash, err,
				       err_len);
	if (rc == 0)
		rc = keep_compiled(&files, &out->compiled);
	ztg_bundle_files_free(&files);
	return rc;
}

void ztg_policy_source_release(struct ztg_policy_source *source)
{
	ztg_policy_free(source->policy);
	free(source->bundle);
	ztg_bundle_files_free(&source->compiled);
	memset(source, 0, sizeof(*source));
}

int ztg_policy_source_save(const struct ztg_policy_source *source, const char *path, char *err, size_t err_len)
{
	return ztg_atomic_file_write(path, source->bundle, source->bundle_len, err, err_len);
}
