/* The fake platform and test helpers (see fake.h). */
#include "fake.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

fake_t fk;
fake_request_t fake_requests[FAKE_MAX_REQUESTS];

static uint64_t f_mono(void *ctx) { return ((fake_t *)ctx)->now; }
static uint64_t f_wall(void *ctx) { return ((fake_t *)ctx)->wall; }

static void f_random(void *ctx, uint8_t *out, size_t n) {
    fake_t *f = ctx;
    for (size_t i = 0; i < n; i++) out[i] = f->random_next++;
}

static void copy_text(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

static void f_post(void *ctx, const honch_request_t *req, honch_response_t *resp) {
    fake_t *f = ctx;
    fake_request_t *r = &fake_requests[f->nreq % FAKE_MAX_REQUESTS];
    r->len = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(r->len + req->body_len[i] <= sizeof r->body);
        if (req->body_len[i]) memcpy(r->body + r->len, req->body[i], req->body_len[i]);
        r->len += req->body_len[i];
    }
    CHECK_EQ(r->len, req->body_total);
    copy_text(r->url, sizeof r->url, req->url_base, req->url_base_len);
    strcat(r->url, req->url_path);
    CHECK_STR(req->headers[0].name, "Content-Type");
    CHECK_STR(req->headers[1].name, "X-Honch-Project-Key");
    CHECK_STR(req->headers[2].name, "X-Honch-Stream-Id");
    copy_text(r->content_type, sizeof r->content_type, req->headers[0].value, req->headers[0].value_len);
    copy_text(r->project_key, sizeof r->project_key, req->headers[1].value, req->headers[1].value_len);
    copy_text(r->stream_id, sizeof r->stream_id, req->headers[2].value, req->headers[2].value_len);
    r->timeout_ms = req->timeout_ms;
    r->at = f->now;
    f->nreq++;
    if (f->on_post) f->on_post(f);
    if (f->iscript < f->nscript) {
        const fake_answer_t *a = &f->script[f->iscript++];
        resp->outcome = a->outcome;
        resp->http_status = a->status;
        if (a->retry_after) {
            resp->retry_after = a->retry_after;
            resp->retry_after_len = strlen(a->retry_after);
        }
        return;
    }
    resp->outcome = HONCH_POST_HTTP;
    resp->http_status = (r->body[0] & 0x40) ? 202 : 204;
}

static int f_battery(void *ctx) {
    fake_t *f = ctx;
    f->battery_calls++;
    return f->battery;
}

static int f_load(void *ctx, const char *key, char *buf, size_t cap, size_t *len) {
    fake_t *f = ctx;
    const char *v = strcmp(key, "firmware_version") == 0 ? f->fw : f->distinct;
    size_t n = strcmp(key, "firmware_version") == 0 ? f->fw_len : f->distinct_len;
    if (n > cap) return HONCH_STATUS_IO;
    memcpy(buf, v, n);
    *len = n;
    return HONCH_STATUS_OK;
}

static int f_store(void *ctx, const char *key, const char *value, size_t len) {
    fake_t *f = ctx;
    if (f->store_fails) return HONCH_STATUS_IO;
    if (strcmp(key, "firmware_version") == 0) {
        memcpy(f->fw, value, len);
        f->fw_len = len;
    } else {
        memcpy(f->distinct, value, len);
        f->distinct_len = len;
    }
    return HONCH_STATUS_OK;
}

static int f_auto(void *ctx, honch_writer_t *w) {
    fake_t *f = ctx;
    return f->auto_props ? f->auto_props(ctx, w) : HONCH_STATUS_OK;
}

static void f_log(void *ctx, const char *msg) { copy_text(((fake_t *)ctx)->log, 256, msg, strlen(msg)); }

void fake_reset(void) {
    fake_dump_bodies(); /* the previous client's requests, for the strict decode in pytest */
    memset(&fk, 0, sizeof fk);
    fk.now = 1000;
    fk.plat.ctx = &fk;
    fk.plat.monotonic_ms = f_mono;
    fk.plat.wall_ms = f_wall;
    fk.plat.random_bytes = f_random;
    fk.plat.post = f_post;
    fk.plat.log = f_log;
}

