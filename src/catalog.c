/*
 * The integration catalog (see catalog.h): one folder per integration in the
 * state directory, each file a small JSON document written atomically and
 * kept private (0700 folders, 0600 files) because definitions carry
 * passwords. Files are checked strictly on load: a state file that does not
 * parse is a fatal error naming the file, never a silent reset to zero.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog.h"
#include "fsutil.h"

#define DEF_FILE    "definition.json"
#define CKPT_FILE   "checkpoint.json"
#define STATUS_FILE "status.json"
#define LOCK_FILE   "lock"

/* Ceilings for reading state files back: generous (a definition may embed a
 * filter file, a status lists every table) but bounded. */
#define DEF_MAX    (16u << 20)
#define CKPT_MAX   (1u << 20)
#define STATUS_MAX (64u << 20)

#define FILE_MODE 0600
#define DIR_MODE  0700

/* ---- names ------------------------------------------------------------------ */

static const char *const state_names[] = {
        [ZETL_STATE_CREATING] = "creating",
        [ZETL_STATE_ACTIVE] = "active",
        [ZETL_STATE_SYNCING] = "syncing",
        [ZETL_STATE_MODIFYING] = "modifying",
        [ZETL_STATE_NEEDS_ATTENTION] = "needs_attention",
        [ZETL_STATE_FAILED] = "failed",
        [ZETL_STATE_DELETING] = "deleting",
};

static const char *const table_state_names[] = {
        [ZETL_TABLE_SYNCING] = "syncing",
        [ZETL_TABLE_ACTIVE] = "active",
        [ZETL_TABLE_NEEDS_ATTENTION] = "needs_attention",
};

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *zetl_state_name(enum zetl_state s)
{
        if ((int)s < 0 || (int)s >= NELEM(state_names))
                return "unknown";
        return state_names[s];
}

int zetl_state_parse(const char *s, enum zetl_state *out)
{
        for (int i = 0; s && i < NELEM(state_names); i++) {
                if (strcmp(s, state_names[i]) == 0) {
                        *out = (enum zetl_state)i;
                        return 0;
                }
        }
        return ZETL_EINVAL;
}

const char *zetl_table_state_name(enum zetl_table_state s)
{
        if ((int)s < 0 || (int)s >= NELEM(table_state_names))
                return "unknown";
        return table_state_names[s];
}

static int table_state_parse(const char *s, enum zetl_table_state *out)
{
        for (int i = 0; s && i < NELEM(table_state_names); i++) {
                if (strcmp(s, table_state_names[i]) == 0) {
                        *out = (enum zetl_table_state)i;
                        return 0;
                }
        }
        return ZETL_EINVAL;
}

/* ASCII only: the locale must not change which names are valid. */
static bool is_letter(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

int zetl_integration_name_check(const char *name, struct zetl_err *err)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > ZETL_INTEGRATION_NAME_MAX)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "integration name \"%s\" must be 1 to %d characters long "
                                    "(it has %zu)",
                                    name ? name : "", ZETL_INTEGRATION_NAME_MAX, n);
        if (!is_letter(name[0]))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "integration name \"%s\" must start with a letter", name);
        for (size_t i = 1; i < n; i++) {
                unsigned char c = (unsigned char)name[i];

                if (!is_letter((char)c) && !is_digit((char)c) && c != '-') {
                        if (c >= 0x20 && c < 0x7f)
                                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                                    "integration name \"%s\" may contain only "
                                                    "letters, digits and hyphens, not '%c'",
                                                    name, c);
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "integration name \"%s\" may contain only letters, "
                                            "digits and hyphens, not byte 0x%02x",
                                            name, c);
                }
                if (c == '-' && name[i - 1] == '-')
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                            "integration name \"%s\" must not contain two "
                                            "consecutive hyphens",
                                            name);
        }
        if (name[n - 1] == '-')
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "integration name \"%s\" must not end with a hyphen", name);
        return 0;
}

/* ---- small helpers ------------------------------------------------------------ */

static int64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int no_memory(struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "out of memory");
}

/* key = val (a JSON string, or null for NULL). json_string refuses text that
 * is not UTF-8, which is what a NULL from it means here. */
static int put_str(json_t *o, const char *key, const char *val, struct zetl_err *err)
{
        json_t *v = val ? json_string(val) : json_null();

        if (!v)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "%s is not valid UTF-8 text", key);
        if (json_object_set_new(o, key, v) < 0)
                return no_memory(err);
        return 0;
}

static int put_int(json_t *o, const char *key, int64_t val, struct zetl_err *err)
{
        if (json_object_set_new(o, key, json_integer((json_int_t)val)) < 0)
                return no_memory(err);
        return 0;
}

