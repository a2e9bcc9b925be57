/*
 * Construction, configuration (contract 2.1, 4), the event sources
 * (contract 2.2, 11) and enqueueing (contract 6).
 */
#include "honch_internal.h"

/* C99 compile-time check: the public size must hold the private state. */
typedef char hc_client_fits[(sizeof(hc_client_t) <= sizeof(honch_client_t)) ? 1 : -1];

#define HC_MS_PER_S 1000ull
#define HC_MAX_TIMESTAMP (1ull << 62) /* keeps every delta within int64 (W7.4) */

/* --- SDK-generated properties ---------------------------------------------- */

enum { SP_STR, SP_UINT, SP_TRUE };

typedef struct sprop {
    const char *key; /* reserved names map to their reserved ids */
    uint8_t kind;
    const char *s;
    size_t n;
    uint64_t u;
} sprop_t;

#define SESSION_CUR 0      /* the current session (if active) */
#define SESSION_EXPLICIT 1 /* ev.session */

/* One event to queue: validated and measured by prepare(), written by commit(). */
typedef struct ev {
    const char *name;
    size_t name_len;
    honch_emit_fn user; /* properties (or, with set_key, one value) */
    void *user_ctx;
    uint32_t user_max;
    const char *set_key;
    size_t set_key_len;
    const sprop_t *sp;
    uint32_t nsp;
    uint8_t no_auto;  /* $error: no auto properties, no battery */
    uint8_t no_check; /* no battery check after queueing */
    uint8_t session_mode;
    const char *distinct; /* NULL: the current one */
    size_t distinct_len;
    const char *session;
    int battery;
    uint64_t ts;
    uint32_t size;  /* measured record size */
    uint32_t fixed; /* bytes before the properties */
} ev_t;

static void call_emit(honch_writer_t *w, honch_emit_fn fn, void *ctx) {
    int st = fn(ctx, w);
    if (st && !w->status) honch_w_fail(w, st);
}

static void write_props(hc_client_t *c, const ev_t *e, honch_writer_t *w) {
    if (e->set_key) {
        hc_w_part(w, 0, 1);
        honch_w_key(w, e->set_key, e->set_key_len);
        if (e->user)
            call_emit(w, e->user, e->user_ctx);
        else
            honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        hc_w_finish_part(w);
    } else if (e->user) {
        hc_w_part(w, 0, e->user_max);
        call_emit(w, e->user, e->user_ctx);
        hc_w_finish_part(w);
    }
    hc_w_part(w, HC_W_SDK, HONCH_MAX_PROPERTIES);
    for (uint32_t i = 0; i < e->nsp; i++) {
        const sprop_t *p = &e->sp[i];
        honch_w_key(w, p->key, strlen(p->key));
        if (p->kind == SP_STR)
            honch_w_str(w, p->s, p->n);
        else if (p->kind == SP_UINT)
            honch_w_uint(w, p->u);
        else
            honch_w_bool(w, true);
    }
    if (e->no_auto) return;
    if (c->plat.auto_properties) {
        hc_w_part(w, HC_W_DEDUPE, HONCH_MAX_PROPERTIES);
        call_emit(w, c->plat.auto_properties, c->plat.ctx);
        hc_w_finish_part(w);
    }
    if (e->battery >= 0) {
        hc_w_part(w, HC_W_SDK, 1);
        hc_w_reserved_key(w, HC_RID_BATTERY_LEVEL);
        hc_w_int_tag(w, e->battery);
    }
}

static uint64_t stamp(hc_client_t *c) {
    uint64_t t = c->plat.wall_ms(c->plat.ctx);
    if (t < HONCH_VALID_WALL_CLOCK_MS) {
        t = c->plat.monotonic_ms(c->plat.ctx);
        if (t == 0) t = 1;
    }
    return t > HC_MAX_TIMESTAMP ? HC_MAX_TIMESTAMP : t;
}

/* Identity the event is recorded under (contract 6.1). */
static void event_ident(const hc_client_t *c, const ev_t *e, hc_ident_t *id) {
    hc_ident_t tail;
    hc_q_tail_ident(c, &tail);
    id->distinct = e->distinct ? e->distinct : tail.distinct;
    id->distinct_len = e->distinct ? e->distinct_len : tail.distinct_len;
    if (e->session_mode == SESSION_EXPLICIT)
        id->session = e->session;
    else
        id->session = c->session_active ? tail.session : NULL;
}

