/* Logical types: names, storage classes and Arrow formats (see zetl/types.h). */
#include <string.h>

#include "zetl/err.h"
#include "zetl/types.h"

struct type_info {
        const char *name;
        enum zetl_storage storage;
        size_t width;
        const char *arrow;
};

static const struct type_info types[ZETL_T__COUNT] = {
        [ZETL_T_BOOL] = { "boolean", ZETL_ST_BIT, 0, "b" },
        [ZETL_T_INT16] = { "int16", ZETL_ST_FIXED, 2, "s" },
        [ZETL_T_INT32] = { "int32", ZETL_ST_FIXED, 4, "i" },
        [ZETL_T_INT64] = { "int64", ZETL_ST_FIXED, 8, "l" },
        [ZETL_T_FLOAT32] = { "float32", ZETL_ST_FIXED, 4, "f" },
        [ZETL_T_FLOAT64] = { "float64", ZETL_ST_FIXED, 8, "g" },
        [ZETL_T_DECIMAL] = { "decimal", ZETL_ST_VAR, 0, "u" },
        [ZETL_T_STRING] = { "string", ZETL_ST_VAR, 0, "u" },
        [ZETL_T_BYTES] = { "bytes", ZETL_ST_VAR, 0, "z" },
        [ZETL_T_DATE] = { "date", ZETL_ST_FIXED, 4, "tdD" },
        [ZETL_T_TIME] = { "time", ZETL_ST_FIXED, 8, "ttu" },
        [ZETL_T_TIMESTAMP] = { "timestamp", ZETL_ST_FIXED, 8, "tsu:" },
        [ZETL_T_TIMESTAMPTZ] = { "timestamptz", ZETL_ST_FIXED, 8, "tsu:UTC" },
        [ZETL_T_UUID] = { "uuid", ZETL_ST_FIXED, 16, "w:16" },
        [ZETL_T_JSON] = { "json", ZETL_ST_VAR, 0, "u" },
};

const char *zetl_type_name(enum zetl_type t)
{
        return (unsigned)t < ZETL_T__COUNT ? types[t].name : "unknown";
}

int zetl_type_parse(const char *name, enum zetl_type *out)
{
        for (int i = 0; i < ZETL_T__COUNT; i++) {
                if (strcmp(types[i].name, name) == 0) {
                        *out = (enum zetl_type)i;
                        return 0;
                }
        }
        return ZETL_EINVAL;
}

enum zetl_storage zetl_type_storage(enum zetl_type t)
{
        return types[t].storage;
}

size_t zetl_type_width(enum zetl_type t)
{
        return types[t].width;
}

const char *zetl_type_arrow_format(enum zetl_type t)
{
        return types[t].arrow;
}