/* Serialise root (consumed) to dir/file with mode 0600. */
static int write_json(const char *dir, const char *file, json_t *root, struct zetl_err *err)
{
        char *text = json_dumps(root, JSON_INDENT(2));
        char *line;
        size_t n;
        int rc;

        json_decref(root);
        if (!text)
                return no_memory(err);
        n = strlen(text);
        line = realloc(text, n + 2);
        if (!line) {
                free(text);
                return no_memory(err);
        }
        line[n] = '\n';
        line[n + 1] = '\0';
        rc = zetl_file_write_atomic(dir, file, line, n + 1, FILE_MODE, err);
        free(line);
        return rc;
}

/* Parse path into *out. A missing file gives *out = NULL and 0 when
 * missing_ok, else ZETL_ENOTFOUND. */
static int read_json(const char *path, size_t max, bool missing_ok, json_t **out,
                     struct zetl_err *err)
{
        json_error_t je;
        char *buf;
        size_t len;
        int rc;

        *out = NULL;
        rc = zetl_file_read(path, max, &buf, &len, err);
        if (rc == ZETL_ENOTFOUND && missing_ok)
                return 0;
        if (rc < 0)
                return rc;
        *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        free(buf);
        if (!*out && json_error_code(&je) == json_error_out_of_memory)
                return zetl_err_set(err, ZETL_ENOMEM, ZETL_ERRC_FATAL, "reading %s: out of memory",
                                    path);
        if (!*out)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s:%d: %s", path, je.line,
                                    je.text);
        if (!json_is_object(*out)) {
                json_decref(*out);
                *out = NULL;
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s: expected a JSON object",
                                    path);
        }
        return 0;
}

static int bad_field(const char *path, const char *key, const char *what, struct zetl_err *err)
{
        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL, "%s: \"%s\" must be %s", path, key,
                            what);
}

/* A copy of a string field; absent or null gives NULL unless required. */
static int get_str(const json_t *o, const char *key, bool required, char **out, const char *path,
                   struct zetl_err *err)
{
        const json_t *v = json_object_get(o, key);

        *out = NULL;
        if (!v || json_is_null(v))
                return required ? bad_field(path, key, "present", err) : 0;
        if (!json_is_string(v))
                return bad_field(path, key, "a string", err);
        *out = strdup(json_string_value(v));
        return *out ? 0 : no_memory(err);
}

/* A string field copied into a fixed buffer; absent or null gives "". */
static int get_buf(const json_t *o, const char *key, char *buf, size_t size, const char *path,
                   struct zetl_err *err)
{
        const json_t *v = json_object_get(o, key);

        buf[0] = '\0';
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return bad_field(path, key, "a string", err);
        if (json_string_length(v) >= size)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "%s: \"%s\" is longer than %zu bytes", path, key, size - 1);
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
}

/* An integer field; absent or null gives def. */
static int get_int(const json_t *o, const char *key, int64_t def, int64_t *out, const char *path,
                   struct zetl_err *err)
{
        const json_t *v = json_object_get(o, key);

        *out = def;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v))
                return bad_field(path, key, "an integer", err);
        *out = (int64_t)json_integer_value(v);
        return 0;
}

static int folder_path(const struct zetl_catalog *cat, const char *name, char *buf, size_t len,
                       struct zetl_err *err)
{
        int rc = zetl_integration_name_check(name, err);

        if (rc < 0)
                return rc;
        if (snprintf(buf, len, "%s/%s", cat->dir, name) >= (int)len)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "path of integration \"%s\" is too long", name);
        return 0;
}

/* The folder must exist, be a directory and be private. */
/* Every file in the integration's folder is the owner's alone: state files
 * hold passwords and positions, and a copy readable by others (restored from
 * a backup, edited by hand) is refused rather than used. */
static int files_check(const char *folder, struct zetl_err *err)
{
        DIR *d = opendir(folder);
        struct dirent *e;
        int rc = 0;

        if (!d)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "%s: %s", folder,
                                    strerror(errno));
        while (rc == 0 && (e = readdir(d)) != NULL) {
                struct stat st;
                if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
                        continue;
                if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && (st.st_mode & 077))
                        rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                          "state file %s/%s is accessible by group or others "
                                          "(mode %04o); run: chmod %s %s/%s",
                                          folder, e->d_name, (unsigned)(st.st_mode & 07777),
                                          S_ISDIR(st.st_mode) ? "700" : "600", folder, e->d_name);
        }
        closedir(d);
        return rc;
}

