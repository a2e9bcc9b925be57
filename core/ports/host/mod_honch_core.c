/*
 * _honch_core for CPython: the host port of the Honch C core.
 *
 * Exposes the module API of docs/architecture.md ("The SDK: core, ports,
 * wrapper"), identical to the MicroPython user module: Client(config) with
 * one method per core call, the ERROR_* constants and Error(status, text).
 *
 * Host platform: CLOCK_MONOTONIC, CLOCK_REALTIME and getrandom(), uploads
 * through honch_transport.post_chunk (looked up on every request). The host
 * hooks in the config dict replace those for tests and the harness:
 *   platform                 object with any of monotonic_ms(), wall_ms(),
 *                            random_bytes(n); missing methods use the host's
 *   transport                callable with post_chunk's signature
 *   battery_callback         callable() -> int percent (negative = unknown)
 *   auto_properties_callback callable() -> dict (or None) added to events
 *   state_path               file keeping the core's persistent state
 *   crash_report             dict of the previous boot's crash (contract 11.4)
 *
 * A hook that raises an Exception cannot propagate through the C core; it is
 * reported with PyErr_WriteUnraisable and its op falls back (host clock,
 * host random, unknown battery). A BaseException that is not an Exception
 * (KeyboardInterrupt, SystemExit) raised in any callback is kept and raised
 * once the core call returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "honch/honch.h"

/* ------------------------------------------------------------------------ */
/* Module state                                                               */
/* ------------------------------------------------------------------------ */

static PyObject *HonchCoreError; /* _honch_core.Error */

typedef struct {
    PyObject_HEAD
    honch_client_t client;
    honch_platform_t ops;
    Py_buffer event_buffer;
    int have_event_buffer;
    PyObject *keepalive;        /* list: config strings the core points into */
    PyObject *platform_monotonic; /* bound methods of the platform hook or NULL */
    PyObject *platform_wall;
    PyObject *platform_random;
    PyObject *transport;        /* callable or NULL (-> honch_transport.post_chunk) */
    PyObject *battery_callback;
    PyObject *auto_properties_callback;
    PyObject *auto_properties_cache; /* the callback's dict between the two emit passes */
    PyObject *retry_after;      /* keeps the last Retry-After value alive for the core */
    PyObject *state_path;       /* bytes (fs-encoded) or NULL */
    PyObject *deferred_exc;     /* a non-Exception BaseException to re-raise */
    PyObject *deferred_val;
    PyObject *deferred_tb;
    uint64_t last_monotonic;
    PyObject *weakreflist;
} ClientObject;

/*
 * Raise _honch_core.Error: str(exc) is the status text (the published wrapper
 * maps by `.status`, else by that text), `.status` the status value and
 * `.detail` what exactly was wrong (or None).
 */
static PyObject *raise_status(int status, const char *detail) {
    PyObject *exc = PyObject_CallFunction(HonchCoreError, "s", honch_status_text(status));
    if (exc == NULL) {
        return NULL;
    }
    PyObject *status_obj = PyLong_FromLong(status);
    PyObject *detail_obj = detail ? PyUnicode_FromString(detail) : Py_NewRef(Py_None);
    if (status_obj == NULL || detail_obj == NULL || PyObject_SetAttrString(exc, "status", status_obj) < 0
        || PyObject_SetAttrString(exc, "detail", detail_obj) < 0) {
        Py_XDECREF(status_obj);
        Py_XDECREF(detail_obj);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(status_obj);
    Py_DECREF(detail_obj);
    PyErr_SetObject(HonchCoreError, exc);
    Py_DECREF(exc);
    return NULL;
}

/*
 * A Python error is pending inside a core callback. Exceptions are reported
 * as unraisable (the core cannot carry them); anything else (KeyboardInterrupt,
 * SystemExit) is kept for re-raising after the core call.
 */
static void absorb_callback_error(ClientObject *self, PyObject *where) {
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_WriteUnraisable(where);
        return;
    }
    if (self->deferred_exc == NULL) {
        PyErr_Fetch(&self->deferred_exc, &self->deferred_val, &self->deferred_tb);
    } else {
        PyErr_Clear();
    }
}

/* After a core call: NULL with the deferred exception raised, or `result`. */
static PyObject *finish_call(ClientObject *self, PyObject *result) {
    if (self->deferred_exc != NULL) {
        Py_XDECREF(result);
        PyErr_Restore(self->deferred_exc, self->deferred_val, self->deferred_tb);
        self->deferred_exc = self->deferred_val = self->deferred_tb = NULL;
        return NULL;
    }
    return result;
}