/* Validate and measure (first pass). Nothing changes on failure. */
static int prepare(hc_client_t *c, ev_t *e) {
    honch_writer_t w;
    e->battery = -1;
    if (!e->no_auto && c->plat.battery_level) {
        c->building = 1;
        int b = c->plat.battery_level(c->plat.ctx);
        c->building = 0;
        if (b >= 0 && b <= 100) e->battery = b;
    }
    e->ts = stamp(c);
    e->fixed = HC_REC_HEADER + hc_uvarint_len(e->ts) + hc_uvarint_len(e->name_len) + (uint32_t)e->name_len + 1;
    hc_w_init(&w, NULL, 0);
    c->building = 1;
    write_props(c, e, &w);
    c->building = 0;
    if (w.status) return w.status;
    uint64_t size = (uint64_t)e->fixed + w.pos;
    if (size > c->max_event_bytes) return HONCH_STATUS_INVALID_ARGUMENT; /* C14 */
    if (size > c->cap) {                                                 /* C39 */
        c->oversized_rejected++;
        return HONCH_STATUS_QUEUE_FULL;
    }
    e->size = (uint32_t)size;
    return HONCH_STATUS_OK;
}

static void battery_check(hc_client_t *c, int level);

/* Make room and write (second pass). */
static int commit(hc_client_t *c, ev_t *e) {
    hc_ident_t want, tail;
    hc_ring_t plan;
    honch_writer_t w;
    uint32_t moff;
    if (c->next_seq == UINT64_MAX) { /* 6.1: the sequence counter is exhausted */
        c->enqueue_failures++;
        return HONCH_STATUS_QUEUE_FULL;
    }
    while (c->queued_events && c->queued_events >= c->max_queued_events) hc_q_pop(c, true);
    event_ident(c, e, &want);
    hc_q_tail_ident(c, &tail);
    bool marker = !hc_ident_eq(&want, &tail);
    uint32_t off = hc_q_make_room(c, marker ? hc_marker_size(&want) : 0, e->size, &moff, &plan);
    event_ident(c, e, &want); /* dropping may have moved the tail identity into the head copy */

    uint8_t *p = c->buf + off + HC_REC_HEADER;
    p = hc_put_uvarint(p, e->ts);
    p = hc_put_uvarint(p, e->name_len);
    memcpy(p, e->name, e->name_len);
    p += e->name_len;
    uint8_t *count = p++;
    hc_w_init(&w, p, e->size - e->fixed);
    c->building = 1;
    write_props(c, e, &w);
    c->building = 0;
    if (w.status) { /* the port emitted something else than it measured */
        c->enqueue_failures++;
        return HONCH_STATUS_INTERNAL;
    }
    *count = (uint8_t)w.top_count;
    hc_q_commit(c, &plan, moff, marker ? &want : NULL, off, e->fixed + w.pos);
    if (c->queued_events >= c->threshold) c->flush_requested = 1;
    if (!e->no_check && !e->no_auto) battery_check(c, e->battery);
    return HONCH_STATUS_OK;
}

static int enqueue(hc_client_t *c, ev_t *e) {
    int st = prepare(c, e);
    return st ? st : commit(c, e);
}

static void ev_init(ev_t *e, const char *name, const sprop_t *sp, uint32_t nsp) {
    memset(e, 0, sizeof *e);
    e->name = name;
    e->name_len = strlen(name);
    e->sp = sp;
    e->nsp = nsp;
}

int hc_enqueue_named(hc_client_t *c, const char *name) {
    ev_t e;
    ev_init(&e, name, NULL, 0);
    return enqueue(c, &e);
}

/* Contract 11.9. */
static void battery_check(hc_client_t *c, int level) {
    if (level < 0) return;
    if ((uint32_t)level >= c->battery_threshold) {
        c->battery_latch = 0;
    } else if (!c->battery_latch) {
        sprop_t sp = {"level", SP_UINT, NULL, 0, (uint64_t)level};
        ev_t e;
        ev_init(&e, "$battery_low", &sp, 1);
        e.no_check = 1;
        if (enqueue(c, &e) == HONCH_STATUS_OK) c->battery_latch = 1;
    }
}

/* --- configuration ------------------------------------------------------------ */

static bool text_ok(const honch_str_t *s, size_t max) {
    return s->ptr && s->len <= max && !hc_blank(s->ptr, s->len) && hc_utf8_valid(s->ptr, s->len);
}

static bool header_value_ok(const char *s, size_t n) {
    if (!s || !n) return false;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] < HONCH_HEADER_VALUE_MIN_BYTE || (uint8_t)s[i] > HONCH_HEADER_VALUE_MAX_BYTE) return false;
    return true;
}