static int folder_check(const char *folder, const char *name, struct zetl_err *err)
{
        struct stat st;

        if (stat(folder, &st) < 0) {
                if (errno == ENOENT)
                        return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_CONFIG,
                                            "no integration named \"%s\"", name);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "%s: %s", folder,
                                    strerror(errno));
        }
        if (!S_ISDIR(st.st_mode))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG, "%s is not a directory",
                                    folder);
        if (st.st_mode & 077)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "integration folder %s is accessible by group or others "
                                    "(mode %04o); run: chmod 700 %s",
                                    folder, (unsigned)(st.st_mode & 07777), folder);
        return files_check(folder, err);
}

/* ---- the state directory ---------------------------------------------------------- */

static int resolve_dir(const char *cli_dir, char *buf, size_t len, struct zetl_err *err)
{
        const char *env = getenv("ZETL_STATE_DIR");
        const char *xdg = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        int n;

        if (cli_dir && *cli_dir)
                n = snprintf(buf, len, "%s", cli_dir);
        else if (env && *env)
                n = snprintf(buf, len, "%s", env);
        else if (geteuid() == 0)
                n = snprintf(buf, len, "/var/lib/zetl");
        else if (xdg && xdg[0] == '/') /* the XDG spec says to ignore relative values */
                n = snprintf(buf, len, "%s/zetl", xdg);
        else if (home && *home)
                n = snprintf(buf, len, "%s/.local/state/zetl", home);
        else
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "no state directory: HOME is not set; use --state-dir or "
                                    "ZETL_STATE_DIR");
        if (n < 0 || (size_t)n >= len)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "state directory path is too long");
        /* Trailing slashes would double up in every path built from it. */
        while (n > 1 && buf[n - 1] == '/')
                buf[--n] = '\0';
        return 0;
}

int zetl_catalog_open(struct zetl_catalog *cat, const char *cli_dir, struct zetl_err *err)
{
        struct stat st;
        int rc;

        rc = resolve_dir(cli_dir, cat->dir, sizeof(cat->dir), err);
        if (rc < 0)
                return rc;
        if (stat(cat->dir, &st) < 0) {
                if (errno != ENOENT)
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                            "state directory %s: %s", cat->dir, strerror(errno));
                rc = zetl_mkdir_p(cat->dir, DIR_MODE, err);
                if (rc < 0)
                        return rc;
                if (stat(cat->dir, &st) < 0)
                        return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL,
                                            "state directory %s: %s", cat->dir, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "state directory %s is not a directory", cat->dir);
        if (st.st_mode & 077)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "state directory %s is accessible by group or others (mode "
                                    "%04o); run: chmod 700 %s",
                                    cat->dir, (unsigned)(st.st_mode & 07777), cat->dir);
        return 0;
}

void zetl_catalog_path(const struct zetl_catalog *cat, const char *name, char *buf, size_t len)
{
        snprintf(buf, len, "%s/%s", cat->dir, name);
}

/* ---- definitions ---------------------------------------------------------------- */

void zetl_definition_free(struct zetl_definition *d)
{
        if (!d)
                return;
        free(d->description);
        free(d->source);
        free(d->target);
        free(d->data_filter);
        free(d->filter_file);
        free(d->filter_text);
        for (int i = 0; d->opts && i < d->nopts; i++) {
                free(d->opts[i].key);
                free(d->opts[i].value);
        }
        free(d->opts);
        memset(d, 0, sizeof(*d));
}

static int put_opt(json_t *opts, int i, const struct zetl_option *o, struct zetl_err *err)
{
        json_t *v;

        if (!o->key || !o->value)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option %d has no key or no value", i + 1);
        /* json_string validates UTF-8, which tells a bad key from a lack of memory below. */
        v = json_string(o->key);
        if (!v)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option %d: the key is not valid UTF-8 text", i + 1);
        json_decref(v);
        v = json_string(o->value);
        if (!v)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "option %s: the value is not valid UTF-8 text", o->key);
        return json_object_set_new(opts, o->key, v) < 0 ? no_memory(err) : 0;
}

static int def_to_json(const struct zetl_definition *d, json_t **out, struct zetl_err *err)
{
        json_t *root = json_object();
        json_t *opts = json_object();
        int rc;

        *out = NULL;
        if (!d->source || !d->target) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                  "integration \"%s\" needs a source and a target", d->name);
                goto out_free;
        }
        if (!root || !opts) {
                rc = no_memory(err);
                goto out_free;
        }
        if ((rc = put_str(root, "name", d->name, err)) < 0 ||
            (rc = put_str(root, "description", d->description, err)) < 0 ||
            (rc = put_str(root, "source", d->source, err)) < 0 ||
            (rc = put_str(root, "target", d->target, err)) < 0 ||
            (rc = put_str(root, "data_filter", d->data_filter, err)) < 0 ||
            (rc = put_str(root, "filter_file", d->filter_file, err)) < 0 ||
            (rc = put_str(root, "filter_text", d->filter_text, err)) < 0)
                goto out_free;
        for (int i = 0; i < d->nopts; i++) {
                rc = put_opt(opts, i, &d->opts[i], err);
                if (rc < 0)
                        goto out_free;
        }
        rc = json_object_set(root, "options", opts) < 0 ? no_memory(err) : 0;
        if (rc < 0)
                goto out_free;
        rc = put_int(root, "created_at", d->created_at ? d->created_at : (int64_t)time(NULL), err);
        if (rc < 0)
                goto out_free;
        *out = root;
        root = NULL;