/* status -> None or Error, after the deferred-exception check. */
static PyObject *status_result(ClientObject *self, int status, const char *detail) {
    if (self->deferred_exc != NULL) {
        return finish_call(self, NULL);
    }
    if (status != HONCH_STATUS_OK) {
        return raise_status(status, detail);
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* Host platform ops                                                          */
/* ------------------------------------------------------------------------ */

static uint64_t clock_ms(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void host_random(uint8_t *out, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = getrandom(out + done, n - done, 0);
        if (got > 0) {
            done += (size_t)got;
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (done == n) {
        return;
    }
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && done < n) {
        ssize_t got = read(fd, out + done, n - done);
        if (got > 0) {
            done += (size_t)got;
        } else if (!(got < 0 && errno == EINTR)) {
            break;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (done < n) {
        /* No entropy source at all: ids must still differ between clients. */
        uint64_t mix = clock_ms(CLOCK_REALTIME) ^ (clock_ms(CLOCK_MONOTONIC) << 21) ^ (uint64_t)getpid();
        for (; done < n; done++) {
            mix = mix * 6364136223846793005ull + 1442695040888963407ull;
            out[done] = (uint8_t)(mix >> 56);
        }
    }
}

/* Call a platform hook returning a non-negative int; *ok = 0 when it failed. */
static uint64_t call_u64_hook(ClientObject *self, PyObject *fn, int *ok) {
    *ok = 0;
    PyObject *r = PyObject_CallNoArgs(fn);
    if (r == NULL) {
        absorb_callback_error(self, fn);
        return 0;
    }
    uint64_t value = 0;
    if (PyLong_Check(r) && !PyBool_Check(r)) {
        value = PyLong_AsUnsignedLongLong(r);
        if (value == (uint64_t)-1 && PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError, "platform clock returned %R, not an int in 0..2**64-1", r);
            absorb_callback_error(self, fn);
            value = 0;
        } else {
            *ok = 1;
        }
    } else {
        PyErr_Format(PyExc_TypeError, "platform clock returned %R, not an int", r);
        absorb_callback_error(self, fn);
    }
    Py_DECREF(r);
    return value;
}

static uint64_t op_monotonic_ms(void *ctx) {
    ClientObject *self = ctx;
    uint64_t now;
    int ok = 1;
    if (self->platform_monotonic != NULL) {
        now = call_u64_hook(self, self->platform_monotonic, &ok);
    } else {
        now = clock_ms(CLOCK_MONOTONIC);
    }
    /* The core relies on a clock that never goes back (contract 5). */
    if (!ok || now < self->last_monotonic) {
        now = self->last_monotonic;
    }
    self->last_monotonic = now;
    return now;
}

static uint64_t op_wall_ms(void *ctx) {
    ClientObject *self = ctx;
    if (self->platform_wall != NULL) {
        int ok;
        uint64_t wall = call_u64_hook(self, self->platform_wall, &ok);
        return ok ? wall : 0;
    }
    return clock_ms(CLOCK_REALTIME);
}

static void op_random_bytes(void *ctx, uint8_t *out, size_t n) {
    ClientObject *self = ctx;
    if (self->platform_random != NULL) {
        PyObject *r = PyObject_CallFunction(self->platform_random, "n", (Py_ssize_t)n);
        if (r != NULL && PyBytes_Check(r) && (size_t)PyBytes_GET_SIZE(r) == n) {
            memcpy(out, PyBytes_AS_STRING(r), n);
            Py_DECREF(r);
            return;
        }
        if (r != NULL) {
            PyErr_Format(PyExc_ValueError, "platform random_bytes(%zu) returned %R, not %zu bytes", n, r, n);
            Py_DECREF(r);
        }
        absorb_callback_error(self, self->platform_random);
    }
    host_random(out, n);
}

static int op_battery_level(void *ctx) {
    ClientObject *self = ctx;
    PyObject *r = PyObject_CallNoArgs(self->battery_callback);
    if (r == NULL) {
        absorb_callback_error(self, self->battery_callback);
        return -1;
    }
    int level = -1;
    if (PyLong_Check(r) && !PyBool_Check(r)) {
        int overflow = 0;
        long v = PyLong_AsLongAndOverflow(r, &overflow);
        if (overflow == 0 && v >= -1000 && v <= 1000) {
            level = (int)v; /* the core reads negative or > 100 as unknown */
        }
    }
    Py_DECREF(r);
    return level;
}

static void op_log(void *ctx, const char *msg) {
    (void)ctx;
    /* Core diagnostics go to the "honch" logger; its records are never
     * reported back as $error (component "honch" is ignored, contract 11.5). */
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *logging = PyImport_ImportModule("logging");
    PyObject *logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "honch") : NULL;
    PyObject *r = logger ? PyObject_CallMethod(logger, "warning", "s", msg) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(logger);
    Py_XDECREF(logging);
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

/* ------------------------------------------------------------------------ */
/* Transport                                                                  */
/* ------------------------------------------------------------------------ */

static int is_timeout_error(PyObject *value) {
    if (PyObject_TypeCheck(value, (PyTypeObject *)PyExc_TimeoutError)) {
        return 1;
    }
    if (!PyObject_TypeCheck(value, (PyTypeObject *)PyExc_OSError)) {
        return 0;
    }
    PyObject *err = PyObject_GetAttrString(value, "errno");
    if (err == NULL) {
        PyErr_Clear();
        return 0;
    }
    int timeout = PyLong_Check(err) && PyLong_AsLong(err) == ETIMEDOUT;
    PyErr_Clear();
    Py_DECREF(err);
    return timeout;
}

/* errno of an OSError (0 for anything else), for last_error()'s os_error. */
static int os_error_of(PyObject *value) {
    if (!PyObject_TypeCheck(value, (PyTypeObject *)PyExc_OSError)) {
        return 0;
    }
    PyObject *err = PyObject_GetAttrString(value, "errno");
    int code = err != NULL && PyLong_Check(err) ? (int)PyLong_AsLong(err) : 0;
    Py_XDECREF(err);
    PyErr_Clear();
    return code;
}

static PyObject *transport_function(ClientObject *self) {
    if (self->transport != NULL) {
        return Py_NewRef(self->transport);
    }
    PyObject *module = PyImport_ImportModule("honch_transport");
    if (module == NULL) {
        return NULL;
    }
    PyObject *fn = PyObject_GetAttrString(module, "post_chunk");
    Py_DECREF(module);
    return fn;
}

static PyObject *request_args(const honch_request_t *req) {
    PyObject *url = NULL, *body = NULL, *headers = NULL;
    /* W3.1 URLs are ASCII; anything else was refused at construction. */
    PyObject *base = PyUnicode_DecodeUTF8(req->url_base, (Py_ssize_t)req->url_base_len, "strict");
    if (base == NULL) {
        goto fail;
    }
    url = PyUnicode_FromFormat("%U%s", base, req->url_path);
    Py_DECREF(base);
    if (url == NULL) {
        goto fail;
    }
    body = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)req->body_total);
    if (body == NULL) {
        goto fail;
    }
    char *out = PyBytes_AS_STRING(body);
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        if (req->body_len[i] > req->body_total - at) {
            break;
        }
        if (req->body_len[i] > 0) {
            memcpy(out + at, req->body[i], req->body_len[i]);
            at += req->body_len[i];
        }
    }
    if (at != req->body_total) {
        PyErr_SetString(PyExc_SystemError, "honch core: request body parts do not add up to body_total");
        goto fail;
    }
    headers = PyDict_New();
    if (headers == NULL) {
        goto fail;
    }
    for (int i = 0; i < HONCH_REQUEST_HEADERS; i++) {
        PyObject *value = PyUnicode_DecodeASCII(req->headers[i].value, (Py_ssize_t)req->headers[i].value_len, "strict");
        if (value == NULL || PyDict_SetItemString(headers, req->headers[i].name, value) < 0) {
            Py_XDECREF(value);
            goto fail;
        }
        Py_DECREF(value);
    }
    return Py_BuildValue("(NNNI)", url, body, headers, (unsigned int)req->timeout_ms);
fail:
    Py_XDECREF(url);
    Py_XDECREF(body);
    Py_XDECREF(headers);
    return NULL;
}

static void op_post(void *ctx, const honch_request_t *req, honch_response_t *resp) {
    ClientObject *self = ctx;
    resp->outcome = HONCH_POST_TRANSPORT;
    resp->retry_after = NULL;
    resp->retry_after_len = 0;
    Py_CLEAR(self->retry_after);

    PyObject *fn = transport_function(self);
    PyObject *args = fn ? request_args(req) : NULL;
    PyObject *result = args ? PyObject_CallObject(fn, args) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(fn);
    if (result == NULL) {
        PyObject *type, *value, *tb;
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            absorb_callback_error(self, NULL);
            return;
        }
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && is_timeout_error(value)) {
            resp->outcome = HONCH_POST_TIMEOUT;
        }
        resp->os_error = value != NULL ? os_error_of(value) : 0;
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return;
    }
    /* (status, retry_after), or a bare status (a transport without Retry-After):
     * anything else is an unreadable answer. */
    int pair = PyTuple_Check(result) && PyTuple_GET_SIZE(result) == 2;
    if (pair || (PyLong_Check(result) && !PyBool_Check(result))) {
        PyObject *status = pair ? PyTuple_GET_ITEM(result, 0) : result;
        PyObject *retry_after = pair ? PyTuple_GET_ITEM(result, 1) : Py_None;
        long code = -1;
        if (PyLong_Check(status) && !PyBool_Check(status)) {
            code = PyLong_AsLong(status);
            PyErr_Clear();
        }
        if (code >= 100 && code <= 599) {
            resp->outcome = HONCH_POST_HTTP;
            resp->http_status = (int)code;
            if (PyUnicode_Check(retry_after)) {
                Py_ssize_t len;
                const char *text = PyUnicode_AsUTF8AndSize(retry_after, &len);
                if (text != NULL) {
                    self->retry_after = Py_NewRef(retry_after);
                    resp->retry_after = text;
                    resp->retry_after_len = (size_t)len;
                }
                PyErr_Clear();
            } else if (PyBytes_Check(retry_after)) {
                self->retry_after = Py_NewRef(retry_after);
                resp->retry_after = PyBytes_AS_STRING(retry_after);
                resp->retry_after_len = (size_t)PyBytes_GET_SIZE(retry_after);
            }
        }
    }
    Py_DECREF(result);
}