static bool prefix_ci(const char *s, size_t n, const char *p) {
    size_t m = strlen(p);
    if (n < m) return false;
    for (size_t i = 0; i < m; i++)
        if ((s[i] | 0x20) != p[i] && s[i] != p[i]) return false;
    return true;
}

/* W3.1: scheme://host[:port][/path]; *base_len drops trailing '/'. */
static bool url_ok(const char *u, size_t n, size_t *base_len) {
    size_t i;
    if (!header_value_ok(u, n)) return false; /* no spaces or controls: it becomes the Host header */
    if (prefix_ci(u, n, "http://"))
        i = 7;
    else if (prefix_ci(u, n, "https://"))
        i = 8;
    else
        return false;
    size_t host = i;
    if (i < n && u[i] == '[') {
        while (i < n && u[i] != ']') i++;
        if (i == n || i == host + 1) return false; /* unclosed, or "[]": an empty host */
        i++;
    } else {
        while (i < n && u[i] != ':' && u[i] != '/' && u[i] != '?' && u[i] != '#' && u[i] != '@') {
            if (u[i] == '[' || u[i] == ']') return false;
            i++;
        }
    }
    if (i == host) return false;
    if (i < n && u[i] == ':') {
        uint32_t port = 0;
        size_t d = ++i;
        while (i < n && u[i] >= '0' && u[i] <= '9' && i - d < 5) port = port * 10 + (uint32_t)(u[i++] - '0');
        if (i == d || port < 1 || port > 65535) return false;
    }
    size_t path = i;
    if (i < n && u[i] != '/') return false; /* '@' (user info), '?', '#', junk after the port */
    for (; i < n; i++)
        if (u[i] == '?' || u[i] == '#') return false;
    while (n > path && u[n - 1] == '/') n--;
    *base_len = n;
    return true;
}

static uint32_t or_default(uint32_t v, uint32_t def) { return v ? v : def; }

static int configure(hc_client_t *c, const honch_config_t *cfg) {
    const honch_platform_t *pl = cfg->platform;
    static const honch_str_t def_url = {HONCH_DEFAULT_ENDPOINT_URL, sizeof(HONCH_DEFAULT_ENDPOINT_URL) - 1};
    static const honch_str_t def_env = {HONCH_DEFAULT_ENVIRONMENT, sizeof(HONCH_DEFAULT_ENVIRONMENT) - 1};
    size_t base_len;
    if (!pl || !pl->monotonic_ms || !pl->wall_ms || !pl->random_bytes || !pl->post) return HONCH_STATUS_INVALID_ARGUMENT;
    if (!header_value_ok(cfg->api_key.ptr, cfg->api_key.len) || !text_ok(&cfg->device_id, HONCH_MAX_DEVICE_ID_BYTES) ||
        !text_ok(&cfg->device_model, HONCH_MAX_CONFIG_STRING_BYTES) ||
        !text_ok(&cfg->firmware_version, HONCH_MAX_CONFIG_STRING_BYTES) ||
        !text_ok(&cfg->sdk_platform, HONCH_MAX_CONFIG_STRING_BYTES))
        return HONCH_STATUS_INVALID_ARGUMENT;
    c->environment = cfg->environment.ptr ? cfg->environment : def_env;
    c->url_base = cfg->endpoint_url.ptr ? cfg->endpoint_url : def_url;
    if (!text_ok(&c->environment, HONCH_MAX_CONFIG_STRING_BYTES) || !url_ok(c->url_base.ptr, c->url_base.len, &base_len))
        return HONCH_STATUS_INVALID_ARGUMENT;
    c->url_base.len = base_len;
    if (!cfg->event_buffer || !cfg->event_buffer_len) return HONCH_STATUS_INVALID_ARGUMENT;
    if (cfg->battery_low_threshold > HONCH_MAX_BATTERY_LOW_THRESHOLD) return HONCH_STATUS_INVALID_ARGUMENT;

    c->api_key = cfg->api_key;
    c->device_id = cfg->device_id;
    c->device_model = cfg->device_model;
    c->firmware_version = cfg->firmware_version;
    c->sdk_platform = cfg->sdk_platform;
    c->plat = *pl;
    /* Contract 4: 0 selects the default; clamps apply silently. */
    c->batch_size = or_default(cfg->batch_size, HONCH_DEFAULT_BATCH_SIZE);
    if (c->batch_size > HONCH_MAX_BATCH_SIZE) c->batch_size = HONCH_MAX_BATCH_SIZE;
    c->max_queued_events = or_default(cfg->max_queued_events, HONCH_DEFAULT_MAX_QUEUED_EVENTS);
    c->max_event_bytes = or_default(cfg->max_event_bytes, HONCH_DEFAULT_MAX_EVENT_BYTES);
    c->timeout_ms = or_default(cfg->transport_timeout_ms, HONCH_DEFAULT_TRANSPORT_TIMEOUT_MS);
    if (cfg->max_transport_timeout_ms && c->timeout_ms > cfg->max_transport_timeout_ms)
        c->timeout_ms = cfg->max_transport_timeout_ms;
    c->interval_ms = or_default(cfg->flush_interval_seconds, HONCH_DEFAULT_FLUSH_INTERVAL_SECONDS) * HC_MS_PER_S;
    c->min_interval_ms = or_default(cfg->flush_min_interval_ms, HONCH_DEFAULT_FLUSH_MIN_INTERVAL_MS);
    c->threshold = or_default(cfg->flush_event_threshold, HONCH_DEFAULT_FLUSH_EVENT_THRESHOLD);
    c->max_batches = or_default(cfg->flush_max_batches, HONCH_DEFAULT_FLUSH_MAX_BATCHES);
    c->retry_initial_ms = or_default(cfg->flush_retry_initial_ms, HONCH_DEFAULT_FLUSH_RETRY_INITIAL_MS);
    c->retry_max_ms = or_default(cfg->flush_retry_max_ms, HONCH_DEFAULT_FLUSH_RETRY_MAX_MS);
    if (c->retry_max_ms < c->retry_initial_ms) c->retry_max_ms = c->retry_initial_ms;
    c->battery_threshold = or_default(cfg->battery_low_threshold, HONCH_DEFAULT_BATTERY_LOW_THRESHOLD);
    return HONCH_STATUS_OK;
}