out_free:
        json_decref(opts);
        json_decref(root);
        return rc;
}

static int opts_from_json(const json_t *v, struct zetl_definition *d, const char *path,
                          struct zetl_err *err)
{
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return bad_field(path, "options", "an object", err);
        if (json_object_size(v) == 0)
                return 0;
        d->opts = calloc(json_object_size(v), sizeof(*d->opts));
        if (!d->opts)
                return no_memory(err);
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
                const char *key = json_object_iter_key(it);
                const json_t *val = json_object_iter_value(it);
                struct zetl_option *o = &d->opts[d->nopts];

                if (!json_is_string(val))
                        return bad_field(path, key, "a string (options)", err);
                o->key = strdup(key);
                o->value = strdup(json_string_value(val));
                d->nopts++; /* counted before the check so zetl_definition_free sees both */
                if (!o->key || !o->value)
                        return no_memory(err);
        }
        return 0;
}

static int def_from_json(const json_t *root, const char *name, struct zetl_definition *d,
                         const char *path, struct zetl_err *err)
{
        const json_t *jname = json_object_get(root, "name");
        int rc;

        if (!json_is_string(jname))
                return bad_field(path, "name", "a string", err);
        if (strcmp(json_string_value(jname), name) != 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "%s: \"name\" is \"%s\", not the folder's name \"%s\"", path,
                                    json_string_value(jname), name);
        snprintf(d->name, sizeof(d->name), "%s", name);
        if ((rc = get_str(root, "description", false, &d->description, path, err)) < 0 ||
            (rc = get_str(root, "source", true, &d->source, path, err)) < 0 ||
            (rc = get_str(root, "target", true, &d->target, path, err)) < 0 ||
            (rc = get_str(root, "data_filter", false, &d->data_filter, path, err)) < 0 ||
            (rc = get_str(root, "filter_file", false, &d->filter_file, path, err)) < 0 ||
            (rc = get_str(root, "filter_text", false, &d->filter_text, path, err)) < 0 ||
            (rc = opts_from_json(json_object_get(root, "options"), d, path, err)) < 0)
                return rc;
        return get_int(root, "created_at", 0, &d->created_at, path, err);
}

static int def_write(const char *folder, const struct zetl_definition *d, struct zetl_err *err)
{
        json_t *root;
        int rc = def_to_json(d, &root, err);

        if (rc < 0)
                return rc;
        return write_json(folder, DEF_FILE, root, err);
}

int zetl_catalog_create(const struct zetl_catalog *cat, const struct zetl_definition *d,
                        struct zetl_err *err)
{
        struct zetl_status st = { .state = ZETL_STATE_CREATING,
                                  .lag_seconds = -1,
                                  .lag_bytes = -1 };
        struct zetl_err ignored;
        char folder[PATH_MAX];
        int rc;

        rc = folder_path(cat, d->name, folder, sizeof(folder), err);
        if (rc < 0)
                return rc;
        if (mkdir(folder, DIR_MODE) < 0) {
                if (errno == EEXIST)
                        return zetl_err_set(err, ZETL_EEXIST, ZETL_ERRC_CONFIG,
                                            "integration \"%s\" already exists", d->name);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "creating %s: %s", folder,
                                    strerror(errno));
        }
        /* mkdir's mode went through the umask; the folder must be exactly private. */
        if (chmod(folder, DIR_MODE) < 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "chmod %s: %s", folder,
                                  strerror(errno));
                goto out_remove;
        }
        rc = def_write(folder, d, err);
        if (rc < 0)
                goto out_remove;
        rc = zetl_status_save(folder, &st, err);
        if (rc < 0)
                goto out_remove;
        return 0;

out_remove:
        /* A half-made folder would make the name look taken (EEXIST) forever. */
        zetl_remove_tree(folder, &ignored);
        return rc;
}

int zetl_catalog_load(const struct zetl_catalog *cat, const char *name, struct zetl_definition *out,
                      struct zetl_err *err)
{
        char folder[PATH_MAX], path[PATH_MAX + sizeof(DEF_FILE) + 1];
        json_t *root = NULL;
        struct stat st;
        int rc;

