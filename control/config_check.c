#include "config_check.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error_text.h"

void ztg_config_check_keys(const config_setting_t *group, const char *where, const struct ztg_config_key *keys,
			   size_t key_count, const config_setting_t **found, ztg_config_error_fn error, void *ctx)
{
	const char *sep = *where ? ": " : "";
	char allowed[256], msg[1024];
	size_t o = 0;

	for (size_t k = 0; found != NULL && k < key_count; k++)
		found[k] = NULL;
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		bool known = false;
		struct ztg_quoted sn;

		for (size_t k = 0; k < key_count && !known; k++) {
			if (strcmp(name, keys[k].name) == 0) {
				if (found != NULL)
					found[k] = m;
				known = true;
			}
		}
		if (known)
			continue;
		/* Composed only when a key is unknown: a large rule set checks hundreds of thousands of groups. */
		if (o == 0) {
			for (size_t k = 0; k < key_count && o < sizeof(allowed); k++)
				o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s", k ? ", " : "",
						      keys[k].name);
		}
		snprintf(msg, sizeof(msg), "%s%sunknown key %s (allowed: %s)", where, sep, ztg_error_quote(&sn, name),
			 allowed);
		error(ctx, m, msg);
	}
	for (size_t k = 0; k < key_count; k++) {
		bool present = found != NULL ? found[k] != NULL : config_setting_get_member(group, keys[k].name) != NULL;

		if (keys[k].required && !present) {
			snprintf(msg, sizeof(msg), "%s%smissing required key \"%s\" (%s)", where, sep, keys[k].name,
				 keys[k].expect);
			error(ctx, group, msg);
		}
	}
}

const char *ztg_config_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating-point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	default:
		return "nothing";
	}
}

const char *ztg_config_key_path(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%s", where, *where ? "." : "", key);
	return buf;
}

const char *ztg_config_choice_list(char *buf, size_t len, const char *const *names, unsigned count,
				   uint32_t allowed)
{
	unsigned total = 0, seen = 0;
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < count; i++)
		total += (allowed >> i) & 1u;
	for (unsigned i = 0; i < count && o < len; i++) {
		if (!((allowed >> i) & 1u))
			continue;
		seen++;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", seen == 1 ? "" : seen == total ? " or " : ", ",
				      names[i]);
	}
	return buf;
}

const char *ztg_config_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}