/* ------------------------------------------------------------------------ */
/* Persistent state (host hook state_path)                                   */
/* ------------------------------------------------------------------------ */

/*
 * The file holds one "key=value" line per key; in values '%', CR, LF and NUL
 * are written %XX. It is rewritten whole through a temporary file and
 * rename(), so a crash leaves the old or the new content.
 */
#define STATE_MAX_FILE 8192

static size_t read_state_file(const char *path, char *buf, size_t cap, int *failed) {
    *failed = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno != ENOENT) {
            *failed = 1;
        }
        return 0;
    }
    size_t n = fread(buf, 1, cap, f);
    if (ferror(f) || (n == cap && fgetc(f) != EOF)) {
        *failed = 1;
    }
    fclose(f);
    return n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Find the line of key in file[0..n); value and value_len give its raw text. */
static int find_state_line(const char *file, size_t n, const char *key, size_t *line_start, size_t *line_end,
                           const char **value, size_t *value_len) {
    size_t key_len = strlen(key);
    size_t at = 0;
    while (at < n) {
        const char *nl = memchr(file + at, '\n', n - at);
        size_t end = nl ? (size_t)(nl - file) : n;
        if (end - at > key_len && memcmp(file + at, key, key_len) == 0 && file[at + key_len] == '=') {
            *line_start = at;
            *line_end = nl ? end + 1 : end;
            *value = file + at + key_len + 1;
            *value_len = end - (at + key_len + 1);
            return 1;
        }
        at = nl ? end + 1 : n;
    }
    return 0;
}

static int op_state_load(void *ctx, const char *key, char *buf, size_t cap, size_t *len) {
    ClientObject *self = ctx;
    char file[STATE_MAX_FILE];
    *len = 0;
    int failed;
    size_t n = read_state_file(PyBytes_AS_STRING(self->state_path), file, sizeof file, &failed);
    if (failed) {
        return HONCH_STATUS_IO;
    }
    size_t start, end, raw_len;
    const char *raw;
    if (!find_state_line(file, n, key, &start, &end, &raw, &raw_len)) {
        return HONCH_STATUS_OK;
    }
    size_t out = 0;
    for (size_t i = 0; i < raw_len; i++) {
        char c = raw[i];
        if (c == '%') {
            int hi = i + 2 < raw_len ? hexval(raw[i + 1]) : -1;
            int lo = i + 2 < raw_len ? hexval(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return HONCH_STATUS_IO;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (out >= cap) {
            *len = 0;
            return HONCH_STATUS_IO;
        }
        buf[out++] = c;
    }
    *len = out;
    return HONCH_STATUS_OK;
}

static int op_state_store(void *ctx, const char *key, const char *value, size_t len) {
    ClientObject *self = ctx;
    char file[STATE_MAX_FILE];
    const char *path = PyBytes_AS_STRING(self->state_path);
    int failed;
    size_t n = read_state_file(path, file, sizeof file, &failed);
    if (failed) {
        return HONCH_STATUS_IO;
    }
    size_t start = n, end = n, raw_len;
    const char *raw;
    find_state_line(file, n, key, &start, &end, &raw, &raw_len);

    char tmp[4096 + 16];
    int written = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (written < 0 || (size_t)written >= sizeof tmp) {
        return HONCH_STATUS_IO;
    }
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        return HONCH_STATUS_IO;
    }
    int ok = fwrite(file, 1, start, f) == start && fwrite(file + end, 1, n - end, f) == n - end;
    if (ok && start == end && end == n && n > 0 && file[n - 1] != '\n') {
        ok = fputc('\n', f) != EOF;
    }
    if (ok && len > 0) {
        ok = fprintf(f, "%s=", key) > 0;
        for (size_t i = 0; ok && i < len; i++) {
            unsigned char c = (unsigned char)value[i];
            ok = (c == '%' || c == '\n' || c == '\r' || c == 0) ? fprintf(f, "%%%02X", c) == 3 : fputc(c, f) != EOF;
        }
        ok = ok && fputc('\n', f) != EOF;
    }
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return HONCH_STATUS_IO;
    }
    return HONCH_STATUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Python values -> the core's writer (contract 2.3)                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    ClientObject *self;
    PyObject *obj;      /* the dict of properties/traits, or the one value */
    char detail[160];   /* why the port refused the content, "" if it did not */
} emit_ctx_t;

static int refuse(emit_ctx_t *ctx, honch_writer_t *w, const char *what, PyObject *obj) {
    if (ctx->detail[0] == '\0') {
        snprintf(ctx->detail, sizeof ctx->detail, "%s: %s", what, obj ? Py_TYPE(obj)->tp_name : "?");
    }
    return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
}

static int emit_value(emit_ctx_t *ctx, honch_writer_t *w, PyObject *v, int depth);