        memset(out, 0, sizeof(*out));
        if ((rc = folder_path(cat, name, folder, sizeof(folder), err)) < 0 ||
            (rc = folder_check(folder, name, err)) < 0)
                return rc;
        snprintf(path, sizeof(path), "%s/%s", folder, DEF_FILE);
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_CONFIG,
                                            "no integration named \"%s\" (%s is missing)", name,
                                            path);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "%s: %s", path,
                                    strerror(errno));
        }
        if (st.st_mode & 077)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_CONFIG,
                                    "%s is accessible by group or others (mode %04o) and holds "
                                    "passwords; run: chmod 600 %s",
                                    path, (unsigned)(st.st_mode & 07777), path);
        rc = read_json(path, DEF_MAX, false, &root, err);
        if (rc < 0)
                return rc;
        rc = def_from_json(root, name, out, path, err);
        json_decref(root);
        if (rc < 0)
                zetl_definition_free(out);
        return rc;
}

int zetl_catalog_save(const struct zetl_catalog *cat, const struct zetl_definition *d,
                      struct zetl_err *err)
{
        char folder[PATH_MAX];
        int rc;

        if ((rc = folder_path(cat, d->name, folder, sizeof(folder), err)) < 0 ||
            (rc = folder_check(folder, d->name, err)) < 0)
                return rc;
        return def_write(folder, d, err);
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder is an integration when its name is valid and it holds a regular
 * definition.json; anything else (an editor's backup, a stray file) is not. */
static bool is_integration(int dfd, const char *name)
{
        char sub[NAME_MAX + sizeof(DEF_FILE) + 2];
        struct stat st;

        if (zetl_integration_name_check(name, NULL) < 0)
                return false;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return false;
        snprintf(sub, sizeof(sub), "%s/%s", name, DEF_FILE);
        return fstatat(dfd, sub, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int zetl_catalog_list(const struct zetl_catalog *cat, char ***names, int *n, struct zetl_err *err)
{
        char **v = NULL;
        int cnt = 0, cap = 0, rc = 0;
        struct dirent *de;
        DIR *d;

        *names = NULL;
        *n = 0;
        d = opendir(cat->dir);
        if (!d)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "listing %s: %s", cat->dir,
                                    strerror(errno));
        while ((errno = 0, de = readdir(d)) != NULL) {
                if (!is_integration(dirfd(d), de->d_name))
                        continue;
                if (cnt == cap) {
                        int ncap = cap ? cap * 2 : 8;
                        char **nv = realloc(v, (size_t)ncap * sizeof(*v));

                        if (!nv) {
                                rc = no_memory(err);
                                goto out_free;
                        }
                        v = nv;
                        cap = ncap;
                }
                v[cnt] = strdup(de->d_name);
                if (!v[cnt]) {
                        rc = no_memory(err);
                        goto out_free;
                }
                cnt++;
        }
        if (errno != 0) {
                rc = zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "listing %s: %s", cat->dir,
                                  strerror(errno));
                goto out_free;
        }
        if (cnt > 1)
                qsort(v, (size_t)cnt, sizeof(*v), name_cmp);
        *names = v;
        *n = cnt;
        v = NULL;
        cnt = 0;
out_free:
        for (int i = 0; i < cnt; i++)
                free(v[i]);
        free(v);
        closedir(d);
        return rc;
}

int zetl_catalog_remove(const struct zetl_catalog *cat, const char *name, struct zetl_err *err)
{
        char folder[PATH_MAX];
        struct stat st;
        int rc;

        rc = folder_path(cat, name, folder, sizeof(folder), err);
        if (rc < 0)
                return rc;
        if (lstat(folder, &st) < 0 && errno == ENOENT)
                return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_CONFIG,
                                    "no integration named \"%s\"", name);
        return zetl_remove_tree(folder, err);
}

int zetl_catalog_lock(const struct zetl_catalog *cat, const char *name, int *fd,
                      struct zetl_err *err)
{
        char folder[PATH_MAX], path[PATH_MAX + sizeof(LOCK_FILE) + 1];
        struct stat st;
        int rc, lfd;

        *fd = -1;
        rc = folder_path(cat, name, folder, sizeof(folder), err);
        if (rc < 0)
                return rc;
        if (stat(folder, &st) < 0 || !S_ISDIR(st.st_mode))
                return zetl_err_set(err, ZETL_ENOTFOUND, ZETL_ERRC_CONFIG,
                                    "no integration named \"%s\"", name);
        snprintf(path, sizeof(path), "%s/%s", folder, LOCK_FILE);
        lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, FILE_MODE);
        if (lfd < 0)
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "opening %s: %s", path,
                                    strerror(errno));
        /* flock, not fcntl locks: those belong to the process, so a second
         * open in the same process (a test, a thread) would not see the first. */
        if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
                int saved = errno;

                close(lfd);
                if (saved == EWOULDBLOCK)
                        return zetl_err_set(err, ZETL_ESTATE, ZETL_ERRC_CONFIG,
                                            "integration \"%s\" is already running (lock held)",
                                            name);
                return zetl_err_set(err, ZETL_EIO, ZETL_ERRC_FATAL, "locking %s: %s", path,
                                    strerror(saved));
        }
        *fd = lfd;
        return 0;
}