/* --- crash (contract 11.4) ------------------------------------------------------ */

static bool one_of(const honch_str_t *s, const char *const *list, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        if (s->ptr && hc_str_eq(s->ptr, s->len, list[i], strlen(list[i]))) return true;
    return false;
}

static bool hex32(const honch_str_t *s) {
    if (!s->ptr || s->len != HONCH_CRASH_ID_CHARS) return false;
    for (size_t i = 0; i < s->len; i++)
        if (!((s->ptr[i] >= '0' && s->ptr[i] <= '9') || (s->ptr[i] >= 'a' && s->ptr[i] <= 'f'))) return false;
    return true;
}

static const char *const crash_sources[] = {"none",           "panic",     "watchdog", "assert",
                                            "brownout",       "stack_overflow", "hardfault", "lockup",
                                            "exception",      "signal",    "unknown"};
static const char *const crash_severities[] = {"info", "warning", "fatal"};

/* String fields in table order, with their limits. */
static const struct {
    const char *key;
    uint8_t field; /* index into honch_crash_report_t viewed as honch_str_t[] */
    uint8_t max;
} crash_texts[] = {
    {"reset_reason", 2, HONCH_CRASH_RESET_REASON_MAX_BYTES},
    {"message", 3, HONCH_CRASH_MESSAGE_MAX_BYTES},
    {"component", 4, HONCH_CRASH_COMPONENT_MAX_BYTES},
    {"firmware_build_id", 5, HONCH_CRASH_FIRMWARE_BUILD_ID_MAX_BYTES},
    {"exception_cause", 6, HONCH_CRASH_EXCEPTION_CAUSE_MAX_BYTES},
    {"fault_pc", 7, HONCH_CRASH_FAULT_ADDRESS_MAX_BYTES},
    {"fault_addr", 8, HONCH_CRASH_FAULT_ADDRESS_MAX_BYTES},
    {"backtrace", 9, HONCH_CRASH_BACKTRACE_MAX_BYTES},
    {"task_name", 10, HONCH_CRASH_TASK_NAME_MAX_BYTES},
};

static const honch_str_t *crash_str(const honch_crash_report_t *r, unsigned field) {
    const honch_str_t *fields[] = {&r->source,    &r->severity,          &r->reset_reason,    &r->message,
                                   &r->component, &r->firmware_build_id, &r->exception_cause, &r->fault_pc,
                                   &r->fault_addr, &r->backtrace,        &r->task_name,       &r->crash_id};
    return fields[field];
}

