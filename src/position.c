/* Positions and PostgreSQL LSN text (see zetl/position.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "zetl/err.h"
#include "zetl/position.h"

void zetl_pos_set(struct zetl_position *p, uint64_t order, const char *token)
{
        p->order = order;
        snprintf(p->token, sizeof(p->token), "%s", token ? token : "");
}

static int hex_part(const char **s, uint32_t *out)
{
        uint64_t v = 0;
        int n = 0;

        for (; n < 9; n++) {
                char c = (*s)[n];
                int d;
                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        break;
                v = v * 16 + (uint64_t)d;
        }
        if (n == 0 || n > 8)
                return ZETL_EINVAL;
        *s += n;
        *out = (uint32_t)v;
        return 0;
}

int zetl_lsn_parse(const char *s, uint64_t *out)
{
        uint32_t hi, lo;

        if (hex_part(&s, &hi) || *s++ != '/' || hex_part(&s, &lo) || *s != '\0')
                return ZETL_EINVAL;
        *out = (uint64_t)hi << 32 | lo;
        return 0;
}

void zetl_lsn_format(uint64_t lsn, char *buf, size_t len)
{
        snprintf(buf, len, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}