/* ---- checkpoint.json ---------------------------------------------------------------- */

static int pos_to_json(json_t *root, const char *key, const struct zetl_position *p,
                       struct zetl_err *err)
{
        char order[24];
        json_t *o = json_object();
        json_t *tok = json_stringn(p->token, strnlen(p->token, sizeof(p->token)));
        int rc;

        if (!o) {
                rc = no_memory(err);
                goto out_free;
        }
        if (!tok) {
                rc = zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                  "checkpoint %s token is not valid UTF-8 text", key);
                goto out_free;
        }
        /* A string, because json_integer is signed 64-bit and LSNs use all 64. */
        snprintf(order, sizeof(order), "%" PRIu64, p->order);
        if ((rc = put_str(o, "order", order, err)) < 0 ||
            (rc = put_int(o, "time_us", p->time_us, err)) < 0)
                goto out_free;
        rc = json_object_set_new(o, "token", tok);
        tok = NULL; /* taken by set_new, even when it fails */
        if (rc < 0) {
                rc = no_memory(err);
                goto out_free;
        }
        /* o is taken as well, whatever the outcome. */
        return json_object_set_new(root, key, o) < 0 ? no_memory(err) : 0;
out_free:
        json_decref(tok);
        json_decref(o);
        return rc;
}

static int order_parse(const char *s, uint64_t *out)
{
        char *end;
        unsigned long long v;

        /* strtoull alone would take "-1", " 7" and "+7"; only plain digits are ours. */
        if (!is_digit(s[0]) || strlen(s) > 20)
                return -1;
        for (const char *p = s; *p; p++)
                if (!is_digit(*p))
                        return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end != '\0')
                return -1;
        *out = (uint64_t)v;
        return 0;
}

static int pos_from_json(const json_t *root, const char *key, struct zetl_position *p,
                         const char *path, struct zetl_err *err)
{
        const json_t *o = json_object_get(root, key);
        const json_t *order, *token;

        memset(p, 0, sizeof(*p));
        if (!o || json_is_null(o))
                return 0;
        if (!json_is_object(o))
                return bad_field(path, key, "an object", err);
        order = json_object_get(o, "order");
        if (order && !json_is_null(order)) {
                if (!json_is_string(order) || order_parse(json_string_value(order), &p->order) < 0)
                        return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                            "%s: \"%s.order\" must be a decimal string of an "
                                            "unsigned 64-bit number",
                                            path, key);
        }
        if (get_int(o, "time_us", 0, &p->time_us, path, err) < 0)
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "%s: \"%s.time_us\" must be an integer", path, key);
        token = json_object_get(o, "token");
        if (!token || json_is_null(token))
                return 0;
        if (!json_is_string(token) || json_string_length(token) >= sizeof(p->token))
                return zetl_err_set(err, ZETL_EINVAL, ZETL_ERRC_FATAL,
                                    "%s: \"%s.token\" must be a string of less than %zu bytes",
                                    path, key, sizeof(p->token));
        memcpy(p->token, json_string_value(token), json_string_length(token) + 1);
        return 0;
}

int zetl_checkpoint_load(const char *idir, struct zetl_checkpoint *out, bool *found,
                         struct zetl_err *err)
{
        char path[PATH_MAX];
        const json_t *snap;
        json_t *root;
        int rc;

        memset(out, 0, sizeof(*out));
        if (found)
                *found = false;
        snprintf(path, sizeof(path), "%s/%s", idir, CKPT_FILE);
        rc = read_json(path, CKPT_MAX, true, &root, err);
        if (rc < 0 || !root)
                return rc;
        if ((rc = pos_from_json(root, "received", &out->received, path, err)) < 0 ||
            (rc = pos_from_json(root, "written", &out->written, path, err)) < 0 ||
            (rc = pos_from_json(root, "committed", &out->committed, path, err)) < 0 ||
            (rc = pos_from_json(root, "acked", &out->acked, path, err)) < 0 ||
            (rc = get_int(root, "updated_at", 0, &out->updated_at, path, err)) < 0)
                goto out_free;
        snap = json_object_get(root, "snapshot_done");
        if (snap && !json_is_boolean(snap)) {
                rc = bad_field(path, "snapshot_done", "true or false", err);
                goto out_free;
        }
        out->snapshot_done = json_is_true(snap);
        if (found)
                *found = true;
out_free:
        json_decref(root);
        if (rc < 0)
                memset(out, 0, sizeof(*out));
        return rc;
}