honch_str_t *honch_crash_report_field(honch_crash_report_t *r, const char *key, size_t len) {
    static const char *const names[] = {"source",     "severity",  "reset_reason", "message",
                                        "component",  "firmware_build_id", "exception_cause", "fault_pc",
                                        "fault_addr", "backtrace", "task_name",    "crash_id"};
    if (!r || !key) return NULL;
    /* The published wrapper's report is {"message", "type", "backtrace"}. */
    if (hc_str_eq(key, len, "type", 4)) return &r->exception_cause;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (hc_str_eq(key, len, names[i], strlen(names[i]))) return (honch_str_t *)crash_str(r, i);
    return NULL;
}

static int queue_crash(hc_client_t *c, const honch_crash_report_t *r) {
    sprop_t sp[16];
    uint32_t n = 0;
    char id[HONCH_CRASH_ID_CHARS];
    const honch_str_t *src = &r->source, *sev = &r->severity;
    sp[n++] = (sprop_t){"source", SP_STR, one_of(src, crash_sources, 11) ? src->ptr : "unknown",
                        one_of(src, crash_sources, 11) ? src->len : 7, 0};
    sp[n++] = (sprop_t){"severity", SP_STR, one_of(sev, crash_severities, 3) ? sev->ptr : "fatal",
                        one_of(sev, crash_severities, 3) ? sev->len : 5, 0};
    for (unsigned i = 0; i < sizeof crash_texts / sizeof crash_texts[0]; i++) {
        const honch_str_t *s = crash_str(r, crash_texts[i].field);
        if (text_ok(s, crash_texts[i].max)) sp[n++] = (sprop_t){crash_texts[i].key, SP_STR, s->ptr, s->len, 0};
        if (i == 0 && r->summary_version) sp[n++] = (sprop_t){"summary_version", SP_UINT, NULL, 0, r->summary_version};
    }
    if (r->coredump_available) sp[n++] = (sprop_t){"coredump_available", SP_TRUE, NULL, 0, 0};
    if (hex32(&r->crash_id)) {
        memcpy(id, r->crash_id.ptr, HONCH_CRASH_ID_CHARS);
    } else {
        uint8_t rnd[HONCH_CRASH_ID_CHARS / 2];
        c->plat.random_bytes(c->plat.ctx, rnd, sizeof rnd);
        hc_hex(id, rnd, sizeof rnd);
    }
    sp[n++] = (sprop_t){"crash_id", SP_STR, id, HONCH_CRASH_ID_CHARS, 0};
    ev_t e;
    ev_init(&e, "$crash", sp, n);
    int st = enqueue(c, &e);
    if (st == HONCH_STATUS_OK) c->crash_done = 1;
    return st;
}

/* --- construction ----------------------------------------------------------------- */

static const honch_str_t *reason_or_null(const honch_str_t *s) {
    return text_ok(s, HONCH_CRASH_RESET_REASON_MAX_BYTES) ? s : NULL;
}

static int startup_events(hc_client_t *c, const honch_config_t *cfg) {
    char prev[HONCH_MAX_CONFIG_STRING_BYTES];
    size_t prev_len = 0;
    int st;
    const honch_str_t *fw = &c->firmware_version;
    if (c->plat.state_load &&
        c->plat.state_load(c->plat.ctx, "firmware_version", prev, sizeof prev, &prev_len) != HONCH_STATUS_OK)
        prev_len = 0; /* unreadable state: treat as absent */
    if (prev_len && prev_len <= sizeof prev && !hc_str_eq(prev, prev_len, fw->ptr, fw->len) &&
        hc_utf8_valid(prev, prev_len)) {
        sprop_t sp[2] = {{"previous_version", SP_STR, prev, prev_len, 0}, {"new_version", SP_STR, fw->ptr, fw->len, 0}};
        ev_t e;
        ev_init(&e, "$firmware_update", sp, 2);
        if ((st = enqueue(c, &e)) != HONCH_STATUS_OK) return st;
    }
    const honch_str_t *reason = cfg->crash_report ? reason_or_null(&cfg->crash_report->reset_reason) : NULL;
    if (!reason) reason = reason_or_null(&cfg->reset_reason);
    sprop_t boot = {"reset_reason", SP_STR, reason ? reason->ptr : "unknown", reason ? reason->len : 7, 0};
    ev_t e;
    ev_init(&e, "$device_boot", &boot, 1);
    if ((st = enqueue(c, &e)) != HONCH_STATUS_OK) return st;
    if (cfg->crash_report) queue_crash(c, cfg->crash_report); /* never fails construction */
    if (c->plat.state_store &&
        c->plat.state_store(c->plat.ctx, "firmware_version", fw->ptr, fw->len) != HONCH_STATUS_OK)
        return HONCH_STATUS_IO;
    return HONCH_STATUS_OK;
}

