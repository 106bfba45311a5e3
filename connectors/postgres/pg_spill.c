/* Spill files of streamed transactions (see pg_spill.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "pg_spill.h"

#define MSG_MAX ((size_t)1 << 30)

struct spill_txn {
        uint32_t xid;
        FILE *f;
        uint64_t bytes;
        uint32_t *aborted; /* aborted subtransactions */
        int naborted, cap;
        struct spill_txn *next;
};

struct pg_spill {
        char dir[4096];
        struct spill_txn *txns;
        uint64_t bytes;
};

int pg_spill_open(const char *dir, struct pg_spill **out, struct zetl_err *err)
{
        struct pg_spill *sp = calloc(1, sizeof(*sp));
        int rc;

        if (!sp)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
        snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
        if ((rc = zetl_mkdir_p(dir, 0700, err))) {
                free(sp);
                return rc;
        }
        *out = sp;
        return 0;
}

static void txn_free(struct spill_txn *t)
{
        if (t->f)
                fclose(t->f);
        free(t->aborted);
        free(t);
}

void pg_spill_close(struct pg_spill *sp)
{
        if (!sp)
                return;
        for (struct spill_txn *t = sp->txns, *n; t; t = n) {
                n = t->next;
                txn_free(t);
        }
        free(sp);
}

static struct spill_txn *find(struct pg_spill *sp, uint32_t xid, struct spill_txn ***link)
{
        struct spill_txn **l = &sp->txns;

        for (; *l; l = &(*l)->next) {
                if ((*l)->xid == xid) {
                        if (link)
                                *link = l;
                        return *l;
                }
        }
        return NULL;
}

static void forget(struct pg_spill *sp, uint32_t xid)
{
        struct spill_txn **link, *t = find(sp, xid, &link);

        if (!t)
                return;
        *link = t->next;
        sp->bytes -= t->bytes;
        txn_free(t);
}

int pg_spill_append(struct pg_spill *sp, uint32_t xid, uint32_t subxid, uint64_t lsn,
                    const uint8_t *msg, size_t len, struct zetl_err *err)
{
        struct spill_txn *t = find(sp, xid, NULL);
        uint32_t hdr[4] = { subxid, (uint32_t)(lsn >> 32), (uint32_t)lsn, (uint32_t)len };

        if (!t) {
                char path[4200];
                int fd;
                if (!(t = calloc(1, sizeof(*t))))
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                snprintf(path, sizeof(path), "%s/xid-%u.XXXXXX", sp->dir, xid);
                fd = mkstemp(path);
                if (fd < 0 || !(t->f = fdopen(fd, "w+"))) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        free(t);
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT,
                                            "creating a spill file in %s: %s", sp->dir,
                                            strerror(e));
                }
                unlink(path); /* anonymous: gone with the process */
                t->xid = xid;
                t->next = sp->txns;
                sp->txns = t;
        }
        if (fwrite(hdr, sizeof(hdr), 1, t->f) != 1 || (len && fwrite(msg, len, 1, t->f) != 1))
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT,
                                    "writing a spill file in %s: %s", sp->dir, strerror(errno));
        t->bytes += sizeof(hdr) + len;
        sp->bytes += sizeof(hdr) + len;
        return 0;
}

int pg_spill_abort(struct pg_spill *sp, uint32_t xid, uint32_t subxid, struct zetl_err *err)
{
        struct spill_txn *t = find(sp, xid, NULL);

        if (!t)
                return 0;
        if (subxid == xid) {
                forget(sp, xid);
                return 0;
        }
        if (t->naborted == t->cap) {
                int ncap = t->cap ? t->cap * 2 : 8;
                uint32_t *n = realloc(t->aborted, (size_t)ncap * sizeof(*n));
                if (!n)
                        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
                t->aborted = n;
                t->cap = ncap;
        }
        t->aborted[t->naborted++] = subxid;
        return 0;
}

static bool aborted(const struct spill_txn *t, uint32_t subxid)
{
        for (int i = 0; i < t->naborted; i++)
                if (t->aborted[i] == subxid)
                        return true;
        return false;
}

int pg_spill_replay(struct pg_spill *sp, uint32_t xid, pg_spill_fn fn, void *arg,
                    struct zetl_err *err)
{
        struct spill_txn *t = find(sp, xid, NULL);
        uint8_t *buf = NULL;
        size_t cap = 0;
        uint32_t hdr[4];
        int rc = 0;

        if (!t)
                return 0; /* nothing was streamed for it (all filtered out) */
        if (fflush(t->f) != 0 || fseeko(t->f, 0, SEEK_SET) != 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT, "rewinding a spill file");
        while (rc == 0 && fread(hdr, sizeof(hdr), 1, t->f) == 1) {
                size_t len = hdr[3];
                uint64_t lsn = (uint64_t)hdr[1] << 32 | hdr[2];
                if (len > MSG_MAX) {
                        rc = zetl_err_set(err, ZETL_EPROTO, ZETL_ERRC_FATAL, "corrupt spill file");
                        break;
                }
                if (len > cap) {
                        uint8_t *n = realloc(buf, len);
                        if (!n) {
                                rc = zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL,
                                                  "out of memory");
                                break;
                        }
                        buf = n;
                        cap = len;
                }
                if (len && fread(buf, len, 1, t->f) != 1) {
                        rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_TRANSIENT,
                                          "reading a spill file");
                        break;
                }
                if (!aborted(t, hdr[0]))
                        rc = fn(arg, lsn, buf, len, err);
        }
        free(buf);
        forget(sp, xid);
        return rc;
}

bool pg_spill_empty(const struct pg_spill *sp)
{
        return !sp || !sp->txns;
}

bool pg_spill_holds(const struct pg_spill *sp, uint32_t xid)
{
        for (const struct spill_txn *t = sp ? sp->txns : NULL; t; t = t->next)
                if (t->xid == xid)
                        return true;
        return false;
}

uint64_t pg_spill_bytes(const struct pg_spill *sp)
{
        return sp ? sp->bytes : 0;
}