int zetl_checkpoint_save(const char *idir, const struct zetl_checkpoint *ck, struct zetl_err *err)
{
        json_t *root = json_object();
        int rc;

        if (!root)
                return no_memory(err);
        if ((rc = pos_to_json(root, "received", &ck->received, err)) < 0 ||
            (rc = pos_to_json(root, "written", &ck->written, err)) < 0 ||
            (rc = pos_to_json(root, "committed", &ck->committed, err)) < 0 ||
            (rc = pos_to_json(root, "acked", &ck->acked, err)) < 0)
                goto out_free;
        if (json_object_set_new(root, "snapshot_done", json_boolean(ck->snapshot_done)) < 0) {
                rc = no_memory(err);
                goto out_free;
        }
        rc = put_int(root, "updated_at", ck->updated_at ? ck->updated_at : now_us(), err);
        if (rc < 0)
                goto out_free;
        return write_json(idir, CKPT_FILE, root, err);
out_free:
        json_decref(root);
        return rc;
}

/* ---- status.json ---------------------------------------------------------------------- */

void zetl_status_free(struct zetl_status *s)
{
        if (!s)
                return;
        free(s->last_error);
        for (int i = 0; s->tables && i < s->ntables; i++)
                free(s->tables[i].last_error);
        free(s->tables);
        memset(s, 0, sizeof(*s));
}

struct zetl_table_status *zetl_status_table(struct zetl_status *s, const struct zetl_table_id *id)
{
        struct zetl_table_status *t;

        for (int i = 0; i < s->ntables; i++) {
                t = &s->tables[i];
                if (strcmp(t->id.db, id->db) == 0 && strcmp(t->id.schema, id->schema) == 0 &&
                    strcmp(t->id.table, id->table) == 0)
                        return t;
        }
        if (s->ntables == INT32_MAX)
                return NULL;
        t = realloc(s->tables, ((size_t)s->ntables + 1) * sizeof(*t));
        if (!t)
                return NULL;
        s->tables = t;
        t = &s->tables[s->ntables++];
        memset(t, 0, sizeof(*t));
        t->id = *id;
        t->state = ZETL_TABLE_SYNCING;
        return t;
}

static int table_to_json(json_t *arr, const struct zetl_table_status *t, struct zetl_err *err)
{
        json_t *o = json_object();
        int rc;

        if (!o)
                return no_memory(err);
        if ((rc = put_str(o, "db", t->id.db, err)) < 0 ||
            (rc = put_str(o, "schema", t->id.schema, err)) < 0 ||
            (rc = put_str(o, "table", t->id.table, err)) < 0 ||
            (rc = put_str(o, "state", zetl_table_state_name(t->state), err)) < 0 ||
            (rc = put_int(o, "rows_snapshot", t->rows_snapshot, err)) < 0 ||
            (rc = put_int(o, "rows_inserted", t->rows_inserted, err)) < 0 ||
            (rc = put_int(o, "rows_updated", t->rows_updated, err)) < 0 ||
            (rc = put_int(o, "rows_deleted", t->rows_deleted, err)) < 0 ||
            (rc = put_int(o, "bytes", t->bytes, err)) < 0 ||
            (rc = put_str(o, "last_error", t->last_error, err)) < 0) {
                json_decref(o);
                return rc;
        }
        return json_array_append_new(arr, o) < 0 ? no_memory(err) : 0;
}

/* Unknown lags (negative, or a lag_seconds jansson cannot encode) are null. */
static int put_lags(json_t *root, const struct zetl_status *st, struct zetl_err *err)
{
        json_t *secs = json_null();
        json_t *bytes = json_null();

        if (st->lag_seconds >= 0 && isfinite(st->lag_seconds))
                secs = json_real(st->lag_seconds);
        if (st->lag_bytes >= 0)
                bytes = json_integer(st->lag_bytes);
        /* set_new takes its value even when it fails, so each is freed exactly once. */
        if (json_object_set_new(root, "lag_seconds", secs) < 0) {
                json_decref(bytes);
                return no_memory(err);
        }
        if (json_object_set_new(root, "lag_bytes", bytes) < 0)
                return no_memory(err);
        return 0;
}