int honch_init(honch_client_t *client, const honch_config_t *cfg) {
    hc_client_t *c = HC(client);
    uint8_t rnd[16];
    char hex[32];
    if (!c) return HONCH_STATUS_INVALID_ARGUMENT;
    memset(c, 0, offsetof(hc_client_t, msg));
    if (!cfg) return HONCH_STATUS_INVALID_ARGUMENT;
    int st = configure(c, cfg);
    if (st) return st;

    c->plat.random_bytes(c->plat.ctx, rnd, sizeof rnd); /* W3.4 */
    hc_hex(hex, rnd, sizeof rnd);
    memcpy(c->stream_id, hex, HONCH_STREAM_ID_CHARS);
    c->seed = (uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 | (uint32_t)rnd[2] << 8 | rnd[3];

    hc_q_init(c, cfg->event_buffer, cfg->event_buffer_len);
    size_t n = 0;
    if (!c->plat.state_load ||
        c->plat.state_load(c->plat.ctx, "distinct_id", c->head_distinct, sizeof c->head_distinct, &n) != HONCH_STATUS_OK ||
        n > sizeof c->head_distinct || hc_blank(c->head_distinct, n) || !hc_utf8_valid(c->head_distinct, n)) {
        memcpy(c->head_distinct, c->device_id.ptr, c->device_id.len);
        n = c->device_id.len;
    }
    c->head_distinct_len = (uint16_t)n;

    c->backoff_ms = c->retry_initial_ms;
    c->next_interval_at = hc_add_sat(c->plat.monotonic_ms(c->plat.ctx), c->interval_ms);
    c->magic = HC_MAGIC;
    st = startup_events(c, cfg);
    if (st) {
        c->magic = 0; /* 2.1: a failed construction leaves nothing behind */
        c->closed = 1;
        return st;
    }
    c->flush_requested = c->queued_events >= c->threshold;
    return HONCH_STATUS_OK;
}

/* --- API ------------------------------------------------------------------------------- */

static int enter(const hc_client_t *c) {
    if (!c || c->magic != HC_MAGIC || c->closed) return HONCH_STATUS_NOT_INITIALIZED;
    return c->building ? HONCH_STATUS_BUSY : HONCH_STATUS_OK;
}

static bool name_ok(const char *s, size_t n, size_t max) {
    return s && n <= max && !hc_blank(s, n) && hc_utf8_valid(s, n);
}

int honch_track(honch_client_t *client, const char *name, size_t name_len, honch_emit_fn props, void *props_ctx) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st) return st;
    if (!name_ok(name, name_len, HONCH_MAX_NAME_BYTES)) return HONCH_STATUS_INVALID_ARGUMENT;
    ev_t e;
    ev_init(&e, "", NULL, 0);
    e.name = name;
    e.name_len = name_len;
    e.user = props;
    e.user_ctx = props_ctx;
    e.user_max = HONCH_MAX_PROPERTIES;
    return enqueue(c, &e);
}

static int store_distinct(hc_client_t *c, const char *id, size_t n) {
    if (!c->plat.state_store) return HONCH_STATUS_OK;
    if (hc_str_eq(id, n, c->device_id.ptr, c->device_id.len)) n = 0; /* the default needs no storage */
    return c->plat.state_store(c->plat.ctx, "distinct_id", id, n) == HONCH_STATUS_OK ? HONCH_STATUS_OK
                                                                                        : HONCH_STATUS_IO;
}

int honch_identify(honch_client_t *client, const char *id, size_t id_len, honch_emit_fn traits, void *traits_ctx) {
    hc_client_t *c = HC(client);
    char prev[HONCH_MAX_DISTINCT_ID_BYTES];
    hc_ident_t cur;
    int st = enter(c);
    if (st) return st;
    if (!name_ok(id, id_len, HONCH_MAX_DISTINCT_ID_BYTES)) return HONCH_STATUS_INVALID_ARGUMENT;
    hc_q_tail_ident(c, &cur);
    size_t prev_len = cur.distinct_len;
    memcpy(prev, cur.distinct, prev_len); /* the ring may be overwritten while queueing */
    sprop_t anon = {"$anon_distinct_id", SP_STR, prev, prev_len, 0};
    ev_t e;
    ev_init(&e, "$identify", &anon, 1);
    e.user = traits;
    e.user_ctx = traits_ctx;
    e.user_max = HONCH_MAX_TRAITS;
    e.no_check = 1;
    e.distinct = id;
    e.distinct_len = id_len;
    if ((st = prepare(c, &e)) != HONCH_STATUS_OK) return st;
    if ((st = store_distinct(c, id, id_len)) != HONCH_STATUS_OK) return st;
    if ((st = commit(c, &e)) != HONCH_STATUS_OK) store_distinct(c, prev, prev_len); /* 11.6: restore */
    return st;
}

