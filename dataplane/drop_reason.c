#include "drop_reason.h"

static const char *const drop_reason_names[ZTG_DROP_REASON_COUNT] = {
#define ZTG_DROP_NAME(sym, name) [ZTG_DROP_##sym] = name,
	ZTG_DROP_REASONS(ZTG_DROP_NAME)
#undef ZTG_DROP_NAME
};

const char *ztg_drop_reason_name(enum ztg_drop_reason reason)
{
	if ((unsigned int)reason >= ZTG_DROP_REASON_COUNT)
		return "unknown";
	return drop_reason_names[reason];
}