static int emit_str_key(emit_ctx_t *ctx, honch_writer_t *w, PyObject *key) {
    if (!PyUnicode_Check(key)) {
        return refuse(ctx, w, "keys must be str, not", key);
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(key, &len);
    if (s == NULL) {
        PyErr_Clear();
        snprintf(ctx->detail, sizeof ctx->detail, "key is not valid UTF-8 (lone surrogate)");
        return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    }
    return honch_w_key(w, s, (size_t)len);
}

/* Top-level key/value pairs of a dict (track properties, identify traits). */
static int emit_pairs(emit_ctx_t *ctx, honch_writer_t *w, PyObject *dict) {
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        int st = emit_str_key(ctx, w, key);
        if (st == HONCH_STATUS_OK) {
            st = emit_value(ctx, w, value, 0);
        }
        if (st != HONCH_STATUS_OK) {
            return st;
        }
    }
    return HONCH_STATUS_OK;
}

static int emit_value(emit_ctx_t *ctx, honch_writer_t *w, PyObject *v, int depth) {
    /* The writer refuses the 9th nested container; this bound only guards the C stack. */
    if (depth > HONCH_MAX_NESTING + 1) {
        return refuse(ctx, w, "containers nested too deep", v);
    }
    if (v == Py_None) {
        return honch_w_null(w);
    }
    if (PyBool_Check(v)) {
        return honch_w_bool(w, v == Py_True);
    }
    if (PyLong_Check(v)) {
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow == 0) {
            if (n == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                return refuse(ctx, w, "unreadable int", v);
            }
            return honch_w_int(w, (int64_t)n);
        }
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(v);
            if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
                return honch_w_uint(w, (uint64_t)u);
            }
            PyErr_Clear();
        }
        snprintf(ctx->detail, sizeof ctx->detail, "int outside -2**63 .. 2**64-1");
        return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    }
    if (PyFloat_Check(v)) {
        return honch_w_f64(w, PyFloat_AS_DOUBLE(v));
    }
    if (PyUnicode_Check(v)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(v, &len);
        if (s == NULL) {
            PyErr_Clear();
            snprintf(ctx->detail, sizeof ctx->detail, "str is not valid UTF-8 (lone surrogate)");
            return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        }
        return honch_w_str(w, s, (size_t)len);
    }
    if (PyBytes_Check(v)) {
        return honch_w_bytes(w, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
    }
    if (PyByteArray_Check(v)) {
        return honch_w_bytes(w, PyByteArray_AS_STRING(v), (size_t)PyByteArray_GET_SIZE(v));
    }
    if (PyList_Check(v) || PyTuple_Check(v)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        int st = honch_w_begin_array(w, (size_t)n);
        for (Py_ssize_t i = 0; st == HONCH_STATUS_OK && i < n; i++) {
            /* Re-read the size: nothing runs Python code here, but stay in bounds regardless. */
            if (i >= PySequence_Fast_GET_SIZE(v)) {
                return refuse(ctx, w, "sequence changed size while being read", v);
            }
            st = emit_value(ctx, w, PySequence_Fast_GET_ITEM(v, i), depth + 1);
        }
        return st == HONCH_STATUS_OK ? honch_w_end(w) : st;
    }
    if (PyDict_Check(v)) {
        int st = honch_w_begin_map(w, (size_t)PyDict_GET_SIZE(v));
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (st == HONCH_STATUS_OK && PyDict_Next(v, &pos, &key, &value)) {
            st = emit_str_key(ctx, w, key);
            if (st == HONCH_STATUS_OK) {
                st = emit_value(ctx, w, value, depth + 1);
            }
        }
        return st == HONCH_STATUS_OK ? honch_w_end(w) : st;
    }
    return refuse(ctx, w, "unsupported value type", v);
}

static int emit_props_fn(void *c, honch_writer_t *w) {
    emit_ctx_t *ctx = c;
    return emit_pairs(ctx, w, ctx->obj);
}

static int emit_one_value_fn(void *c, honch_writer_t *w) {
    emit_ctx_t *ctx = c;
    return emit_value(ctx, w, ctx->obj, 0);
}

/* auto_properties_callback: called once per event (measuring pass), its dict
 * reused for the writing pass. */