int zetl_status_save(const char *idir, const struct zetl_status *st, struct zetl_err *err)
{
        int64_t updated = st->updated_at ? st->updated_at : now_us();
        json_t *root = json_object();
        json_t *arr = json_array();
        int rc;

        if (!root || !arr) {
                rc = no_memory(err);
                goto out_free;
        }
        if ((rc = put_str(root, "state", zetl_state_name(st->state), err)) < 0 ||
            (rc = put_str(root, "last_error", st->last_error, err)) < 0 ||
            (rc = put_int(root, "updated_at", updated, err)) < 0 ||
            (rc = put_lags(root, st, err)) < 0 || (rc = put_int(root, "pid", st->pid, err)) < 0)
                goto out_free;
        for (int i = 0; i < st->ntables; i++)
                if ((rc = table_to_json(arr, &st->tables[i], err)) < 0)
                        goto out_free;
        if (json_object_set(root, "tables", arr) < 0) {
                rc = no_memory(err);
                goto out_free;
        }
        json_decref(arr);
        return write_json(idir, STATUS_FILE, root, err);

out_free:
        json_decref(arr);
        json_decref(root);
        return rc;
}

static int table_from_json(const json_t *o, struct zetl_table_status *t, const char *path,
                           struct zetl_err *err)
{
        const json_t *state = json_object_get(o, "state");
        int rc;

        if (!json_is_object(o))
                return bad_field(path, "tables", "an array of objects", err);
        if ((rc = get_buf(o, "db", t->id.db, sizeof(t->id.db), path, err)) < 0 ||
            (rc = get_buf(o, "schema", t->id.schema, sizeof(t->id.schema), path, err)) < 0 ||
            (rc = get_buf(o, "table", t->id.table, sizeof(t->id.table), path, err)) < 0 ||
            (rc = get_int(o, "rows_snapshot", 0, &t->rows_snapshot, path, err)) < 0 ||
            (rc = get_int(o, "rows_inserted", 0, &t->rows_inserted, path, err)) < 0 ||
            (rc = get_int(o, "rows_updated", 0, &t->rows_updated, path, err)) < 0 ||
            (rc = get_int(o, "rows_deleted", 0, &t->rows_deleted, path, err)) < 0 ||
            (rc = get_int(o, "bytes", 0, &t->bytes, path, err)) < 0 ||
            (rc = get_str(o, "last_error", false, &t->last_error, path, err)) < 0)
                return rc;
        if (!json_is_string(state) || table_state_parse(json_string_value(state), &t->state) < 0)
                return bad_field(path, "tables[].state", "syncing, active or needs_attention", err);
        return 0;
}

static int status_from_json(const json_t *root, struct zetl_status *out, const char *path,
                            struct zetl_err *err)
{
        const json_t *state = json_object_get(root, "state");
        const json_t *lag = json_object_get(root, "lag_seconds");
        const json_t *tables = json_object_get(root, "tables");
        int64_t pid;
        int rc;

        if (!json_is_string(state) || zetl_state_parse(json_string_value(state), &out->state) < 0)
                return bad_field(path, "state", "an integration state name", err);
        if (lag && !json_is_null(lag) && !json_is_number(lag))
                return bad_field(path, "lag_seconds", "a number or null", err);
        out->lag_seconds = lag && !json_is_null(lag) ? json_number_value(lag) : -1;
        if ((rc = get_str(root, "last_error", false, &out->last_error, path, err)) < 0 ||
            (rc = get_int(root, "updated_at", 0, &out->updated_at, path, err)) < 0 ||
            (rc = get_int(root, "lag_bytes", -1, &out->lag_bytes, path, err)) < 0 ||
            (rc = get_int(root, "pid", 0, &pid, path, err)) < 0)
                return rc;
        if (pid < 0 || pid > INT32_MAX)
                return bad_field(path, "pid", "a process id", err);
        out->pid = (int)pid;
        if (!tables || json_is_null(tables))
                return 0;
        if (!json_is_array(tables) || json_array_size(tables) > INT32_MAX)
                return bad_field(path, "tables", "an array", err);
        if (json_array_size(tables) == 0)
                return 0;
        out->tables = calloc(json_array_size(tables), sizeof(*out->tables));
        if (!out->tables)
                return no_memory(err);
        for (size_t i = 0; i < json_array_size(tables); i++) {
                /* Counted first so zetl_status_free sees a half-filled entry. */
                out->ntables++;
                rc = table_from_json(json_array_get(tables, i), &out->tables[i], path, err);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

int zetl_status_load(const char *idir, struct zetl_status *out, bool *found, struct zetl_err *err)
{
        char path[PATH_MAX];
        json_t *root;
        int rc;

        memset(out, 0, sizeof(*out));
        out->lag_seconds = -1;
        out->lag_bytes = -1;
        if (found)
                *found = false;
        snprintf(path, sizeof(path), "%s/%s", idir, STATUS_FILE);
        rc = read_json(path, STATUS_MAX, true, &root, err);
        if (rc < 0 || !root)
                return rc;
        rc = status_from_json(root, out, path, err);
        json_decref(root);
        if (rc < 0) {
                zetl_status_free(out);
                return rc;
        }
        if (found)
                *found = true;
        return 0;
}