int honch_set_property(honch_client_t *client, const char *key, size_t key_len, honch_emit_fn value_emit,
                       void *value_ctx) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st) return st;
    if (!key) return HONCH_STATUS_INVALID_ARGUMENT;
    ev_t e;
    ev_init(&e, "$set_property", NULL, 0);
    e.set_key = key;
    e.set_key_len = key_len;
    e.user = value_emit;
    e.user_ctx = value_ctx;
    return enqueue(c, &e);
}

int honch_session_start(honch_client_t *client, const char *name, size_t name_len) {
    hc_client_t *c = HC(client);
    char sid[HONCH_SESSION_ID_CHARS];
    uint8_t rnd[16];
    ev_t end, start;
    int st = enter(c);
    if (st) return st;
    if (name && !hc_utf8_valid(name, name_len)) return HONCH_STATUS_INVALID_ARGUMENT;
    bool named = name && !hc_blank(name, name_len);
    c->plat.random_bytes(c->plat.ctx, rnd, sizeof rnd);
    memcpy(sid, "sess_", 5);
    hc_hex(sid + 5, rnd, sizeof rnd);
    sprop_t sp = {"session_name", SP_STR, name, name_len, 0};
    ev_init(&end, "$session_end", NULL, 0);
    ev_init(&start, "$session_start", &sp, named);
    start.session_mode = SESSION_EXPLICIT;
    start.session = sid;
    /* Both are validated and measured before either is queued: a failure queues nothing. */
    if (c->session_active && (st = prepare(c, &end)) != HONCH_STATUS_OK) return st;
    if ((st = prepare(c, &start)) != HONCH_STATUS_OK) return st;
    if (c->session_active && (st = commit(c, &end)) != HONCH_STATUS_OK) return st;
    if ((st = commit(c, &start)) != HONCH_STATUS_OK) return st;
    c->session_active = 1;
    return HONCH_STATUS_OK;
}

int honch_session_end(honch_client_t *client) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st || !c->session_active) return st;
    if ((st = hc_enqueue_named(c, "$session_end")) == HONCH_STATUS_OK) c->session_active = 0;
    return st;
}

int honch_report_log_error(honch_client_t *client, const char *message, size_t message_len, const char *component,
                           size_t component_len) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st) return st;
    if (!name_ok(message, message_len, SIZE_MAX) || (component && !hc_utf8_valid(component, component_len)))
        return HONCH_STATUS_INVALID_ARGUMENT;
    if (!component || hc_blank(component, component_len)) component_len = 0;
    if (hc_str_eq(component, component_len, "honch", 5)) return HONCH_STATUS_OK; /* self-log guard */
    size_t ml = hc_utf8_cut(message, message_len, HONCH_ERROR_MESSAGE_CUT_BYTES);
    size_t cl = hc_utf8_cut(component, component_len, HONCH_ERROR_COMPONENT_CUT_BYTES);
    for (unsigned i = 0; i < c->err_used; i++) {
        hc_err_slot_t *s = &c->err[i];
        if (hc_str_eq(s->msg, s->msg_len, message, ml) && hc_str_eq(s->comp, s->comp_len, component, cl)) {
            if (s->count < UINT32_MAX) s->count++;
            return HONCH_STATUS_OK;
        }
    }
    if (c->err_used == HONCH_ERROR_SLOTS) {
        if (c->err_dropped < UINT32_MAX) c->err_dropped++;
        return HONCH_STATUS_OK;
    }
    hc_err_slot_t *s = &c->err[c->err_used++];
    s->count = 1;
    s->msg_len = (uint8_t)ml;
    s->comp_len = (uint8_t)cl;
    memcpy(s->msg, message, ml);
    if (cl) memcpy(s->comp, component, cl);
    return HONCH_STATUS_OK;
}