static int op_auto_properties(void *c, honch_writer_t *w) {
    ClientObject *self = c;
    if (honch_w_measuring(w) || self->auto_properties_cache == NULL) {
        Py_CLEAR(self->auto_properties_cache);
        PyObject *r = PyObject_CallNoArgs(self->auto_properties_callback);
        if (r == NULL) {
            absorb_callback_error(self, self->auto_properties_callback);
            return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        }
        if (r != Py_None && !PyDict_Check(r)) {
            PyErr_Format(PyExc_TypeError, "auto_properties_callback returned %R, not a dict or None", r);
            Py_DECREF(r);
            absorb_callback_error(self, self->auto_properties_callback);
            return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        }
        self->auto_properties_cache = r;
    }
    PyObject *dict = self->auto_properties_cache;
    int st = HONCH_STATUS_OK;
    if (dict != Py_None) {
        emit_ctx_t ctx = {self, dict, ""};
        Py_INCREF(dict);
        st = emit_pairs(&ctx, w, dict);
        Py_DECREF(dict);
    }
    if (!honch_w_measuring(w)) {
        Py_CLEAR(self->auto_properties_cache);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Client: construction                                                       */
/* ------------------------------------------------------------------------ */

static const char *const NUMERIC_KEYS[] = {
    "batch_size", "max_queued_events", "max_event_bytes", "transport_timeout_ms",
    "flush_interval_seconds", "flush_min_interval_ms", "flush_event_threshold",
    "flush_max_batches", "flush_retry_initial_ms", "flush_retry_max_ms",
    "battery_low_threshold",
};
#define N_NUMERIC (sizeof NUMERIC_KEYS / sizeof NUMERIC_KEYS[0])

static const char *const STRING_KEYS[] = {
    "api_key", "device_id", "device_model", "firmware_version", "endpoint_url", "environment", "reset_reason",
};
#define N_STRING (sizeof STRING_KEYS / sizeof STRING_KEYS[0])

static const char *const OBJECT_KEYS[] = {
    "event_buffer", "platform", "transport", "battery_callback", "auto_properties_callback",
    "state_path", "crash_report",
};
#define N_OBJECT (sizeof OBJECT_KEYS / sizeof OBJECT_KEYS[0])

static int key_in(PyObject *key, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Error(1, detail) with a formatted detail. */
static PyObject *invalid(const char *fmt, ...) {
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return raise_status(HONCH_STATUS_INVALID_ARGUMENT, detail);
}

/* A UTF-8 view of a str value kept alive in self->keepalive; -1 on error (raised). */
static int borrow_str(ClientObject *self, PyObject *value, const char *what, honch_str_t *out) {
    if (!PyUnicode_Check(value)) {
        invalid("%s must be a str, not %s", what, Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(value, &len);
    if (s == NULL) {
        PyErr_Clear();
        invalid("%s is not valid UTF-8", what);
        return -1;
    }
    if (self != NULL && PyList_Append(self->keepalive, value) < 0) {
        return -1;
    }
    out->ptr = s;
    out->len = (size_t)len;
    return 0;
}

/* dict -> honch_crash_report_t; the strings stay owned by the dict. */
static int crash_report_from_dict(PyObject *dict, honch_crash_report_t *report) {
    memset(report, 0, sizeof *report);
    if (!PyDict_Check(dict)) {
        invalid("crash report must be a dict, not %s", Py_TYPE(dict)->tp_name);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            invalid("crash report keys must be str, not %s", Py_TYPE(key)->tp_name);
            return -1;
        }
        Py_ssize_t klen;
        const char *k = PyUnicode_AsUTF8AndSize(key, &klen);
        if (k == NULL) {
            PyErr_Clear();
            invalid("crash report key is not valid UTF-8");
            return -1;
        }
        if (value == Py_None) {
            continue;
        }
        honch_str_t *field = honch_crash_report_field(report, k, (size_t)klen);
        if (field != NULL) {
            if (borrow_str(NULL, value, k, field) < 0) {
                return -1;
            }
        } else if (strcmp(k, "summary_version") == 0) {
            if (!PyLong_Check(value) || PyBool_Check(value)) {
                invalid("crash report summary_version must be an int");
                return -1;
            }
            report->summary_version = PyLong_AsUnsignedLongLong(value);
            if (report->summary_version == (uint64_t)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                invalid("crash report summary_version must lie within 0..2**64-1");
                return -1;
            }
        } else if (strcmp(k, "coredump_available") == 0) {
            if (!PyBool_Check(value)) {
                invalid("crash report coredump_available must be a bool");
                return -1;
            }
            report->coredump_available = value == Py_True;
        } else {
            invalid("unknown crash report field %.60s", k);
            return -1;
        }
    }
    return 0;
}

static PyObject *platform_method(PyObject *platform, const char *name) {
    PyObject *m = PyObject_GetAttrString(platform, name);
    if (m == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
        }
        return NULL;
    }
    if (!PyCallable_Check(m)) {
        Py_DECREF(m);
        invalid("platform.%s must be callable", name);
        return NULL;
    }
    return m;
}

static int store_callable(PyObject *value, const char *name, PyObject **slot) {
    if (value == Py_None) {
        return 0;
    }
    if (!PyCallable_Check(value)) {
        invalid("%s must be callable, not %s", name, Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

static void release_event_buffer(ClientObject *self) {
    if (self->have_event_buffer) {
        self->have_event_buffer = 0;
        PyBuffer_Release(&self->event_buffer);
    }
}

static int client_configure(ClientObject *self, PyObject *config);

static int Client_init(ClientObject *self, PyObject *args, PyObject *kwds) {
    PyObject *config;
    static char *kwlist[] = {"config", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Client", kwlist, &config)) {
        return -1;
    }
    if (self->keepalive != NULL) {
        invalid("Client is already initialized");
        return -1;
    }
    if (!PyDict_Check(config)) {
        invalid("config must be a dict, not %s", Py_TYPE(config)->tp_name);
        return -1;
    }
    self->keepalive = PyList_New(0);
    if (self->keepalive == NULL) {
        return -1;
    }
    if (client_configure(self, config) < 0) {
        /* A failed honch_init leaves the client closed; nothing may stay borrowed. */
        memset(&self->client, 0, sizeof self->client);
        release_event_buffer(self);
        return -1;
    }
    return 0;
}

/* Validate config into a honch_config_t and run honch_init; -1 with an error raised. */
static int client_configure(ClientObject *self, PyObject *config) {

    honch_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    honch_crash_report_t crash;
    const honch_crash_report_t *crash_ptr = NULL;

    /* Every key known, every value typed. */
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(config, &pos, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            invalid("config keys must be str, not %s", Py_TYPE(key)->tp_name);
            return -1;
        }
        if (!key_in(key, NUMERIC_KEYS, N_NUMERIC) && !key_in(key, STRING_KEYS, N_STRING)
            && !key_in(key, OBJECT_KEYS, N_OBJECT)) {
            const char *name = PyUnicode_AsUTF8(key);
            PyErr_Clear();
            invalid("unknown configuration key '%.60s'", name ? name : "?");
            return -1;
        }
    }

    honch_str_t *string_slots[N_STRING] = {
        &cfg.api_key, &cfg.device_id, &cfg.device_model, &cfg.firmware_version,
        &cfg.endpoint_url, &cfg.environment, &cfg.reset_reason,
    };
    for (size_t i = 0; i < N_STRING; i++) {
        PyObject *v = PyDict_GetItemString(config, STRING_KEYS[i]);
        if (v == NULL || v == Py_None) {
            if (i < 4) {
                invalid("%s is required", STRING_KEYS[i]);
                return -1;
            }
            continue;
        }
        if (borrow_str(self, v, STRING_KEYS[i], string_slots[i]) < 0) {
            return -1;
        }
    }
    cfg.sdk_platform.ptr = HONCH_SDK_PLATFORM_HOST;
    cfg.sdk_platform.len = strlen(HONCH_SDK_PLATFORM_HOST);

    uint32_t *numeric_slots[N_NUMERIC] = {
        &cfg.batch_size, &cfg.max_queued_events, &cfg.max_event_bytes, &cfg.transport_timeout_ms,
        &cfg.flush_interval_seconds, &cfg.flush_min_interval_ms, &cfg.flush_event_threshold,
        &cfg.flush_max_batches, &cfg.flush_retry_initial_ms, &cfg.flush_retry_max_ms,
        &cfg.battery_low_threshold,
    };
    for (size_t i = 0; i < N_NUMERIC; i++) {
        PyObject *v = PyDict_GetItemString(config, NUMERIC_KEYS[i]);
        if (v == NULL || v == Py_None) {
            continue;
        }
        if (!PyLong_Check(v) || PyBool_Check(v)) {
            invalid("%s must be an int or None, not %s", NUMERIC_KEYS[i], Py_TYPE(v)->tp_name);
            return -1;
        }
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow != 0 || n < 0 || n > (long long)HONCH_U32_MAX) {
            PyErr_Clear();
            invalid("%s must lie within 0..0xFFFFFFFF", NUMERIC_KEYS[i]);
            return -1;
        }
        *numeric_slots[i] = (uint32_t)n;
    }

    PyObject *buffer = PyDict_GetItemString(config, "event_buffer");
    if (buffer == NULL || buffer == Py_None) {
        invalid("event_buffer is required");
        return -1;
    }
    if (PyObject_GetBuffer(buffer, &self->event_buffer, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        invalid("event_buffer must be a writable contiguous buffer (bytearray, writable memoryview), not %s",
                Py_TYPE(buffer)->tp_name);
        return -1;
    }
    self->have_event_buffer = 1;
    cfg.event_buffer = self->event_buffer.buf;
    cfg.event_buffer_len = (size_t)self->event_buffer.len;

    self->ops.ctx = self;
    self->ops.monotonic_ms = op_monotonic_ms;
    self->ops.wall_ms = op_wall_ms;
    self->ops.random_bytes = op_random_bytes;
    self->ops.post = op_post;
    self->ops.log = op_log;

    PyObject *platform = PyDict_GetItemString(config, "platform");
    if (platform != NULL && platform != Py_None) {
        self->platform_monotonic = platform_method(platform, "monotonic_ms");
        if (PyErr_Occurred()) return -1;
        self->platform_wall = platform_method(platform, "wall_ms");
        if (PyErr_Occurred()) return -1;
        self->platform_random = platform_method(platform, "random_bytes");
        if (PyErr_Occurred()) return -1;
    }
    PyObject *v;
    if ((v = PyDict_GetItemString(config, "transport")) != NULL
        && store_callable(v, "transport", &self->transport) < 0) {
        return -1;
    }
    if ((v = PyDict_GetItemString(config, "battery_callback")) != NULL
        && store_callable(v, "battery_callback", &self->battery_callback) < 0) {
        return -1;
    }
    if (self->battery_callback != NULL) {
        self->ops.battery_level = op_battery_level;
    }
    if ((v = PyDict_GetItemString(config, "auto_properties_callback")) != NULL
        && store_callable(v, "auto_properties_callback", &self->auto_properties_callback) < 0) {
        return -1;
    }
    if (self->auto_properties_callback != NULL) {
        self->ops.auto_properties = op_auto_properties;
    }
    if ((v = PyDict_GetItemString(config, "state_path")) != NULL && v != Py_None) {
        if (!PyUnicode_FSConverter(v, &self->state_path)) {
            PyErr_Clear();
            invalid("state_path must be a str or path, not %s", Py_TYPE(v)->tp_name);
            return -1;
        }
        if ((size_t)PyBytes_GET_SIZE(self->state_path) > 4000 || strlen(PyBytes_AS_STRING(self->state_path)) == 0) {
            invalid("state_path must be a non-empty path of at most 4000 bytes");
            return -1;
        }
        self->ops.state_load = op_state_load;
        self->ops.state_store = op_state_store;
    }
    if ((v = PyDict_GetItemString(config, "crash_report")) != NULL && v != Py_None) {
        if (crash_report_from_dict(v, &crash) < 0) {
            return -1;
        }
        crash_ptr = &crash;
    }
    cfg.crash_report = crash_ptr;
    cfg.platform = &self->ops;

    int status = honch_init(&self->client, &cfg);
    if (self->deferred_exc != NULL) {
        finish_call(self, NULL);
        return -1;
    }
    if (status != HONCH_STATUS_OK) {
        raise_status(status, NULL);
        return -1;
    }
    return 0;
}

static int Client_traverse(ClientObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->keepalive);
    Py_VISIT(self->platform_monotonic);
    Py_VISIT(self->platform_wall);
    Py_VISIT(self->platform_random);
    Py_VISIT(self->transport);
    Py_VISIT(self->battery_callback);
    Py_VISIT(self->auto_properties_callback);
    Py_VISIT(self->auto_properties_cache);
    Py_VISIT(self->retry_after);
    Py_VISIT(self->deferred_exc);
    Py_VISIT(self->deferred_val);
    Py_VISIT(self->deferred_tb);
    if (self->have_event_buffer) {
        Py_VISIT(self->event_buffer.obj);
    }
    return 0;
}

static int Client_clear(ClientObject *self) {
    /* Unreachable: the core is never called again, so its buffer can go. */
    memset(&self->client, 0, sizeof self->client);
    release_event_buffer(self);
    Py_CLEAR(self->platform_monotonic);
    Py_CLEAR(self->platform_wall);
    Py_CLEAR(self->platform_random);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->battery_callback);
    Py_CLEAR(self->auto_properties_callback);
    Py_CLEAR(self->auto_properties_cache);
    Py_CLEAR(self->deferred_exc);
    Py_CLEAR(self->deferred_val);
    Py_CLEAR(self->deferred_tb);
    return 0;
}

static void Client_dealloc(ClientObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    /* The core points into these; it is never called again once they go. */
    memset(&self->client, 0, sizeof self->client);
    release_event_buffer(self);
    Client_clear(self);
    Py_CLEAR(self->keepalive);
    Py_CLEAR(self->retry_after);
    Py_CLEAR(self->state_path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ------------------------------------------------------------------------ */
/* Client: methods                                                            */
/* ------------------------------------------------------------------------ */

/* A method raised: a core error becomes the client's last_error (honch_note_error). */
static void note_raised(ClientObject *self) {
    if (!PyErr_ExceptionMatches(HonchCoreError)) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *status = value ? PyObject_GetAttrString(value, "status") : NULL;
    PyObject *detail = value ? PyObject_GetAttrString(value, "detail") : NULL;
    const char *text = NULL;
    Py_ssize_t len = 0;
    if (detail != NULL && PyUnicode_Check(detail)) {
        text = PyUnicode_AsUTF8AndSize(detail, &len);
    }
    if (status != NULL && PyLong_Check(status)) {
        honch_note_error(&self->client, (int)PyLong_AsLong(status), text, (size_t)len);
    }
    PyErr_Clear();
    Py_XDECREF(status);
    Py_XDECREF(detail);
    PyErr_Restore(type, value, tb);
}

/* METH_* functions that note their core errors (see note_raised). */
#define NOTED(name)                                                        \
    static PyObject *name##_noted(ClientObject *self, PyObject *arg) {     \
        PyObject *result = name(self, arg);                                \
        if (result == NULL) {                                              \
            note_raised(self);                                             \
        }                                                                  \
        return result;                                                     \
    }

/* str argument -> UTF-8; NULL (with Error(1) raised) otherwise. */
static const char *utf8_arg(PyObject *obj, const char *what, Py_ssize_t *len) {
    if (!PyUnicode_Check(obj)) {
        invalid("%s must be a str, not %s", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    const char *s = PyUnicode_AsUTF8AndSize(obj, len);
    if (s == NULL) {
        PyErr_Clear();
        invalid("%s is not valid UTF-8 (lone surrogate)", what);
    }
    return s;
}

/* honch_track and honch_identify: a string, then an optional dict walked by the writer. */
typedef int (*str_and_dict_call_t)(honch_client_t *, const char *, size_t, honch_emit_fn, void *);

static PyObject *call_with_str_and_dict(ClientObject *self, str_and_dict_call_t call, PyObject *str,
                                        const char *str_what, PyObject *dict, const char *dict_what) {
    Py_ssize_t len;
    const char *s = utf8_arg(str, str_what, &len);
    if (s == NULL) {
        return NULL;
    }
    if (dict != Py_None && !PyDict_Check(dict)) {
        return invalid("%s must be a dict or None, not %s", dict_what, Py_TYPE(dict)->tp_name);
    }
    emit_ctx_t ctx = {self, dict, ""};
    Py_INCREF(dict);
    int st = call(&self->client, s, (size_t)len, dict == Py_None ? NULL : emit_props_fn, &ctx);
    Py_DECREF(dict);
    return status_result(self, st, ctx.detail[0] ? ctx.detail : NULL);
}

static PyObject *Client_track(ClientObject *self, PyObject *args) {
    PyObject *name, *props = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:track", &name, &props)) {
        return NULL;
    }
    return call_with_str_and_dict(self, honch_track, name, "name", props, "properties");
}

static PyObject *Client_identify(ClientObject *self, PyObject *args) {
    PyObject *id, *traits = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:identify", &id, &traits)) {
        return NULL;
    }
    return call_with_str_and_dict(self, honch_identify, id, "distinct_id", traits, "traits");
}

static PyObject *Client_set_property(ClientObject *self, PyObject *args) {
    PyObject *key, *value;
    if (!PyArg_ParseTuple(args, "OO:set_property", &key, &value)) {
        return NULL;
    }
    Py_ssize_t key_len;
    const char *key_s = utf8_arg(key, "key", &key_len);
    if (key_s == NULL) {
        return NULL;
    }
    emit_ctx_t ctx = {self, value, ""};
    Py_INCREF(value);
    int st = honch_set_property(&self->client, key_s, (size_t)key_len, emit_one_value_fn, &ctx);
    Py_DECREF(value);
    return status_result(self, st, ctx.detail[0] ? ctx.detail : NULL);
}

static PyObject *Client_session_start(ClientObject *self, PyObject *args) {
    PyObject *name = Py_None;
    if (!PyArg_ParseTuple(args, "|O:session_start", &name)) {
        return NULL;
    }
    const char *name_s = NULL;
    Py_ssize_t name_len = 0;
    if (name != Py_None && (name_s = utf8_arg(name, "name", &name_len)) == NULL) {
        return NULL;
    }
    return status_result(self, honch_session_start(&self->client, name_s, (size_t)name_len), NULL);
}

static PyObject *Client_session_end(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    return status_result(self, honch_session_end(&self->client), NULL);
}

/* report_log_error(component, message): the published wrapper's argument order. */
static PyObject *Client_report_log_error(ClientObject *self, PyObject *args) {
    PyObject *message, *component;
    if (!PyArg_ParseTuple(args, "OO:report_log_error", &component, &message)) {
        return NULL;
    }
    Py_ssize_t message_len, component_len = 0;
    const char *message_s = utf8_arg(message, "message", &message_len);
    if (message_s == NULL) {
        return NULL;
    }
    const char *component_s = NULL;
    if (component != Py_None && (component_s = utf8_arg(component, "component", &component_len)) == NULL) {
        return NULL;
    }
    int st = honch_report_log_error(&self->client, message_s, (size_t)message_len, component_s, (size_t)component_len);
    return status_result(self, st, NULL);
}

static PyObject *Client_report_crash(ClientObject *self, PyObject *props) {
    honch_crash_report_t report;
    if (crash_report_from_dict(props, &report) < 0) {
        return NULL;
    }
    Py_INCREF(props); /* the report points into its strings */
    int st = honch_report_crash(&self->client, &report);
    Py_DECREF(props);
    return status_result(self, st, NULL);
}

static PyObject *Client_connectivity_changed(ClientObject *self, PyObject *state) {
    if (!PyBool_Check(state)) {
        return invalid("state must be a bool, not %s", Py_TYPE(state)->tp_name);
    }
    return status_result(self, honch_connectivity_changed(&self->client, state == Py_True), NULL);
}

/* tick/flush/shutdown([online]): the published wrapper checks connectivity itself
 * and calls them without arguments (online); a wrapper may pass its decision. */
static int online_arg(PyObject *args, const char *format, bool *online) {
    PyObject *arg = Py_True;
    if (!PyArg_ParseTuple(args, format, &arg)) {
        return -1;
    }
    int truth = PyObject_IsTrue(arg);
    if (truth < 0) {
        return -1;
    }
    *online = truth != 0;
    return 0;
}

static PyObject *Client_tick(ClientObject *self, PyObject *args) {
    bool online;
    if (online_arg(args, "|O:tick", &online) < 0) {
        return NULL;
    }
    return status_result(self, honch_tick(&self->client, online), NULL);
}

static PyObject *Client_flush(ClientObject *self, PyObject *args) {
    bool online;
    if (online_arg(args, "|O:flush", &online) < 0) {
        return NULL;
    }
    return status_result(self, honch_flush(&self->client, online), NULL);
}

static PyObject *Client_shutdown(ClientObject *self, PyObject *args) {
    bool online;
    if (online_arg(args, "|O:shutdown", &online) < 0) {
        return NULL;
    }
    int st = honch_shutdown(&self->client, online);
    honch_scheduler_state_t state;
    if (honch_scheduler_state(&self->client, &state) != HONCH_STATUS_OK || state.closed) {
        /* Closed (contract 7.4 step 4): the buffer goes back to its owner. */
        release_event_buffer(self);
        Py_CLEAR(self->retry_after);
    }
    return status_result(self, st, NULL);
}

static PyObject *Client_reset(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    return status_result(self, honch_reset(&self->client), NULL);
}

static PyObject *Client_get_device_id(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    const char *id;
    size_t len;
    int st = honch_get_device_id(&self->client, &id, &len);
    if (st != HONCH_STATUS_OK) {
        return raise_status(st, NULL);
    }
    return PyUnicode_DecodeUTF8(id, (Py_ssize_t)len, "strict");
}

static PyObject *Client_queue_stats(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    honch_queue_stats_t s;
    int st = honch_queue_stats(&self->client, &s);
    if (st != HONCH_STATUS_OK) {
        return raise_status(st, NULL);
    }
    return Py_BuildValue("{sKsKsKsKsKsKsKsKsK}",
                         "queued_events", (unsigned long long)s.queued_events,
                         "queued_bytes", (unsigned long long)s.queued_bytes,
                         "buffer_bytes", (unsigned long long)s.buffer_bytes,
                         "high_water_events", (unsigned long long)s.high_water_events,
                         "high_water_bytes", (unsigned long long)s.high_water_bytes,
                         "capacity_dropped_events", (unsigned long long)s.capacity_dropped_events,
                         "oversized_rejected_events", (unsigned long long)s.oversized_rejected_events,
                         "enqueue_failures", (unsigned long long)s.enqueue_failures,
                         "dead_lettered_events", (unsigned long long)s.dead_lettered_events);
}

static PyObject *Client_stream_id(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(honch_stream_id(&self->client));
}

static PyObject *int_or_none(int value) {
    return value ? PyLong_FromLong(value) : Py_NewRef(Py_None);
}

/* last_error() -> {status, reason, http, os_error, message, component} (honch-micropython 0.3.1). */
static PyObject *Client_last_error(ClientObject *self, PyObject *Py_UNUSED(ignored)) {
    honch_last_error_t e;
    int st = honch_last_error(&self->client, &e);
    if (st != HONCH_STATUS_OK) {
        return raise_status(st, NULL);
    }
    return Py_BuildValue("{sssssNsNszsz}", "status", honch_status_text(e.status), "reason", e.reason,
                         "http", int_or_none(e.http_status), "os_error", int_or_none(e.os_error),
                         "message", e.status ? e.message : NULL, "component", e.component);
}

NOTED(Client_track)
NOTED(Client_identify)
NOTED(Client_set_property)
NOTED(Client_session_start)
NOTED(Client_session_end)
NOTED(Client_report_log_error)
NOTED(Client_report_crash)
NOTED(Client_connectivity_changed)
NOTED(Client_tick)
NOTED(Client_flush)
NOTED(Client_reset)
NOTED(Client_shutdown)
NOTED(Client_get_device_id)
NOTED(Client_queue_stats)

/* The published wrapper's interface (honch-micropython 0.3.1, honch/client.py), plus stream_id. */
static PyMethodDef Client_methods[] = {
    {"track", (PyCFunction)Client_track_noted, METH_VARARGS, "track(name, properties=None): queue an event."},
    {"identify", (PyCFunction)Client_identify_noted, METH_VARARGS, "identify(distinct_id, traits=None)."},
    {"set_property", (PyCFunction)Client_set_property_noted, METH_VARARGS, "set_property(key, value)."},
    {"session_start", (PyCFunction)Client_session_start_noted, METH_VARARGS, "session_start(name=None)."},
    {"session_end", (PyCFunction)Client_session_end_noted, METH_NOARGS, "session_end()."},
    {"report_log_error", (PyCFunction)Client_report_log_error_noted, METH_VARARGS,
     "report_log_error(component, message): coalesced $error; component may be None."},
    {"report_crash", (PyCFunction)Client_report_crash_noted, METH_O,
     "report_crash(report: dict): queue $crash ({message, type, backtrace} or the fields of contract 11.4)."},
    {"connectivity_changed", (PyCFunction)Client_connectivity_changed_noted, METH_O,
     "connectivity_changed(connected: bool)."},
    {"tick", (PyCFunction)Client_tick_noted, METH_VARARGS, "tick(online=True)."},
    {"flush", (PyCFunction)Client_flush_noted, METH_VARARGS, "flush(online=True)."},
    {"reset", (PyCFunction)Client_reset_noted, METH_NOARGS, "reset()."},
    {"shutdown", (PyCFunction)Client_shutdown_noted, METH_VARARGS, "shutdown(online=True)."},
    {"get_device_id", (PyCFunction)Client_get_device_id_noted, METH_NOARGS, "get_device_id() -> str."},
    {"queue_stats", (PyCFunction)Client_queue_stats_noted, METH_NOARGS, "queue_stats() -> dict."},
    {"last_error", (PyCFunction)Client_last_error, METH_NOARGS,
     "last_error() -> {status, reason, http, os_error, message, component}: the most recent failure."},
    {"stream_id", (PyCFunction)Client_stream_id, METH_NOARGS, "stream_id() -> str (8 lowercase hex)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_honch_core.Client",
    .tp_doc = "Client(config: dict): one Honch core client (docs/architecture.md).",
    .tp_basicsize = sizeof(ClientObject),
    .tp_weaklistoffset = offsetof(ClientObject, weakreflist),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Client_init,
    .tp_dealloc = (destructor)Client_dealloc,
    .tp_traverse = (traverseproc)Client_traverse,
    .tp_clear = (inquiry)Client_clear,
    .tp_methods = Client_methods,
};

/* ------------------------------------------------------------------------ */
/* Module                                                                     */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int value;
} STATUS_CONSTANTS[] = {
    {"ERROR_OK", HONCH_STATUS_OK},
    {"ERROR_INVALID_ARGUMENT", HONCH_STATUS_INVALID_ARGUMENT},
    {"ERROR_OUT_OF_MEMORY", HONCH_STATUS_OUT_OF_MEMORY},
    {"ERROR_IO", HONCH_STATUS_IO},
    {"ERROR_TRANSPORT", HONCH_STATUS_TRANSPORT},
    {"ERROR_RATE_LIMITED", HONCH_STATUS_RATE_LIMITED},
    {"ERROR_SERVER", HONCH_STATUS_SERVER},
    {"ERROR_REJECTED", HONCH_STATUS_REJECTED},
    {"ERROR_NOT_INITIALIZED", HONCH_STATUS_NOT_INITIALIZED},
    {"ERROR_ALREADY_INITIALIZED", HONCH_STATUS_ALREADY_INITIALIZED},
    {"ERROR_QUEUE_FULL", HONCH_STATUS_QUEUE_FULL},
    {"ERROR_TIMEOUT", HONCH_STATUS_TIMEOUT},
    {"ERROR_INTERNAL", HONCH_STATUS_INTERNAL},
    {"ERROR_BUSY", HONCH_STATUS_BUSY},
    {"ERROR_NOT_SUPPORTED", HONCH_STATUS_NOT_SUPPORTED},
    {"ERROR_OFFLINE", HONCH_STATUS_OFFLINE},
};

static struct PyModuleDef honch_core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_honch_core",
    .m_doc = "The Honch C core for CPython (host port).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__honch_core(void) {
    if (PyType_Ready(&ClientType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&honch_core_module);
    if (m == NULL) {
        return NULL;
    }
    HonchCoreError = PyErr_NewExceptionWithDoc("_honch_core.Error",
                                               "A core status other than OK: str() is the status text; .status and .detail.", NULL, NULL);
    if (HonchCoreError == NULL || PyModule_AddObjectRef(m, "Error", HonchCoreError) < 0
        || PyModule_AddObjectRef(m, "Client", (PyObject *)&ClientType) < 0
        || PyModule_AddStringConstant(m, "SDK_VERSION", honch_sdk_version()) < 0
        || PyModule_AddStringConstant(m, "__version__", honch_sdk_version()) < 0
        || PyModule_AddStringConstant(m, "PLATFORM", HONCH_SDK_PLATFORM_HOST) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    for (size_t i = 0; i < sizeof STATUS_CONSTANTS / sizeof STATUS_CONSTANTS[0]; i++) {
        if (PyModule_AddIntConstant(m, STATUS_CONSTANTS[i].name, STATUS_CONSTANTS[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