honch_config_t fake_config(uint8_t *buf, size_t len) {
    honch_config_t c;
    memset(&c, 0, sizeof c);
#define S(field, text) (c.field.ptr = (text), c.field.len = strlen(text))
    S(api_key, "test-project-key");
    S(device_id, "device-1");
    S(device_model, "model-x");
    S(firmware_version, "1.0.0");
    S(sdk_platform, "posix");
    S(endpoint_url, "http://127.0.0.1:8001/");
#undef S
    c.event_buffer = buf;
    c.event_buffer_len = len;
    if (fk.has_battery) fk.plat.battery_level = f_battery;
    if (fk.has_state) {
        fk.plat.state_load = f_load;
        fk.plat.state_store = f_store;
    }
    if (fk.auto_props) fk.plat.auto_properties = f_auto;
    c.platform = &fk.plat;
    return c;
}

void fake_answer(int status, const char *retry_after) {
    fake_answer_t a = {HONCH_POST_HTTP, status, retry_after};
    fk.script[fk.nscript++] = a;
}

void fake_fail(int outcome) {
    fake_answer_t a = {outcome, 0, NULL};
    fk.script[fk.nscript++] = a;
}

const uint8_t *test_uvarint(const uint8_t *p, uint64_t *v) {
    uint64_t r = 0;
    unsigned s = 0;
    do {
        r |= (uint64_t)(*p & 0x7F) << s;
        s += 7;
    } while (*p++ & 0x80);
    *v = r;
    return p;
}

size_t fake_message(unsigned i, uint8_t *out) {
    size_t n = 0;
    if (fk.nreq - i > FAKE_MAX_REQUESTS) {
        check_fail(__FILE__, __LINE__, "request %u is no longer recorded", i);
        return 0;
    }
    for (; i < fk.nreq; i++) {
        const fake_request_t *r = &fake_requests[i % FAKE_MAX_REQUESTS];
        const uint8_t *p = r->body, *end = r->body + r->len;
        uint64_t id, x;
        uint8_t kind = *p++;
        p = test_uvarint(p, &id);
        if (kind != HONCH_FRAME_SINGLE) p = test_uvarint(p, &x); /* total or offset */
        if (kind == HONCH_FRAME_SINGLE || kind == HONCH_FRAME_FINAL) end -= 2;
        if (kind == HONCH_FRAME_SINGLE || kind == HONCH_FRAME_INIT) n = 0;
        memcpy(out + n, p, (size_t)(end - p));
        n += (size_t)(end - p);
        if (kind == HONCH_FRAME_SINGLE || kind == HONCH_FRAME_FINAL) return n;
    }
    return 0;
}

const char *fake_dump(unsigned i) {
    static uint8_t msg[8192];
    static char text[65536];
    size_t n = fake_message(i, msg);
    if (!n) return "(no message)";
    dump_message(msg, n, text, sizeof text);
    return text;
}

/* --- the property DSL ---------------------------------------------------------- */