void hc_drain_errors(hc_client_t *c) {
    for (unsigned i = 0; i < c->err_used; i++) {
        const hc_err_slot_t *s = &c->err[i];
        sprop_t sp[5];
        uint32_t n = 0;
        sp[n++] = (sprop_t){"level", SP_STR, "error", 5, 0};
        if (s->comp_len) sp[n++] = (sprop_t){"component", SP_STR, s->comp, s->comp_len, 0};
        sp[n++] = (sprop_t){"message", SP_STR, s->msg, s->msg_len, 0};
        sp[n++] = (sprop_t){"count", SP_UINT, NULL, 0, s->count};
        if (i == 0 && c->err_dropped) sp[n++] = (sprop_t){"dropped", SP_UINT, NULL, 0, c->err_dropped};
        ev_t e;
        ev_init(&e, "$error", sp, n);
        e.no_auto = 1;
        e.no_check = 1;
        enqueue(c, &e); /* a failure is counted by the queue; the slot is drained regardless */
    }
    c->err_used = 0;
    c->err_dropped = 0;
}

int honch_report_crash(honch_client_t *client, const honch_crash_report_t *report) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st) return st;
    if (!report) return HONCH_STATUS_INVALID_ARGUMENT;
    if (c->crash_done) return HONCH_STATUS_OK;
    /* A Python exception (11.4): source "exception" when it names its type, and
     * str(exc) cut to the longest prefix within the limit, not left out. */
    honch_crash_report_t r = *report;
    if (!r.source.ptr && r.exception_cause.ptr) {
        r.source.ptr = "exception";
        r.source.len = 9;
    }
    if (r.message.ptr && hc_utf8_valid(r.message.ptr, r.message.len))
        r.message.len = hc_utf8_cut(r.message.ptr, r.message.len, HONCH_CRASH_MESSAGE_MAX_BYTES);
    return queue_crash(c, &r);
}

int honch_connectivity_changed(honch_client_t *client, bool connected) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    uint8_t state = connected ? 1 : 2;
    if (st || c->conn_state == state) return st;
    sprop_t sp = {"state", SP_STR, connected ? "connected" : "disconnected", connected ? 9 : 12, 0};
    ev_t e;
    ev_init(&e, "$connectivity_change", &sp, 1);
    if ((st = enqueue(c, &e)) != HONCH_STATUS_OK) return st;
    c->conn_state = state;
    if (connected) c->flush_requested = 1; /* 10.2: a deferred flush, no I/O here */
    return HONCH_STATUS_OK;
}

int honch_reset(honch_client_t *client) {
    hc_client_t *c = HC(client);
    int st = enter(c);
    if (st) return st;
    if (c->busy) return HONCH_STATUS_BUSY; /* 11.8: an upload is in progress */
    if ((st = store_distinct(c, c->device_id.ptr, c->device_id.len)) != HONCH_STATUS_OK) return st;
    hc_q_clear(c);
    c->msg_active = 0;
    memcpy(c->head_distinct, c->device_id.ptr, c->device_id.len);
    c->head_distinct_len = (uint16_t)c->device_id.len;
    c->head_session_len = 0;
    c->session_active = 0;
    c->battery_latch = 0;
    return HONCH_STATUS_OK;
}

int honch_get_device_id(const honch_client_t *client, const char **id, size_t *len) {
    const hc_client_t *c = HCC(client);
    if (!c || c->magic != HC_MAGIC || c->closed) return HONCH_STATUS_NOT_INITIALIZED;
    if (!id || !len) return HONCH_STATUS_INVALID_ARGUMENT;
    *id = c->device_id.ptr;
    *len = c->device_id.len;
    return HONCH_STATUS_OK;
}

int honch_queue_stats(const honch_client_t *client, honch_queue_stats_t *out) {
    const hc_client_t *c = HCC(client);
    if (!c || c->magic != HC_MAGIC || c->closed) return HONCH_STATUS_NOT_INITIALIZED;
    if (!out) return HONCH_STATUS_INVALID_ARGUMENT;
    out->queued_events = c->queued_events;
    out->queued_bytes = c->queued_bytes;
    out->buffer_bytes = c->cap;
    out->high_water_events = c->high_water_events;
    out->high_water_bytes = c->high_water_bytes;
    out->capacity_dropped_events = c->capacity_dropped;
    out->oversized_rejected_events = c->oversized_rejected;
    out->enqueue_failures = c->enqueue_failures;
    out->dead_lettered_events = c->dead_lettered;
    return HONCH_STATUS_OK;
}

const char *honch_stream_id(const honch_client_t *client) {
    const hc_client_t *c = HCC(client);
    return c && c->magic == HC_MAGIC ? c->stream_id : "";
}