static int dsl_token(honch_writer_t *w, const char *t, size_t n) {
    static char big[70000];
    char tmp[512];
    if (n >= sizeof tmp) return HONCH_STATUS_INTERNAL;
    memcpy(tmp, t, n);
    tmp[n] = 0;
    if (tmp[0] == '@' && tmp[1] == '*') {
        size_t len = strtoul(tmp + 2, NULL, 10);
        memset(big, 'k', len);
        return honch_w_key(w, big, len);
    }
    if (tmp[0] == '@') return honch_w_key(w, tmp + 1, n - 1);
    if (tmp[0] == 's' && tmp[1] == '*') {
        size_t len = strtoul(tmp + 2, NULL, 10);
        memset(big, 'x', len);
        return honch_w_str(w, big, len);
    }
    if (tmp[0] == 'B' && tmp[1] == '*') {
        size_t len = strtoul(tmp + 2, NULL, 10);
        memset(big, 0xA5, len);
        return honch_w_bytes(w, big, len);
    }
    if (tmp[0] == 's' && tmp[1] == '=') return honch_w_str(w, tmp + 2, n - 2);
    if (tmp[0] == 'u' && tmp[1] == '=') return honch_w_uint(w, strtoull(tmp + 2, NULL, 10));
    if (tmp[0] == 'i' && tmp[1] == '=') return honch_w_int(w, strtoll(tmp + 2, NULL, 10));
    if (tmp[0] == 'f' && tmp[1] == '=') return honch_w_f64(w, strtod(tmp + 2, NULL));
    if (tmp[0] == 'b' && tmp[1] == '=') {
        uint8_t b[256];
        size_t k = 0;
        for (size_t j = 2; j + 1 < n; j += 2) {
            char h[3] = {tmp[j], tmp[j + 1], 0};
            b[k++] = (uint8_t)strtoul(h, NULL, 16);
        }
        return honch_w_bytes(w, b, k);
    }
    if (tmp[0] == 'a') return honch_w_begin_array(w, strtoul(tmp + 1, NULL, 10));
    if (tmp[0] == 'm') return honch_w_begin_map(w, strtoul(tmp + 1, NULL, 10));
    if (!strcmp(tmp, "e")) return honch_w_end(w);
    if (!strcmp(tmp, "n")) return honch_w_null(w);
    if (!strcmp(tmp, "t")) return honch_w_bool(w, true);
    if (!strcmp(tmp, "F")) return honch_w_bool(w, false);
    return HONCH_STATUS_INTERNAL; /* a typo in a test */
}

int emit_dsl(void *ctx, honch_writer_t *w) {
    const char *s = ctx;
    while (*s) {
        while (*s == ' ') s++;
        const char *t = s;
        while (*s && *s != ' ') s++;
        if (s > t) {
            int st = dsl_token(w, t, (size_t)(s - t));
            if (st) return st;
        }
    }
    return HONCH_STATUS_OK;
}

int emit_dsl_value(void *ctx, honch_writer_t *w) { return emit_dsl(ctx, w); }

void fake_dump_bodies(void) {
    const char *path = getenv("HONCH_TEST_DUMP");
    if (!path || !fk.nreq) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    unsigned first = fk.nreq > FAKE_MAX_REQUESTS ? fk.nreq - FAKE_MAX_REQUESTS : 0;
    static char hex[2 * (HONCH_MAX_FRAME_BYTES + 16) + 1];
    for (unsigned i = first; i < fk.nreq; i++) {
        const fake_request_t *r = &fake_requests[i % FAKE_MAX_REQUESTS];
        check_hex(hex, r->body, r->len);
        fprintf(f, "%s %s %s\n", check_current, r->stream_id, hex);
    }
    fprintf(f, "--\n"); /* the end of one client's requests */
    fclose(f);
}

/* --- the client under test ---------------------------------------------------------- */

honch_client_t tc;
uint8_t tc_buffer[1 << 16];

honch_config_t tc_config(size_t buflen) {
    honch_config_t c = fake_config(tc_buffer, buflen);
    c.flush_min_interval_ms = HONCH_SPACING_DISABLED;
    return c;
}

int tc_track(const char *name, const char *dsl) {
    return honch_track(&tc, name, strlen(name), dsl ? emit_dsl : NULL, (void *)dsl);
}

honch_queue_stats_t tc_stats(void) {
    honch_queue_stats_t s;
    memset(&s, 0xEE, sizeof s);
    CHECK_EQ(honch_queue_stats(&tc, &s), HONCH_STATUS_OK);
    return s;
}

bool tc_stats_equal(const honch_queue_stats_t *a, const honch_queue_stats_t *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

const char *tc_flush(int want) {
    unsigned first = fk.nreq;
    int st = honch_flush(&tc, true);
    if (st != want) check_fail(__FILE__, __LINE__, "flush returned %d (%s), want %d", st, honch_status_text(st), want);
    return fake_dump(first);
}

unsigned fake_messages_since(unsigned from) {
    unsigned n = 0;
    for (unsigned i = from; i < fk.nreq; i++) {
        uint8_t kind = fake_requests[i % FAKE_MAX_REQUESTS].body[0];
        n += kind == HONCH_FRAME_SINGLE || kind == HONCH_FRAME_FINAL;
    }
    return n;
}
